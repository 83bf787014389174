// Elbow sweep from Node: MiniBatchKMeans for k = K_MIN..K_MAX on one n x d X, reading
// inertia_ after each fit, three ways in one run (each repeat runs all three in turn):
//  (a) X sent with every fit (a Float64Array, { data, shape });
//  (b) X uploaded once with py.dataset(X) and passed as the handle (upload included);
//  (c) the same sweep in process in Python (sweep_inprocess.py, the server's estimator).
// Prints the times, (a)/(c) and (b)/(c) per repeat (range and median), and checks that the
// three sweeps give the same inertias.
//
//   node bench/ts_e2e/sweep.mjs [--n 1000000] [--d 32] [--k-min 2] [--k-max 16] [--repeats 3] [--python PATH]
// Needs clients/ts built (cd clients/ts && npm ci && npm run build).

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { cli, here, loadClient, makeBlobs, median, range, root, secs, seconds, table } from './common.mjs'

const args = cli()
const N = Number(args.value('--n', '1000000'))
const D = Number(args.value('--d', '32'))
const K_MIN = Number(args.value('--k-min', '2'))
const K_MAX = Number(args.value('--k-max', '16'))
const REPEATS = Number(args.value('--repeats', '3'))
const PYTHON = args.value('--python', process.env.SKBRIDGE_PYTHON ?? join(root, '.venv/bin/python'))

const { createPythonBridge, MiniBatchKMeans } = await loadClient()

async function sweep(py, X) {
  const inertias = []
  for (let k = K_MIN; k <= K_MAX; k++) {
    const model = new MiniBatchKMeans({ n_clusters: k, random_state: 0 })
    await model.init(py)
    await model.fit({ X })
    inertias.push(await model.inertia_)
    await model.dispose()
  }
  return inertias
}

const data = makeBlobs(N, D, 8, 42)
const X = { data, shape: [N, D] }
const work = mkdtempSync(join(tmpdir(), 'skbridge-sweep-'))
const path = join(work, 'X.f64')
writeFileSync(path, new Uint8Array(data.buffer))

const runs = { sent: [], handle: [], upload: [], inproc: [] }
const inertias = {}
try {
  const py = await createPythonBridge({ python: PYTHON, cwd: root, serverOutput: 'ignore' })
  try {
    // Warm-up: imports and first allocations in the server.
    const warm = new MiniBatchKMeans({ n_clusters: K_MIN, random_state: 0 })
    await warm.init(py)
    await warm.fit({ X: { data: data.subarray(0, 20_000 * D), shape: [20_000, D] } })
    await warm.dispose()
    for (let r = 0; r < REPEATS; r++) {
      let t0 = process.hrtime.bigint()
      inertias.sent = await sweep(py, X)
      runs.sent.push(seconds(t0))

      t0 = process.hrtime.bigint()
      const handle = await py.dataset(X)
      runs.upload.push(seconds(t0))
      inertias.handle = await sweep(py, handle)
      await handle.dispose()
      runs.handle.push(seconds(t0))

      const out = execFileSync(PYTHON, [join(here, 'sweep_inprocess.py'), path, String(N), String(D), String(K_MIN), String(K_MAX), '1'], {
        cwd: root,
        encoding: 'utf8',
      })
      const base = JSON.parse(out.trim().split('\n').pop())
      runs.inproc.push(base.times[0])
      inertias.inproc = base.inertias
      console.error(`repeat ${r + 1}/${REPEATS}: sent ${secs(runs.sent[r])}, handle ${secs(runs.handle[r])}, in process ${secs(runs.inproc[r])}`)
    }
  } finally {
    await py.disconnect()
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

const same = JSON.stringify(inertias.sent) === JSON.stringify(inertias.inproc) && JSON.stringify(inertias.handle) === JSON.stringify(inertias.inproc)
const ratios = (xs) => xs.map((x, i) => x / runs.inproc[i])
const tag = N >= 1e6 ? `${N / 1e6}M` : `${N / 1e3}k`
console.log(`\nElbow sweep k = ${K_MIN}..${K_MAX} on ${tag} x ${D} (node ${process.version}, ${REPEATS} repeat(s); times: median, ratio: range and median of per-repeat ratios)\n`)
table(
  [
    ['sweep', 'time', 'ratio to (c)', 'note'],
    ['(a) X sent with every fit', secs(median(runs.sent)), `${range(ratios(runs.sent))} (${median(ratios(runs.sent)).toFixed(2)})`, 'Float64Array { data, shape }'],
    ['(b) dataset handle', secs(median(runs.handle)), `${range(ratios(runs.handle))} (${median(ratios(runs.handle)).toFixed(2)})`, `includes py.dataset(X): ${secs(median(runs.upload))}; target <= 1.1`],
    ['(c) in process (Python)', secs(median(runs.inproc)), '1.00', 'sweep_inprocess.py'],
  ],
  [28, 10, 22, 44],
)
console.log(`\ninertias of (a), (b) and (c) ${same ? 'are identical' : 'DIFFER'}.`)
if (!same) process.exitCode = 1
