/** Shared test helpers: paths, the Python used for the real server, a fake ROUTER server. */

import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { decode, encode } from '@msgpack/msgpack'
import { Router } from 'zeromq'

import { type BridgeOptions, type PythonBridge, createPythonBridge } from '../src/index.js'

const here = dirname(fileURLToPath(import.meta.url))
/** clients/ts (tests run from dist-test/test). */
export const PKG_ROOT = resolve(here, '../..')
/** The repository root (where `python -m bridge` finds the server package). */
export const REPO_ROOT = resolve(PKG_ROOT, '../..')

/** Python for the real server: SKBRIDGE_PYTHON (CI), else the local checkout's venv. */
export const PYTHON = process.env.SKBRIDGE_PYTHON ?? join(REPO_ROOT, '.venv/bin/python')

/** Scales every time limit in the tests (slow CI machines): SKBRIDGE_TEST_TIME_SCALE=3. */
export const TIME_SCALE = Number(process.env.SKBRIDGE_TEST_TIME_SCALE ?? '1') || 1

/** Milliseconds scaled by {@link TIME_SCALE}. */
export function ms(n: number): number {
  return Math.round(n * TIME_SCALE)
}

/** Bridge options for a real server started from the repository checkout. */
export function serverOptions(extra: BridgeOptions = {}): BridgeOptions {
  // Servers' logs would interleave with the test report; tests that need them pass their own.
  return { python: PYTHON, cwd: REPO_ROOT, startupTimeout: ms(30_000), serverOutput: 'ignore', ...extra }
}

/** Starts a real server. */
export function startBridge(extra: BridgeOptions = {}): Promise<PythonBridge> {
  return createPythonBridge({ ...serverOptions(extra), ndarray: false })
}

/** A fresh private temporary directory. */
export function tempDir(prefix = 'skbridge-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/**
 * Writes a fake `bridge` package (`bridge/__main__.py` with `body`) in a temp dir and
 * returns the directory, to be used as `cwd` with the real Python.
 */
export function fakeBridgeModule(body: string): string {
  const dir = tempDir('skbridge-fake-')
  mkdirSync(join(dir, 'bridge'))
  writeFileSync(join(dir, 'bridge', '__init__.py'), '')
  writeFileSync(join(dir, 'bridge', '__main__.py'), body)
  return dir
}

/**
 * Runs a Python script with the test Python, passing `input` as JSON on stdin, and parses
 * the JSON it prints.
 */
export function runPython<T>(script: string, input: unknown): T {
  const out = execFileSync(PYTHON, ['-c', script], {
    input: JSON.stringify(input),
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: REPO_ROOT,
  })
  return JSON.parse(out.toString('utf8')) as T
}

/** `true` when the test Python exists and can import the server package. */
export function realServerAvailable(): boolean {
  if (!existsSync(PYTHON)) return false
  try {
    execFileSync(PYTHON, ['-c', 'import bridge.__main__'], { cwd: REPO_ROOT, stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Gaussian blobs as rows: `nPerCluster` points around each of `centers`. */
export function blobs(centers: number[][], nPerCluster: number, seed: number, spread = 0.5): number[][] {
  const rand = prng(seed)
  const gauss = (): number => {
    const u = Math.max(rand(), 1e-12)
    const v = rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
  const rows: number[][] = []
  for (let i = 0; i < nPerCluster; i++) {
    for (const c of centers) rows.push(c.map((x) => x + spread * gauss()))
  }
  return rows
}

export interface FakeRequest {
  identity: Buffer
  header: Record<string, unknown>
  frames: Buffer[]
}

/**
 * A minimal ROUTER server speaking the reply envelope, for transport tests. Requests are
 * collected in `requests`; `reply()` answers any of them, in any order.
 */
export class FakeServer {
  readonly socket = new Router({ linger: 0 })
  readonly requests: FakeRequest[] = []
  endpoint = ''
  private waiters: Array<() => void> = []

  async start(): Promise<this> {
    await this.socket.bind('tcp://127.0.0.1:*')
    this.endpoint = this.socket.lastEndpoint ?? ''
    void this.loop()
    return this
  }

  private async loop(): Promise<void> {
    for (;;) {
      let parts: Buffer[]
      try {
        parts = await this.socket.receive()
      } catch {
        return
      }
      const [identity, head, ...frames] = parts
      if (!identity || !head) continue
      this.requests.push({ identity, header: decode(head) as Record<string, unknown>, frames })
      const w = this.waiters
      this.waiters = []
      for (const f of w) f()
    }
  }

  /** Resolves once at least `n` requests have arrived. */
  async waitFor(n: number): Promise<void> {
    while (this.requests.length < n) await new Promise<void>((r) => this.waiters.push(r))
  }

  /** Resolves with the first request whose `op` is `op` (wait for it if needed). */
  async waitOp(op: string): Promise<FakeRequest> {
    for (;;) {
      const found = this.requests.find((r) => r.header.op === op)
      if (found) return found
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }

  async reply(req: FakeRequest, header: Record<string, unknown>, frames: Buffer[] = []): Promise<void> {
    await this.socket.send([req.identity, Buffer.from(encode({ v: 1, id: req.header.id, ...header })), ...frames])
  }

  async ok(req: FakeRequest, result: unknown, frames: Buffer[] = []): Promise<void> {
    await this.reply(req, { ok: true, result }, frames)
  }

  close(): void {
    this.socket.close()
  }
}
