// Elbow sweep from Node: MiniBatchKMeans for k = K_MIN..K_MAX on one n x d X, reading
// inertia_ after each fit, three ways:
//  (a) X sent with every fit (a Float64Array, { data, shape });
//  (b) X uploaded once per sweep with py.dataset(X) and passed as the handle (the upload
//      is counted in the sweep's time);
//  (c) the same fits in process in Python (inprocess.py, the server's estimator).
// The three alternate fit by fit (k: a, b, c; next k...), so a shared machine's load hits
// them alike. Prints each sweep's total, (a)/(c) and (b)/(c) per repeat (range, median),
// and checks that the three give identical inertias.
//
//   node bench/ts_e2e/sweep.mjs [--n 1000000] [--d 32] [--k-min 2] [--k-max 16] [--repeats 3] [--python PATH]
// Needs clients/ts built (cd clients/ts && npm ci && npm run build).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { cli, loadClient, makeBlobs, median, range, root, secs, seconds, startInProcess, table } from './common.mjs'

const args = cli()
const N = Number(args.value('--n', '1000000'))
const D = Number(args.value('--d', '32'))
const K_MIN = Number(args.value('--k-min', '2'))
const K_MAX = Number(args.value('--k-max', '16'))
const REPEATS = Number(args.value('--repeats', '3'))
const PYTHON = args.value('--python', process.env.SKBRIDGE_PYTHON ?? join(root, '.venv/bin/python'))

const { createPythonBridge, MiniBatchKMeans } = await loadClient()

async function fitFromNode(py, X, k) {
  const t0 = process.hrtime.bigint()
  const model = new MiniBatchKMeans({ n_clusters: k, random_state: 0 })
  await model.init(py)
  await model.fit({ X })
  const inertia = await model.inertia_
  await model.dispose()
  return { seconds: seconds(t0), inertia }
}

const data = makeBlobs(N, D, 8, 42)
const X = { data, shape: [N, D] }
const work = mkdtempSync(join(tmpdir(), 'skbridge-sweep-'))
const path = join(work, 'X.f64')
writeFileSync(path, new Uint8Array(data.buffer))

const runs = { sent: [], handle: [], upload: [], inproc: [] }
const inertias = { sent: [], handle: [], inproc: [] }
const inproc = startInProcess(PYTHON, path, N, D)
const py = await createPythonBridge({ python: PYTHON, cwd: root, serverOutput: 'ignore' })
try {
  await inproc.ready
  // Warm-up: imports and first allocations in the server.
  await fitFromNode(py, { data: data.subarray(0, 20_000 * D), shape: [20_000, D] }, K_MIN)
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint()
    const handle = await py.dataset(X)
    const upload = seconds(t0)
    const total = { sent: 0, handle: upload, inproc: 0 }
    for (const key of Object.keys(inertias)) inertias[key] = []
    for (let k = K_MIN; k <= K_MAX; k++) {
      for (const [key, fit] of [
        ['sent', () => fitFromNode(py, X, k)],
        ['handle', () => fitFromNode(py, handle, k)],
        ['inproc', () => inproc.fit(k)],
      ]) {
        const res = await fit()
        total[key] += res.seconds
        inertias[key].push(res.inertia)
      }
    }
    await handle.dispose()
    for (const key of Object.keys(total)) runs[key].push(total[key])
    runs.upload.push(upload)
    console.error(`repeat ${r + 1}/${REPEATS}: sent ${secs(total.sent)}, handle ${secs(total.handle)} (upload ${secs(upload)}), in process ${secs(total.inproc)}`)
  }
} finally {
  await py.disconnect()
  await inproc.stop()
  rmSync(work, { recursive: true, force: true })
}

const same = JSON.stringify(inertias.sent) === JSON.stringify(inertias.inproc) && JSON.stringify(inertias.handle) === JSON.stringify(inertias.inproc)
const ratios = (xs) => xs.map((x, i) => x / runs.inproc[i])
const ratioCell = (xs) => `${median(ratios(xs)).toFixed(2)} (${range(ratios(xs))})`
const tag = N >= 1e6 ? `${N / 1e6}M` : `${N / 1e3}k`
console.log(`\nElbow sweep k = ${K_MIN}..${K_MAX} on ${tag} x ${D} (node ${process.version}, ${REPEATS} repeat(s); fits alternate a, b, c; median (range of per-repeat ratios))\n`)
table(
  [
    ['sweep', 'time', 'ratio to (c)', 'note'],
    ['(a) X sent with every fit', secs(median(runs.sent)), ratioCell(runs.sent), 'Float64Array { data, shape }'],
    ['(b) dataset handle', secs(median(runs.handle)), ratioCell(runs.handle), `includes py.dataset(X): ${secs(median(runs.upload))}; target <= 1.1`],
    ['(c) in process (Python)', secs(median(runs.inproc)), '1.00', 'inprocess.py'],
  ],
  [28, 10, 20, 44],
)
console.log(`\ninertias of (a), (b) and (c) ${same ? 'are identical' : 'DIFFER'}.`)
if (!same) process.exitCode = 1
