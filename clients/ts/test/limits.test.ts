import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { CancelledError, MiniBatchKMeans, ResourceExhaustedError } from '../src/index.js'
import { checkMessage } from '../src/limits.js'
import { Transport } from '../src/transport.js'
import { FakeServer, blobs, ms, startBridge } from './helpers.js'

function noise(rows: number, cols: number): { data: Float64Array; shape: [number, number] } {
  const data = new Float64Array(rows * cols)
  let s = 7
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    data[i] = s / 2 ** 32
  }
  return { data, shape: [rows, cols] }
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t))

describe('limits checked before sending', () => {
  it('names the limit, the size and the fix', () => {
    const head = new Uint8Array(10)
    assert.throws(() => checkMessage({ max_message_bytes: 100 }, head, [new Uint8Array(50), new Uint8Array(101)]), (e: unknown) => {
      assert.ok(e instanceof ResourceExhaustedError)
      assert.equal(e.code, 'resource_exhausted')
      assert.deepEqual(e.details, [{ field: 'max_message_bytes', value: 100, message: 'this request needs 101' }])
      assert.match(e.message, /101 bytes.*max_message_bytes=100.*--max-message-bytes/)
      return true
    })
    assert.throws(() => checkMessage({ max_frames: 2 }, head, [head, head, head]), /3 array buffers.*max_frames=2/)
    assert.throws(() => checkMessage({ max_header_bytes: 5 }, head, []), /header is 10 bytes.*max_header_bytes=5/)
    checkMessage({ max_message_bytes: 0, max_frames: 0 }, head, [new Uint8Array(1000)]) // 0: no limit
  })

  it('fetches the limits once, before the first message with buffers, keeping the order of requests', async () => {
    const s = await new FakeServer().start()
    const t = await Transport.connect(s.endpoint, { checkLimits: true, heartbeat: false })
    try {
      const small = t.request({ op: 'call', method: 'a' }, [new Uint8Array(8)])
      const after = t.request({ op: 'get' })
      const info = await s.waitOp('info')
      assert.equal(s.requests.length, 1, 'nothing else leaves before the limits are known')
      await s.ok(info, { limits: { max_message_bytes: 64 } })
      await s.waitFor(3)
      assert.deepEqual(s.requests.map((r) => r.header.op), ['info', 'call', 'get'])
      await assert.rejects(t.request({ op: 'call', method: 'b' }, [new Uint8Array(65)]), ResourceExhaustedError)
      for (const r of s.requests.slice(1)) await s.ok(r, null)
      await Promise.all([small, after])
      assert.equal(s.requests.filter((r) => r.header.op === 'info').length, 1)
    } finally {
      t.close()
      s.close()
    }
  })
})

describe('limits and leases against a real server', () => {
  it('refuses an oversized array before sending; the server refuses an instance past max_instances', async () => {
    const py = await startBridge({ serverArgs: ['--max-message-bytes', '100000', '--max-instances', '2'] })
    try {
      const a = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
      await a.init(py)
      await assert.rejects(a.fit({ X: noise(20_000, 8) }), (e: unknown) => {
        assert.ok(e instanceof ResourceExhaustedError)
        assert.equal(e.details[0]?.field, 'max_message_bytes')
        assert.match(e.message, /1280000 bytes.*max_message_bytes=100000/)
        return true
      })
      // Not sent: the connection is intact and the model usable.
      const X = blobs([[0, 0], [5, 5]], 20, 1)
      await a.fit({ X })
      assert.equal((await a.predict({ X })).length, X.length)

      const b = new MiniBatchKMeans()
      await b.init(py)
      await assert.rejects(new MiniBatchKMeans().init(py), (e: unknown) => e instanceof ResourceExhaustedError && /max_instances/.test(e.message))
    } finally {
      await py.disconnect()
    }
  })

  it('instances outlive idle periods and fits longer than the lease (the bridge renews it)', async () => {
    const py = await startBridge({ serverArgs: ['--lease-seconds', '1'] })
    try {
      assert.equal((await py.info()).limits?.lease_seconds, 1)
      const m = new MiniBatchKMeans({ n_clusters: 50, max_iter: 10_000, max_no_improvement: null, tol: 0, batch_size: 2048, random_state: 0 })
      await m.init(py)
      await m.partial_fit({ X: noise(2000, 8) })
      const before = await m.cluster_centers_

      await sleep(ms(3500)) // idle for more than three leases
      assert.ok((await py.instances()).some((i) => i.instance === m.id && i.owner === py.session))
      assert.deepEqual(await m.cluster_centers_, before)

      // A fit running for several leases is not cancelled by the server (its cancel would
      // come as a reply without our abort as the cause); we stop it ourselves.
      const ac = new AbortController()
      let lastElapsed = 0
      const fit = m.fit({ X: noise(20_000, 8) }, {
        signal: ac.signal,
        onProgress: (p) => {
          lastElapsed = p.elapsed
          if (p.elapsed > 3) ac.abort(new Error('long enough'))
        },
      })
      await assert.rejects(fit, (e: unknown) => e instanceof CancelledError && (e.cause as Error | undefined)?.message === 'long enough')
      assert.ok(lastElapsed > 3, `the fit ran ${lastElapsed} s`)
      assert.deepEqual(await m.cluster_centers_, before)
    } finally {
      await py.disconnect()
    }
  })

  it('every request carries the bridge session', async () => {
    const py = await startBridge()
    try {
      const m = new MiniBatchKMeans()
      await m.init(py)
      const mine = (await py.instances()).find((i) => i.instance === m.id)
      assert.equal(mine?.owner, py.session)
      assert.match(py.session, /^[0-9a-f]{32}$/)
    } finally {
      await py.disconnect()
    }
  })
})
