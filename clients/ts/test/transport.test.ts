import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { AbortedError, BridgeDisconnectedError, ProtocolError, RequestTimeoutError, ServerExitedError } from '../src/index.js'
import { Transport } from '../src/transport.js'
import { FakeServer, ms } from './helpers.js'

describe('transport (fake ROUTER server)', () => {
  let server: FakeServer
  let transport: Transport

  before(async () => {
    server = await new FakeServer().start()
    transport = await Transport.connect(server.endpoint)
  })
  after(() => {
    transport.close()
    server.close()
  })

  it('sends v, id, op and the header fields, and matches the reply by id', async () => {
    const p = transport.request({ op: 'ping' })
    await server.waitFor(1)
    const req = server.requests[0]!
    assert.equal(req.header.v, 1)
    assert.equal(req.header.op, 'ping')
    assert.equal(typeof req.header.id, 'number')
    await server.ok(req, { pong: true })
    const reply = await p
    assert.deepEqual(reply.header.result, { pong: true })
  })

  it('pipelines requests and accepts replies out of order', async () => {
    const ps = [0, 1, 2, 3, 4].map((i) => transport.request({ op: 'pipeline', n: i }))
    while (server.requests.filter((r) => r.header.op === 'pipeline').length < 5) await server.waitFor(server.requests.length + 1)
    const reqs = server.requests.filter((r) => r.header.op === 'pipeline')
    // All five arrived before any reply: one send queue, nothing waits for a reply.
    assert.deepEqual(reqs.map((r) => r.header.n), [0, 1, 2, 3, 4])
    for (const r of [...reqs].reverse()) await server.ok(r, { n: r.header.n })
    const replies = await Promise.all(ps)
    assert.deepEqual(replies.map((r) => (r.header.result as { n: number }).n), [0, 1, 2, 3, 4])
  })

  it('carries buffer frames both ways', async () => {
    const payload = Buffer.from(new Float64Array([1, 2, 3]).buffer)
    const p = transport.request({ op: 'frames' }, [payload])
    const req = await server.waitOp('frames')
    assert.equal(req.frames.length, 1)
    assert.deepEqual([...new Float64Array(new Uint8Array(req.frames[0]!).buffer)], [1, 2, 3])
    await server.ok(req, 'x', [Buffer.from([1, 2, 3, 4])])
    const reply = await p
    assert.equal(reply.frames.length, 1)
    assert.deepEqual([...reply.frames[0]!], [1, 2, 3, 4])
  })

  it('times out, then ignores the late reply', async () => {
    const p = transport.request({ op: 'slow-timeout' }, [], { timeout: ms(50) })
    await assert.rejects(p, (e: unknown) => e instanceof RequestTimeoutError && e.code === 'timeout')
    await server.ok(await server.waitOp('slow-timeout'), 'late')
    assert.equal(transport.pendingCount, 0)
    // The transport still works.
    const q = transport.request({ op: 'after-timeout' })
    await server.ok(await server.waitOp('after-timeout'), 'pong')
    assert.equal((await q).header.result, 'pong')
  })

  it('aborts a pending request and rejects an already-aborted signal', async () => {
    const ac = new AbortController()
    const p = transport.request({ op: 'slow' }, [], { signal: ac.signal })
    ac.abort(new Error('user'))
    await assert.rejects(p, (e: unknown) => e instanceof AbortedError && e.code === 'aborted')
    await assert.rejects(transport.request({ op: 'x' }, [], { signal: AbortSignal.abort() }), AbortedError)
    assert.equal(transport.pendingCount, 0)
  })

  it('a reply with id null matches no request: a process warning with the server\'s code and message, the request ends by its timeout', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const p = transport.request({ op: 'unreadable' }, [], { timeout: ms(300) })
      const req = await server.waitOp('unreadable')
      await server.reply(req, { id: null, ok: false, error: { code: 'protocol_error', message: 'frame 0 is not a msgpack map' } })
      await assert.rejects(p, RequestTimeoutError)
      const ours = warnings.filter((w) => w.name === 'SkbridgeWarning')
      assert.equal(ours.length, 1)
      assert.equal((ours[0] as Error & { code?: string }).code, 'protocol_error')
      assert.match(ours[0]!.message, /frame 0 is not a msgpack map/)
      // The transport keeps running.
      const q = transport.request({ op: 'after-null-id' })
      await server.ok(await server.waitOp('after-null-id'), 'still here')
      assert.equal((await q).header.result, 'still here')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('rejects replies speaking another protocol version', async () => {
    const p = transport.request({ op: 'version-check' })
    await server.reply(await server.waitOp('version-check'), { v: 2, ok: true, result: null })
    await assert.rejects(p, ProtocolError)
  })

  it('fail() rejects every pending request with the given error, and later ones too', async () => {
    const t = await Transport.connect(server.endpoint)
    const ps = [t.request({ op: 'a' }), t.request({ op: 'b' }), t.request({ op: 'c' })]
    const err = new ServerExitedError('gone')
    t.fail(err)
    for (const p of ps) await assert.rejects(p, (e: unknown) => e === err)
    await assert.rejects(t.request({ op: 'd' }), (e: unknown) => e === err)
    assert.equal(t.isOpen, false)
  })

  it('close() rejects pending requests with BridgeDisconnectedError', async () => {
    const t = await Transport.connect(server.endpoint)
    const p = t.request({ op: 'a' })
    t.close()
    await assert.rejects(p, BridgeDisconnectedError)
  })

  it('reports a lost peer through onDisconnect', async () => {
    const s = await new FakeServer().start()
    let lost = false
    const t = await Transport.connect(s.endpoint, { onDisconnect: () => { lost = true; t.fail(new ServerExitedError('lost')) } })
    const first = t.request({ op: 'ping' })
    await s.waitFor(1)
    await s.ok(s.requests[0]!, 'pong')
    await first
    const p = t.request({ op: 'slow' })
    await s.waitFor(2)
    s.close()
    await assert.rejects(p, ServerExitedError)
    assert.ok(lost)
  })
})
