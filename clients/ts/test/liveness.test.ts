import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'

import { BridgeDisconnectedError, MiniBatchKMeans, ServerExitedError, UnknownInstanceError, createPythonBridge } from '../src/index.js'
import { PYTHON, REPO_ROOT, blobs, ms, startBridge, tempDir } from './helpers.js'

const SLOW = { n_clusters: 50, max_iter: 10_000, max_no_improvement: null, tol: 0, batch_size: 2048, random_state: 0 } as const

function noise(rows: number, cols: number): { data: Float64Array; shape: [number, number] } {
  const data = new Float64Array(rows * cols)
  let s = 99
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    data[i] = s / 2 ** 32
  }
  return { data, shape: [rows, cols] }
}

/** A server started by the test itself (not by a bridge) on a fixed endpoint. */
async function serveAt(endpoint: string): Promise<ChildProcess> {
  const child = spawn(PYTHON, ['-m', 'bridge', 'serve', '--endpoint', endpoint], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready line')), ms(30_000))
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (l) => {
      clearTimeout(timer)
      resolve(l)
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}`)))
  })
  assert.equal((JSON.parse(line) as { event: string }).event, 'ready')
  child.stdout?.resume()
  return child
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await gone
}

describe('liveness', () => {
  it('a frozen server (SIGSTOP) fails the pending calls within the heartbeat timeout, whatever their own timeout', async () => {
    const py = await startBridge({ heartbeat: { interval: ms(200), timeout: ms(1000) } })
    const pid = py.pid as number
    try {
      const m = new MiniBatchKMeans(SLOW)
      await m.init(py)
      const calls = Promise.all([assert.rejects(m.fit({ X: noise(20_000, 8) }, { timeout: 0 }), BridgeDisconnectedError), assert.rejects(m.n_iter_, BridgeDisconnectedError)])
      await py.ping() // both have reached the server
      process.kill(pid, 'SIGSTOP')
      const stoppedAt = performance.now()
      await calls
      console.log(`pending calls rejected ${(performance.now() - stoppedAt).toFixed(0)} ms after SIGSTOP (heartbeat timeout ${ms(1000)} ms)`)
      assert.equal(py.isConnected, true, 'the bridge itself stays usable')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    // Once the server runs again, the bridge reconnects by itself.
    assert.equal((await py.ping({ timeout: ms(20_000) })).pong, true)
    await py.disconnect()
  })
})

describe('reconnection', () => {
  for (const kind of ['ipc', 'tcp'] as const) {
    it(`a bridge made with { endpoint } survives a server restart on the same ${kind} endpoint`, async () => {
      const endpoint = kind === 'ipc' ? `ipc://${join(tempDir(), 'sock')}` : `tcp://127.0.0.1:${await freePort()}`
      let server = await serveAt(endpoint)
      const py = await createPythonBridge({ endpoint, heartbeat: { interval: ms(200), timeout: ms(1000) } })
      try {
        const X = blobs([[0, 0], [5, 5]], 20, 3)
        const old = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
        await old.init(py)
        await old.fit({ X })
        const slow = new MiniBatchKMeans(SLOW)
        await slow.init(py)
        const pending = assert.rejects(slow.fit({ X: noise(20_000, 8) }), BridgeDisconnectedError)
        await py.ping()
        await killed(server)
        await pending

        server = await serveAt(endpoint)
        assert.equal((await py.ping({ timeout: ms(20_000) })).pong, true)
        // The new server does not know the old instances...
        await assert.rejects(old.predict({ X }), UnknownInstanceError)
        // ...and new ones work on the same bridge.
        const fresh = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
        await fresh.init(py)
        await fresh.fit({ X })
        assert.equal((await fresh.predict({ X })).length, X.length)
      } finally {
        await py.disconnect()
        await killed(server)
      }
    })
  }

  it('a spawned server that exits is reported, then restarted with { restart: true }', async () => {
    const py = await startBridge({ restart: true })
    try {
      const first = py.pid as number
      const X = blobs([[0, 0], [5, 5]], 20, 4)
      const m = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
      await m.init(py)
      await m.fit({ X })
      const slow = new MiniBatchKMeans(SLOW)
      await slow.init(py)
      const pending = assert.rejects(slow.fit({ X: noise(20_000, 8) }), (e: unknown) => e instanceof ServerExitedError && e.signal === 'SIGKILL')
      await py.ping()
      process.kill(first, 'SIGKILL')
      await pending

      assert.equal((await py.ping({ timeout: ms(30_000) })).pong, true)
      assert.equal(py.restarts, 1)
      assert.notEqual(py.pid, first)
      assert.equal(py.isConnected, true)
      await assert.rejects(m.predict({ X }), UnknownInstanceError)
      const again = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
      await again.init(py)
      await again.fit({ X })
      assert.equal((await again.predict({ X })).length, X.length)
    } finally {
      await py.disconnect()
    }
  })
})

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}
