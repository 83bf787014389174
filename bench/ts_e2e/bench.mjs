// End-to-end benchmark of the skbridge TypeScript client. Not part of the test run.
//
//   node bench/ts_e2e/bench.mjs [--quick] [--repeats N] [--python PATH]
//
// Prints one table:
//  1. fit + labels_ from Node (X sent as a Float64Array, labels back as number[]) for
//     100k x 32 and 1M x 32 blobs, against the same fit in process in Python (the server's
//     estimator, timed by inprocess.py on the same bytes); ratio = e2e / in-process.
//  2. accessor round trip (`await model.n_iter_`, 1000x): p50 / p99.
//  3. peak server memory (VmHWM of the server process, fresh server per size) against the
//     size of X; ratio = peak / data bytes.
// Needs clients/ts built (cd clients/ts && npm ci && npm run build).

import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const { createPythonBridge, MiniBatchKMeans } = await import(join(root, 'clients/ts/dist/index.js'))

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const value = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
}
const QUICK = flag('--quick')
const REPEATS = Number(value('--repeats', QUICK ? '1' : '5'))
const PYTHON = value('--python', process.env.SKBRIDGE_PYTHON ?? join(root, '.venv/bin/python'))
const SIZES = QUICK ? [100_000] : [100_000, 1_000_000]
const D = 32
const K = 8
const OPTIONS = { n_clusters: K, random_state: 0 }
const ACCESSOR_CALLS = 1000

/** mulberry32 */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** n x d Gaussian blobs around k random centers in [-10, 10]^d, row-major float64. */
function makeBlobs(n, d, k, seed) {
  const rand = prng(seed)
  const centers = Array.from({ length: k * d }, () => 20 * rand() - 10)
  const data = new Float64Array(n * d)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * k)
    for (let j = 0; j < d; j++) {
      const u = Math.max(rand(), 1e-12)
      const v = rand()
      data[i * d + j] = centers[c * d + j] + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
    }
  }
  return data
}

function vmhwm(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmHWM:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) * 1024 : NaN
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`
const secs = (s) => `${s.toFixed(3)} s`

async function fitOnce(py, X, n) {
  const model = new MiniBatchKMeans(OPTIONS)
  await model.init(py)
  const t0 = process.hrtime.bigint()
  await model.fit({ X })
  const labels = await model.labels_
  const dt = Number(process.hrtime.bigint() - t0) / 1e9
  if (labels.length !== n) throw new Error(`got ${labels.length} labels`)
  const nIter = await model.n_iter_
  await model.dispose()
  return { dt, nIter }
}

const rows = []
const notes = []
const work = mkdtempSync(join(tmpdir(), 'skbridge-bench-'))
try {
  for (const n of SIZES) {
    const data = makeBlobs(n, D, K, 42)
    const X = { data, shape: [n, D] }
    const path = join(work, `X-${n}.f64`)
    writeFileSync(path, new Uint8Array(data.buffer))

    const py = await createPythonBridge({ python: PYTHON, cwd: root, serverOutput: 'ignore' })
    const pid = py.pid
    const idle = vmhwm(pid)
    // Warm-up: first call imports and allocates in the server.
    await fitOnce(py, { data: data.subarray(0, Math.min(n, 20_000) * D), shape: [Math.min(n, 20_000), D] }, Math.min(n, 20_000))

    const e2e = []
    let nIter
    for (let r = 0; r < REPEATS; r++) {
      const res = await fitOnce(py, X, n)
      e2e.push(res.dt)
      nIter = res.nIter
    }
    const peak = vmhwm(pid)

    let accessor
    if (n === SIZES[0]) {
      const model = new MiniBatchKMeans(OPTIONS)
      await model.init(py)
      await model.fit({ X: { data: data.subarray(0, 10_000 * D), shape: [10_000, D] } })
      for (let i = 0; i < 100; i++) await model.n_iter_ // warm-up
      const lat = []
      for (let i = 0; i < ACCESSOR_CALLS; i++) {
        const t0 = process.hrtime.bigint()
        await model.n_iter_
        lat.push(Number(process.hrtime.bigint() - t0) / 1e3)
      }
      const pings = []
      for (let i = 0; i < ACCESSOR_CALLS; i++) {
        const t0 = process.hrtime.bigint()
        await py.ping()
        pings.push(Number(process.hrtime.bigint() - t0) / 1e3)
      }
      accessor = { p50: pct(lat, 50), p99: pct(lat, 99), ping50: pct(pings, 50), ping99: pct(pings, 99) }
      await model.dispose()
    }
    let rowsInput
    if (n <= 100_000) {
      // What scikit-learn-ts code passes: number[][] (converted to one Float64Array frame).
      const nested = Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * D, (i + 1) * D)))
      const times = []
      for (let r = 0; r < REPEATS; r++) times.push((await fitOnce(py, nested, n)).dt)
      rowsInput = median(times)
    }

    await py.disconnect()

    const out = execFileSync(PYTHON, [join(here, 'inprocess.py'), path, String(n), String(D), String(REPEATS), JSON.stringify(OPTIONS)], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    })
    const base = JSON.parse(out.trim().split('\n').pop())
    const inproc = median(base.times)
    rows.push({ n, e2e: median(e2e), inproc, nIter, baseIter: base.n_iter, idle, peak, basePeak: base.peak_bytes, bytes: data.byteLength, rowsInput, accessor })
    rmSync(path)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

const line = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')
console.log(`\nskbridge TypeScript end to end (node ${process.version}, ${REPEATS} repeat(s), median; MiniBatchKMeans n_clusters=${K}, random_state=0, d=${D})\n`)
const w = [40, 16, 14, 6, 30]
console.log(line(['measurement', 'node e2e', 'python in-proc', 'ratio', 'note'], w))
console.log(line(w.map((n) => '-'.repeat(n)), w))
for (const r of rows) {
  const tag = r.n >= 1e6 ? `${r.n / 1e6}M` : `${r.n / 1e3}k`
  console.log(line([`fit + labels_ ${tag} x ${D} (Float64Array)`, secs(r.e2e), secs(r.inproc), (r.e2e / r.inproc).toFixed(2), `n_iter ${r.nIter} vs ${r.baseIter}`], w))
  if (r.rowsInput !== undefined) {
    console.log(line([`fit + labels_ ${tag} x ${D} (number[][])`, secs(r.rowsInput), secs(r.inproc), (r.rowsInput / r.inproc).toFixed(2), 'includes number[][] packing'], w))
  }
}
for (const r of rows) {
  if (!r.accessor) continue
  const a = r.accessor
  console.log(line([`await model.n_iter_ x${ACCESSOR_CALLS} p50 / p99`, `${a.p50.toFixed(0)} / ${a.p99.toFixed(0)} µs`, '', '', 'target p50 < 200 µs'], w))
  console.log(line([`py.ping() x${ACCESSOR_CALLS} p50 / p99`, `${a.ping50.toFixed(0)} / ${a.ping99.toFixed(0)} µs`, '', '', ''], w))
}
for (const r of rows) {
  const tag = r.n >= 1e6 ? `${r.n / 1e6}M` : `${r.n / 1e3}k`
  console.log(
    line(
      [`server peak RSS ${tag} (X = ${mb(r.bytes)})`, mb(r.peak), mb(r.basePeak), (r.peak / r.bytes).toFixed(2), `x data; idle ${mb(r.idle)}, +${((r.peak - r.idle) / r.bytes).toFixed(2)}x over idle`],
      w,
    ),
  )
}
console.log('\nratio column: e2e / in-process for times; server VmHWM / bytes of X for memory (python in-proc column: the baseline process peak RSS).')
for (const n of notes) console.log(n)
