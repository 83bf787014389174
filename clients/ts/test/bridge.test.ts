import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import {
  AbortedError,
  BridgeDisconnectedError,
  BridgeModuleMissingError,
  CancelledError,
  MiniBatchKMeans,
  PythonNotFoundError,
  RequestTimeoutError,
  ServerExitedError,
  ServerStartError,
  SkbridgeError,
  createPythonBridge,
} from '../src/index.js'
import { PYTHON, fakeBridgeModule, ms, startBridge, tempDir } from './helpers.js'

/** Uniform noise: no structure, so a fit with early stopping off runs for a long time. */
function noise(rows: number, cols: number): { data: Float64Array; shape: [number, number] } {
  const data = new Float64Array(rows * cols)
  let s = 12345
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    data[i] = s / 2 ** 32
  }
  return { data, shape: [rows, cols] }
}

const SLOW = { n_clusters: 50, max_iter: 10_000, max_no_improvement: null, tol: 0, batch_size: 2048, random_state: 0 } as const

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntil(cond: () => boolean, timeout: number): Promise<boolean> {
  const end = Date.now() + timeout
  while (Date.now() < end) {
    if (cond()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return cond()
}

describe('starting the server', () => {
  it('a missing Python executable rejects with PythonNotFoundError', async () => {
    await assert.rejects(createPythonBridge({ python: '/nonexistent/bin/python3' }), (e: unknown) => {
      assert.ok(e instanceof PythonNotFoundError)
      assert.equal(e.code, 'python_not_found')
      assert.equal(e.python, '/nonexistent/bin/python3')
      assert.match(e.message, /SKBRIDGE_PYTHON/)
      return true
    })
  })

  it('honours SKBRIDGE_PYTHON when no python option is given', async () => {
    const saved = process.env.SKBRIDGE_PYTHON
    process.env.SKBRIDGE_PYTHON = '/nonexistent/from-env/python'
    try {
      await assert.rejects(createPythonBridge({}), (e: unknown) => e instanceof PythonNotFoundError && e.python === '/nonexistent/from-env/python')
    } finally {
      if (saved === undefined) delete process.env.SKBRIDGE_PYTHON
      else process.env.SKBRIDGE_PYTHON = saved
    }
  })

  it('a Python without the bridge module rejects with BridgeModuleMissingError and its stderr', async () => {
    // The real interpreter, isolated (-I) and without site-packages (-S): it cannot import skbridge.
    const dir = tempDir()
    const wrapper = join(dir, 'python-without-skbridge')
    writeFileSync(wrapper, `#!/bin/sh\nexec "${PYTHON}" -I -S "$@"\n`)
    chmodSync(wrapper, 0o755)
    await assert.rejects(createPythonBridge({ python: wrapper, cwd: dir }), (e: unknown) => {
      assert.ok(e instanceof BridgeModuleMissingError)
      assert.ok(e instanceof ServerStartError)
      assert.equal(e.code, 'bridge_module_missing')
      assert.match(e.stderr, /No module named '?bridge'?/)
      assert.match(e.message, /No module named/)
      return true
    })
  })

  it('a server that exits early rejects with ServerStartError carrying its stderr', async () => {
    const cwd = fakeBridgeModule('import sys\nsys.stderr.write("boom: cannot start\\n")\nsys.exit(3)\n')
    await assert.rejects(createPythonBridge({ python: PYTHON, cwd }), (e: unknown) => {
      assert.ok(e instanceof ServerStartError)
      assert.equal(e.code, 'server_start_failed')
      assert.match(e.message, /exited with code 3/)
      assert.match(e.stderr, /boom: cannot start/)
      return true
    })
  })

  it('a server that prints something else than the ready line is rejected', async () => {
    const cwd = fakeBridgeModule('import time\nprint("hello", flush=True)\ntime.sleep(30)\n')
    await assert.rejects(createPythonBridge({ python: PYTHON, cwd }), (e: unknown) => e instanceof ServerStartError && /got: hello/.test(e.message))
  })

  it('a server that stays silent hits the startup timeout', async () => {
    // The fake server writes its pid, then sleeps; without the startup timeout it would exit
    // on its own after 30 s with a different error ("exited with code 0").
    const cwd = fakeBridgeModule('import os, sys, time\nsys.stderr.write(f"pid {os.getpid()}\\n")\nsys.stderr.flush()\ntime.sleep(30)\n')
    let pid = 0
    await assert.rejects(createPythonBridge({ python: PYTHON, cwd, startupTimeout: ms(2000) }), (e: unknown) => {
      assert.ok(e instanceof ServerStartError)
      assert.match(e.message, new RegExp(`printed no ready line within ${ms(2000)} ms`))
      pid = Number(/pid (\d+)/.exec(e.stderr)?.[1])
      return true
    })
    assert.ok(pid > 0, 'the fake server reported its pid')
    assert.ok(await waitUntil(() => !alive(pid), ms(5000)), 'the silent server was killed')
  })

  it('spawns, reports its pid, and stops the server on disconnect', async () => {
    const py = await startBridge()
    const pid = py.pid
    assert.ok(pid !== undefined && alive(pid))
    assert.match(py.endpoint, /^ipc:\/\//)
    assert.equal(py.isConnected, true)
    await py.disconnect()
    assert.equal(py.isConnected, false)
    assert.ok(await waitUntil(() => !alive(pid), ms(5000)), 'server process exited')
    await assert.rejects(py.ping(), BridgeDisconnectedError)
  })

  it('binds a loopback tcp endpoint when asked', async () => {
    const py = await startBridge({ bind: 'tcp://127.0.0.1:0' })
    assert.match(py.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/)
    assert.equal((await py.ping()).pong, true)
    await py.disconnect()
  })

  it('connects to a running server by endpoint and leaves it running on disconnect', async () => {
    const owner = await startBridge()
    const client = await createPythonBridge({ endpoint: owner.endpoint })
    assert.equal(client.pid, undefined)
    const m = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
    await m.init(client)
    await m.fit({ X: [[0, 0], [0, 1], [5, 5], [5, 6]] })
    assert.equal((await owner.instances()).filter((i) => i.instance === m.id).length, 1)
    await m.dispose()
    await client.disconnect()
    assert.equal((await owner.ping()).pong, true)
    await owner.disconnect()
  })

  it('passes the server output (verbose progress included) to serverOutput', async () => {
    let output = ''
    const py = await startBridge({ serverOutput: (text) => void (output += text) })
    const m = new MiniBatchKMeans({ n_clusters: 2, random_state: 0, verbose: 1 })
    await m.init(py)
    await m.fit({ X: [[0, 0], [0, 1], [5, 5], [5, 6], [0, 0.5], [5, 5.5]] })
    await py.disconnect()
    assert.match(output, /serving on /)
    assert.match(output, /Init 1\/1 with method k-means\+\+/)
    assert.match(output, /Minibatch step 1\/\d+: mean batch inertia: /)
  })

  it('an endpoint nobody serves rejects with ServerStartError', async () => {
    const sock = join(tempDir(), 'nobody.sock')
    await assert.rejects(createPythonBridge({ endpoint: `ipc://${sock}`, startupTimeout: ms(300) }), ServerStartError)
  })
})

describe('timeouts, aborts and a dying server', () => {
  it('per-call timeout and AbortSignal reject while the server keeps serving', async () => {
    const py = await startBridge()
    try {
      const X = noise(20_000, 8)
      // A long fit runs; the socket loop answers pings meanwhile, while a call on the same
      // instance waits behind the fit.
      const busy = new MiniBatchKMeans(SLOW)
      await busy.init(py)
      const running = busy.fit({ X })
      let queuedDone = false
      const queued = busy.n_iter_.finally(() => {
        queuedDone = true
      })
      assert.equal((await py.ping()).pong, true)
      assert.equal(queuedDone, false, 'the ping was answered while the fit still ran')

      // A call that times out or is aborted is cancelled: CancelledError, an AbortError.
      const slow = new MiniBatchKMeans(SLOW)
      await slow.init(py)
      await assert.rejects(slow.fit({ X }, { timeout: ms(150) }), (e: unknown) => {
        assert.ok(e instanceof CancelledError)
        assert.equal(e.code, 'cancelled')
        assert.equal(e.name, 'AbortError')
        assert.ok(e.cause instanceof RequestTimeoutError, 'the timeout is the cause')
        return true
      })
      const other = new MiniBatchKMeans(SLOW)
      await other.init(py)
      const ac = new AbortController()
      const p = other.fit({ X }, { signal: ac.signal })
      await py.ping() // the fit request has reached the server
      ac.abort()
      await assert.rejects(p, (e: unknown) => e instanceof CancelledError && e.name === 'AbortError' && e instanceof SkbridgeError)
      await assert.rejects(other.predict({ X }, { signal: AbortSignal.abort() }), CancelledError)
      // Requests that are not estimator calls are abandoned, not cancelled.
      await assert.rejects(py.info({ signal: AbortSignal.abort() }), (e: unknown) => e instanceof AbortedError && e.code === 'aborted')
      assert.equal((await py.ping()).pong, true)

      // A bridge-wide default timeout applies to every call.
      const strict = await createPythonBridge({ endpoint: py.endpoint, timeout: ms(100) })
      const third = new MiniBatchKMeans(SLOW)
      await third.init(strict, { timeout: ms(5000) })
      await assert.rejects(third.fit({ X }), CancelledError)
      await strict.disconnect()

      // disconnect() with calls in flight rejects them with BridgeDisconnectedError.
      const pending = Promise.all([assert.rejects(running, BridgeDisconnectedError), assert.rejects(queued, BridgeDisconnectedError)])
      await py.disconnect()
      await pending
    } finally {
      await py.disconnect()
    }
  })

  it('when the server dies mid-call, every pending call rejects with ServerExitedError', async () => {
    const py = await startBridge()
    const pid = py.pid as number
    const a = new MiniBatchKMeans(SLOW)
    const b = new MiniBatchKMeans(SLOW)
    await a.init(py)
    await b.init(py)
    const X = noise(20_000, 8)
    const calls = [a.fit({ X }), b.fit({ X }), a.n_iter_]
    await py.ping() // sent after them on the same socket: the three calls have reached the server
    assert.equal(py.pendingCount, 3)
    process.kill(pid, 'SIGKILL')
    for (const call of calls) {
      await assert.rejects(call, (e: unknown) => {
        assert.ok(e instanceof ServerExitedError)
        assert.equal(e.code, 'server_exited')
        assert.equal(e.signal, 'SIGKILL')
        assert.match(e.message, new RegExp(`pid ${pid}`))
        return true
      })
    }
    assert.equal(py.isConnected, false)
    await assert.rejects(a.predict({ X }), ServerExitedError)
    await assert.rejects(py.ping(), ServerExitedError)
    await py.disconnect() // still resolves
    await a.dispose() // nothing left to dispose: not an error
  })

  it('the server runs on the configured test Python', async () => {
    assert.ok(existsSync(PYTHON), `SKBRIDGE_PYTHON / .venv python not found: ${PYTHON}`)
    const expected = execFileSync(PYTHON, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim()
    const py = await startBridge()
    try {
      assert.equal((await py.info()).python, expected)
    } finally {
      await py.disconnect()
    }
  })
})
