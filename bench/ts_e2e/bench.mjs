// End-to-end benchmark of the skbridge TypeScript client. Not part of the test run.
//
//   node bench/ts_e2e/bench.mjs [--quick] [--repeats N] [--python PATH]
//
// Prints one table:
//  1. fit + labels_ from Node (X sent as a Float64Array, labels back as number[]) for
//     100k x 32 and 1M x 32 blobs, against the same fit in process in Python (the server's
//     estimator, timed by inprocess.py on the same bytes); ratio = e2e / in-process. At
//     100k also with number[][] input. The fits alternate (Float64Array, number[][], in
//     process; next repeat...) so a shared machine's load hits them alike.
//  2. accessor round trip (`await model.n_iter_`, 1000x): p50 / p99.
//  3. server memory above the idle server, per size, each on a fresh server warmed up by
//     a small fit: (peak RSS - idle RSS) / bytes of X, for a fit + labels_ with X sent and
//     for py.dataset(X) + fit + labels_ + predict on the handle.
// Needs clients/ts built (cd clients/ts && npm ci && npm run build).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { cli, loadClient, makeBlobs, mb, median, pct, procBytes, range, resetPeak, root, secs, seconds, startInProcess, table } from './common.mjs'

const { createPythonBridge, MiniBatchKMeans } = await loadClient()

const args = cli()
const QUICK = args.flag('--quick')
const REPEATS = Number(args.value('--repeats', QUICK ? '1' : '5'))
const PYTHON = args.value('--python', process.env.SKBRIDGE_PYTHON ?? join(root, '.venv/bin/python'))
const SIZES = QUICK ? [100_000] : [100_000, 1_000_000]
const D = 32
const K = 8
const OPTIONS = { n_clusters: K, random_state: 0 }
const ACCESSOR_CALLS = 1000

const startServer = () => createPythonBridge({ python: PYTHON, cwd: root, serverOutput: 'ignore' })

async function fitOnce(py, X, n) {
  const model = new MiniBatchKMeans(OPTIONS)
  await model.init(py)
  const t0 = process.hrtime.bigint()
  await model.fit({ X })
  const labels = await model.labels_
  const dt = seconds(t0)
  if (labels.length !== n) throw new Error(`got ${labels.length} labels`)
  const nIter = await model.n_iter_
  await model.dispose()
  return { dt, nIter }
}

/** First call imports and allocates in the server. */
async function warmUp(py, data, n) {
  const m = Math.min(n, 20_000)
  await fitOnce(py, { data: data.subarray(0, m * D), shape: [m, D] }, m)
}

async function accessorLatency(py, data) {
  const model = new MiniBatchKMeans(OPTIONS)
  await model.init(py)
  await model.fit({ X: { data: data.subarray(0, 10_000 * D), shape: [10_000, D] } })
  for (let i = 0; i < 100; i++) await model.n_iter_ // warm-up
  const lat = []
  for (let i = 0; i < ACCESSOR_CALLS; i++) {
    const t0 = process.hrtime.bigint()
    await model.n_iter_
    lat.push(seconds(t0) * 1e6)
  }
  const pings = []
  for (let i = 0; i < ACCESSOR_CALLS; i++) {
    const t0 = process.hrtime.bigint()
    await py.ping()
    pings.push(seconds(t0) * 1e6)
  }
  await model.dispose()
  return { p50: pct(lat, 50), p99: pct(lat, 99), ping50: pct(pings, 50), ping99: pct(pings, 99) }
}

/**
 * Server memory above the idle server for `work(py)`, on a fresh server: idle = RSS after
 * a warm-up fit, peak = VmHWM after `work` (reset to the idle RSS first where the kernel
 * allows). Returns { idle, peak, marks } with any RSS marks `work` took.
 */
async function serverMemory(data, n, work) {
  const py = await startServer()
  try {
    await warmUp(py, data, n)
    await new Promise((r) => setTimeout(r, 200))
    const pid = py.pid
    const idle = procBytes(pid, 'VmRSS')
    const reset = resetPeak(pid)
    const marks = {}
    await work(py, (name) => (marks[name] = procBytes(pid, 'VmRSS')))
    return { idle, peak: procBytes(pid, 'VmHWM'), marks, reset }
  } finally {
    await py.disconnect()
  }
}

const rows = []
const work = mkdtempSync(join(tmpdir(), 'skbridge-bench-'))
try {
  for (const n of SIZES) {
    const data = makeBlobs(n, D, K, 42)
    const X = { data, shape: [n, D] }
    const path = join(work, `X-${n}.f64`)
    writeFileSync(path, new Uint8Array(data.buffer))
    // What scikit-learn-ts code passes: number[][] (packed into one Float64Array frame).
    const nested = n <= 100_000 ? Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * D, (i + 1) * D))) : undefined

    const inproc = startInProcess(PYTHON, path, n, D)
    const py = await startServer()
    const e2e = []
    const nestedTimes = []
    const base = { times: [], n_iter: undefined }
    let nIter
    let accessor
    try {
      await inproc.ready
      await warmUp(py, data, n)
      for (let r = 0; r < REPEATS; r++) {
        const res = await fitOnce(py, X, n)
        e2e.push(res.dt)
        nIter = res.nIter
        if (nested) nestedTimes.push((await fitOnce(py, nested, n)).dt)
        const inRes = await inproc.fit(K)
        base.times.push(inRes.seconds)
        base.n_iter = inRes.n_iter
      }
      accessor = n === SIZES[0] ? await accessorLatency(py, data) : undefined
    } finally {
      await py.disconnect()
      await inproc.stop()
    }
    rmSync(path)

    const sent = await serverMemory(data, n, async (py) => {
      await fitOnce(py, X, n)
    })
    const held = await serverMemory(data, n, async (py, mark) => {
      const handle = await py.dataset(X)
      mark('stored')
      const model = new MiniBatchKMeans(OPTIONS)
      await model.init(py)
      await model.fit({ X: handle })
      await model.labels_
      const labels = await model.predict({ X: handle })
      if (labels.length !== n) throw new Error(`got ${labels.length} labels`)
      await model.dispose()
      await handle.dispose()
    })
    rows.push({ n, e2e, inproc: base.times, nIter, baseIter: base.n_iter, nestedTimes, accessor, bytes: data.byteLength, sent, held })
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

const tagOf = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`)
const cells = [['measurement', 'node e2e', 'python in-proc', 'ratio', 'note']]
for (const r of rows) {
  const inproc = median(r.inproc)
  // Each repeat's e2e time over the in-process time of the same repeat.
  const ratios = (xs) => xs.map((x, i) => x / r.inproc[i])
  const ratio = (xs) => `${median(ratios(xs)).toFixed(2)} (${range(ratios(xs))})`
  cells.push([`fit + labels_ ${tagOf(r.n)} x ${D} (Float64Array)`, secs(median(r.e2e)), secs(inproc), ratio(r.e2e), `n_iter ${r.nIter} vs ${r.baseIter}`])
  if (r.nestedTimes.length > 0) {
    cells.push([`fit + labels_ ${tagOf(r.n)} x ${D} (number[][])`, secs(median(r.nestedTimes)), secs(inproc), ratio(r.nestedTimes), 'includes packing number[][]; target <= 1.3'])
  }
}
for (const r of rows) {
  if (!r.accessor) continue
  const a = r.accessor
  cells.push([`await model.n_iter_ x${ACCESSOR_CALLS} p50 / p99`, `${a.p50.toFixed(0)} / ${a.p99.toFixed(0)} µs`, '', '', 'target p50 < 200 µs'])
  cells.push([`py.ping() x${ACCESSOR_CALLS} p50 / p99`, `${a.ping50.toFixed(0)} / ${a.ping99.toFixed(0)} µs`, '', '', ''])
}
for (const r of rows) {
  const above = (m) => ((m.peak - m.idle) / r.bytes).toFixed(2)
  cells.push([`server peak - idle, fit X sent ${tagOf(r.n)}`, mb(r.sent.peak - r.sent.idle), '', above(r.sent), `X = ${mb(r.bytes)}, idle ${mb(r.sent.idle)}; target <= 1.3`])
  const stored = r.held.marks.stored - r.held.idle
  cells.push([
    `server peak - idle, handle ${tagOf(r.n)}`,
    mb(r.held.peak - r.held.idle),
    '',
    above(r.held),
    `dataset + fit + labels_ + predict; stored ${mb(stored)}, peak - stored ${mb(r.held.peak - r.held.marks.stored)}`,
  ])
}
console.log(`\nskbridge TypeScript end to end (node ${process.version}, ${REPEATS} repeat(s), median (range); MiniBatchKMeans n_clusters=${K}, random_state=0, d=${D})\n`)
table(cells, [40, 16, 14, 16, 40])
console.log('\nratio: median of the per-repeat e2e / in-process (range in brackets); (server peak RSS - idle RSS) / bytes of X for memory.')
if (rows.some((r) => !r.sent.reset || !r.held.reset)) console.log('note: VmHWM could not be reset after the warm-up; peaks include it.')
