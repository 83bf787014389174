import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'

import { BridgeDisconnectedError, CancelledError, MiniBatchKMeans, type ProgressEvent, RequestTimeoutError, ServerError, SkbridgeError } from '../src/index.js'
import { Transport } from '../src/transport.js'
import { FakeServer, blobs, ms, startBridge } from './helpers.js'

/** Uniform noise: no structure, so a fit with early stopping off runs for a long time. */
function noise(rows: number, cols: number): { data: Float64Array; shape: [number, number] } {
  const data = new Float64Array(rows * cols)
  let s = 4242
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    data[i] = s / 2 ** 32
  }
  return { data, shape: [rows, cols] }
}

const SLOW = { n_clusters: 50, max_iter: 10_000, max_no_improvement: null, tol: 0, batch_size: 2048, random_state: 0 } as const

describe('progress and cancellation on the wire (fake server)', () => {
  it('asks for progress only with a callback, delivers interim messages in order, then the reply', async () => {
    const s = await new FakeServer().start()
    const t = await Transport.connect(s.endpoint, { session: 'sess-1', heartbeat: false })
    try {
      const plain = t.request({ op: 'call', instance: 'k', method: 'fit' })
      await s.waitFor(1)
      const first = s.requests[0]!
      assert.equal('progress' in first.header, false)
      assert.equal(first.header.session, 'sess-1')
      await s.ok(first, { instance: 'k' })
      await plain

      const seen: ProgressEvent[] = []
      const withProgress = t.request({ op: 'call', instance: 'k', method: 'fit' }, [], { onProgress: (e) => seen.push(e) })
      await s.waitFor(2)
      const req = s.requests[1]!
      assert.equal(req.header.progress, true)
      for (let step = 1; step <= 3; step++) {
        await s.reply(req, { progress: { step, steps: 3, batch_inertia: 10 - step, ewa_inertia: step === 1 ? null : 9, epoch: step / 3, elapsed: step / 10 } })
      }
      await s.ok(req, { instance: 'k' })
      const reply = await withProgress
      assert.equal(reply.header.ok, true)
      assert.deepEqual(seen.map((e) => e.step), [1, 2, 3])
      assert.equal(seen[0]?.ewa_inertia, null)
    } finally {
      t.close()
      s.close()
    }
  })

  it('an aborted call sends cancel with its id and session, rejects as an AbortError, and ignores the late reply', async () => {
    const s = await new FakeServer().start()
    const t = await Transport.connect(s.endpoint, { session: 'sess-2', heartbeat: false })
    try {
      const ac = new AbortController()
      const call = t.request({ op: 'call', instance: 'k', method: 'fit' }, [], { signal: ac.signal })
      await s.waitFor(1)
      const req = s.requests[0]!
      ac.abort(new Error('user stop'))
      await assert.rejects(call, (e: unknown) => {
        assert.ok(e instanceof CancelledError && e instanceof ServerError && e instanceof SkbridgeError)
        assert.equal(e.name, 'AbortError')
        assert.equal(e.code, 'cancelled')
        assert.equal((e.cause as Error).message, 'user stop')
        return true
      })
      const cancel = await s.waitOp('cancel')
      assert.equal(cancel.header.target, req.header.id)
      assert.equal(cancel.header.session, 'sess-2')
      // The late replies (the call's and the cancel's) match nothing and change nothing.
      await s.reply(req, { ok: false, error: { code: 'cancelled', message: 'cancelled' } })
      await s.ok(cancel, { target: req.header.id, state: 'stopping' })
      const next = t.request({ op: 'ping' })
      const ping = await s.waitOp('ping')
      await s.ok(ping, { pong: true })
      assert.equal((await next).header.ok, true)
      assert.equal(t.pendingCount, 0)

      // A timed-out call is cancelled the same way; a request that is not a call is not.
      await assert.rejects(t.request({ op: 'call', instance: 'k', method: 'predict' }, [], { timeout: ms(50) }), CancelledError)
      await s.waitFor(5)
      assert.equal(s.requests[4]?.header.op, 'cancel')
      assert.equal(s.requests[4]?.header.target, s.requests[3]?.header.id)
      await assert.rejects(t.request({ op: 'get', instance: 'k', attribute: 'n_iter_' }, [], { timeout: ms(50) }), RequestTimeoutError)
      const last = t.request({ op: 'ping' })
      await s.waitFor(7)
      await s.ok(s.requests[6]!, { pong: true })
      await last
      assert.deepEqual(s.requests.map((r) => r.header.op), ['call', 'cancel', 'ping', 'call', 'cancel', 'get', 'ping'])
    } finally {
      t.close()
      s.close()
    }
  })

  it('an onProgress that throws cancels the call and rejects with what it threw', async () => {
    const s = await new FakeServer().start()
    const t = await Transport.connect(s.endpoint, { heartbeat: false })
    try {
      const call = t.request({ op: 'call', instance: 'k', method: 'fit' }, [], {
        onProgress: () => {
          throw new Error('progress bar broke')
        },
      })
      await s.waitFor(1)
      const req = s.requests[0]!
      await s.reply(req, { progress: { step: 1, steps: 2, batch_inertia: 1, ewa_inertia: null, epoch: 0.5, elapsed: 0.01 } })
      await assert.rejects(call, /progress bar broke/)
      const cancel = await s.waitOp('cancel')
      assert.equal(cancel.header.target, req.header.id)
    } finally {
      t.close()
      s.close()
    }
  })
})

describe('progress and cancellation against a real server', () => {
  it('fit reports every step in order, the first and the last included', async () => {
    const py = await startBridge()
    try {
      const m = new MiniBatchKMeans({ n_clusters: 3, random_state: 0, batch_size: 64, max_iter: 4, max_no_improvement: null, tol: 0 })
      await m.init(py)
      const X = blobs([[0, 0], [6, 6], [0, 6]], 200, 1)
      const events: ProgressEvent[] = []
      await m.fit({ X }, { onProgress: (e) => events.push(e) })
      assert.ok(events.length >= 2, `got ${events.length} progress events`)
      const steps = events.map((e) => e.step)
      assert.equal(steps[0], 1)
      for (let i = 1; i < steps.length; i++) assert.ok((steps[i] as number) > (steps[i - 1] as number), `steps increase: ${steps.join(',')}`)
      const last = events[events.length - 1] as ProgressEvent
      assert.equal(last.step, last.steps)
      assert.equal(last.step, await m.n_steps_)
      for (const e of events) {
        assert.equal(typeof e.batch_inertia, 'number')
        assert.ok(e.epoch > 0 && e.elapsed >= 0)
      }
      // Without a callback the same fit gives the same model (progress changes nothing).
      const quiet = new MiniBatchKMeans({ n_clusters: 3, random_state: 0, batch_size: 64, max_iter: 4, max_no_improvement: null, tol: 0 })
      await quiet.init(py)
      await quiet.fit({ X })
      assert.deepEqual(await quiet.cluster_centers_, await m.cluster_centers_)
      // partial_fit and fit_predict report too.
      const partial: ProgressEvent[] = []
      await m.partial_fit({ X }, { onProgress: (e) => partial.push(e) })
      assert.deepEqual(partial.map((e) => [e.step, e.steps]), [[1, 1]])
      const fp: ProgressEvent[] = []
      const labels = await quiet.fit_predict({ X }, { onProgress: (e) => fp.push(e) })
      assert.equal(labels.length, X.length)
      assert.ok(fp.length >= 2)
    } finally {
      await py.disconnect()
    }
  })

  it('aborting a running fit cancels it: the model is left as it was and its next call runs', async () => {
    const py = await startBridge()
    try {
      const m = new MiniBatchKMeans(SLOW)
      await m.init(py)
      await m.fit({ X: noise(3000, 8) }, { signal: AbortSignal.timeout(ms(60_000)) })
      const before = await m.cluster_centers_
      const steps = await m.n_steps_

      const ac = new AbortController()
      let abortedAt = 0
      const fit = m.fit({ X: noise(20_000, 8) }, {
        onProgress: () => {
          if (abortedAt === 0) {
            abortedAt = performance.now()
            ac.abort()
          }
        },
        signal: ac.signal,
      })
      await assert.rejects(fit, (e: unknown) => e instanceof CancelledError && e.name === 'AbortError')
      const after = await m.cluster_centers_
      const nextAt = performance.now()
      // A measurement, not a threshold: how soon the instance answered after the abort.
      console.log(`next call on the instance answered ${(nextAt - abortedAt).toFixed(1)} ms after the abort`)
      assert.deepEqual(after, before, 'the cancelled fit changed nothing')
      assert.equal(await m.n_steps_, steps)
      await m.partial_fit({ X: noise(500, 8) })
      assert.equal(await m.n_steps_, steps + 1)
      const stats = await py.stats()
      assert.ok(typeof stats.errors === 'object' && stats.errors !== null)
    } finally {
      await py.disconnect()
    }
  })

  it('disconnect rejects a fit that asked for progress like any other call', async () => {
    const py = await startBridge()
    const m = new MiniBatchKMeans(SLOW)
    await m.init(py)
    let seen = 0
    const fit = m.fit({ X: noise(20_000, 8) }, { onProgress: () => void seen++ })
    const rejected = assert.rejects(fit, BridgeDisconnectedError)
    while (seen === 0) await new Promise((r) => setTimeout(r, 20))
    await py.disconnect()
    await rejected
  })
})
