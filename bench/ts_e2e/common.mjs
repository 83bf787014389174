// Shared pieces of the bench/ts_e2e scripts: data, server memory, timing and tables.

import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const root = resolve(here, '../..')

/** `--name value` and `--flag` from argv. */
export function cli(argv = process.argv.slice(2)) {
  return {
    flag: (name) => argv.includes(name),
    value: (name, fallback) => {
      const i = argv.indexOf(name)
      return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
    },
  }
}

/** mulberry32 */
export function prng(seed) {
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
export function makeBlobs(n, d, k, seed) {
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

/** A field of /proc/PID/status in bytes (VmRSS: now, VmHWM: peak). */
export function procBytes(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

/**
 * Resets the peak RSS (VmHWM) of a process we started to its current RSS (Linux
 * clear_refs); `false` when the kernel refuses.
 */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
export const range = (xs) => (xs.length > 1 ? `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}` : xs[0].toFixed(2))
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
export const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`
export const secs = (s) => `${s.toFixed(3)} s`
export const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

/** Prints rows of cells padded to `widths`, with a rule under the first. */
export function table(rows, widths) {
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')
  console.log(line(rows[0]))
  console.log(line(widths.map((n) => '-'.repeat(n))))
  for (const r of rows.slice(1)) console.log(line(r))
}

/** The built client: clients/ts/dist, or the dist folder in SKBRIDGE_BENCH_CLIENT (A/B runs). */
export async function loadClient() {
  return import(join(process.env.SKBRIDGE_BENCH_CLIENT ?? join(root, 'clients/ts/dist'), 'index.js'))
}

/**
 * The in-process baseline (inprocess.py) on the n x d float64 file at `path`: `fit(k)`
 * runs one fit there and resolves to `{ seconds, inertia, n_iter }`.
 */
export function startInProcess(python, path, n, d) {
  const child = spawn(python, [join(here, 'inprocess.py'), path, String(n), String(d)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error('inprocess.py exited')
    return value
  }
  return {
    ready: next(),
    async fit(k) {
      child.stdin.write(`${k}\n`)
      return JSON.parse(await next())
    },
    stop() {
      child.stdin.end()
      return new Promise((r) => child.once('exit', r))
    },
  }
}
