import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { Router, curveKeyPair } from 'zeromq'

import { BridgeDisconnectedError, InvalidInputError, MiniBatchKMeans, type NdArray, createPythonBridge } from '../src/index.js'
import { isZ85Key, parseKeyFile, resolveCurveKeys } from '../src/curve.js'
import { Transport } from '../src/transport.js'
import { FakeServer, PYTHON, REPO_ROOT, blobs, ms, startBridge, tempDir } from './helpers.js'

/** Key files in pyzmq's zmq.auth format, written by pyzmq itself. */
function zmqAuthKeys(dir: string, name: string): { public: string; secret: string } {
  const script = [
    'import json, sys, zmq.auth',
    '_, secret_file = zmq.auth.create_certificates(sys.argv[1], sys.argv[2])',
    'pub, sec = zmq.auth.load_certificate(secret_file)',
    'print(json.dumps([pub.decode(), sec.decode()]))',
  ].join('\n')
  const [pub, sec] = JSON.parse(execFileSync(PYTHON, ['-c', script, dir, name], { encoding: 'utf8' })) as [string, string]
  return { public: pub, secret: sec }
}

/** The bytes of an array result, for bit-for-bit comparisons. */
function raw(nd: NdArray): Buffer {
  return Buffer.from(nd.data.buffer, nd.data.byteOffset, nd.data.byteLength)
}

describe('exactly-once keys', () => {
  it('idempotencyKey goes into the call header of any method', async () => {
    const s = await new FakeServer().start()
    const creating = createPythonBridge({ endpoint: s.endpoint, heartbeat: false })
    await s.ok(await s.waitOp('ping'), { pong: true, time: 0 })
    const py = await creating
    try {
      const m = new MiniBatchKMeans()
      const init = m.init(py)
      await s.ok(await s.waitOp('init'), { instance: m.id })
      await init
      const call = m.partial_fit({ X: [[1, 2]] }, { idempotencyKey: 'batch-7' })
      // The bridge asks for the limits (lease, sizes) before the call goes out.
      const answered = new Set<unknown>()
      let req = s.requests.find((r) => r.header.op === 'call')
      for (let i = 0; i < 10 && !req; i++) {
        for (const r of s.requests.filter((q) => q.header.op === 'info' && !answered.has(q.header.id))) {
          answered.add(r.header.id)
          await s.ok(r, { limits: {} })
        }
        await s.waitFor(s.requests.length + 1)
        req = s.requests.find((r) => r.header.op === 'call')
      }
      assert.ok(req, 'the call was sent')
      assert.equal(req.header.idempotency_key, 'batch-7')
      assert.equal(req.header.session, py.session)
      await s.ok(req, { instance: m.id })
      assert.equal(await call, m)
      const score = m.score({ X: [[1, 2]] }, { idempotencyKey: 'score:1' })
      await s.waitFor(s.requests.length + 1)
      const last = s.requests[s.requests.length - 1]!
      assert.equal(last.header.idempotency_key, 'score:1')
      await s.ok(last, -1)
      assert.equal(await score, -1)
      await assert.rejects(m.predict({ X: [[1, 2]] }, { idempotencyKey: 'x'.repeat(129) }), (e: unknown) => e instanceof InvalidInputError && e.field === 'idempotencyKey')
    } finally {
      await py.disconnect()
      s.close()
    }
  })

  it('a repeated key is applied once by the server', async () => {
    const py = await startBridge()
    try {
      const m = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
      await m.init(py)
      const X = blobs([[0, 0], [5, 5]], 20, 2)
      await assert.rejects(m.partial_fit({ X }, { idempotencyKey: 'bad key!' }), (e: unknown) => e instanceof InvalidInputError && e.field === 'idempotencyKey')
      await m.partial_fit({ X }, { idempotencyKey: 'step-1' })
      const centers = await m.cluster_centers_
      await m.partial_fit({ X }, { idempotencyKey: 'step-1' })
      assert.equal(await m.n_steps_, 1)
      assert.deepEqual(await m.cluster_centers_, centers)
      await m.partial_fit({ X }, { idempotencyKey: 'step-2' })
      assert.equal(await m.n_steps_, 2)
    } finally {
      await py.disconnect()
    }
  })
})

describe('save and load', () => {
  it('round-trips a fitted model bit for bit', async () => {
    const py = await createPythonBridge({ python: PYTHON, cwd: REPO_ROOT, startupTimeout: ms(30_000), serverOutput: 'ignore', ndarray: true })
    try {
      const m = new MiniBatchKMeans<'ndarray'>({ n_clusters: 3, random_state: 0 })
      await m.init(py)
      const X = blobs([[0, 0], [6, 6], [0, 6]], 50, 5)
      await m.fit({ X })
      const bytes = await m.save()
      assert.ok(bytes instanceof Uint8Array)
      assert.equal(Buffer.from(bytes.subarray(0, 2)).toString('latin1'), 'PK', 'a zip archive')
      const file = join(tempDir(), 'model.skb')
      writeFileSync(file, bytes)

      const copy = await MiniBatchKMeans.load(py, readFileSync(file))
      assert.notEqual(copy.id, m.id)
      assert.deepEqual(raw(await copy.cluster_centers_), raw(await m.cluster_centers_))
      assert.deepEqual(raw(await copy.predict({ X })), raw(await m.predict({ X })))
      // Both continue identically.
      await m.partial_fit({ X })
      await copy.partial_fit({ X })
      assert.deepEqual(raw(await copy.cluster_centers_), raw(await m.cluster_centers_))
    } finally {
      await py.disconnect()
    }
  })
})

describe('CURVE', () => {
  it('reads key strings and pyzmq key files', () => {
    const dir = tempDir()
    const keys = zmqAuthKeys(dir, 'alice')
    const pub = parseKeyFile(readFileSync(join(dir, 'alice.key'), 'utf8'))
    assert.equal(pub.publicKey, keys.public)
    assert.equal(pub.secretKey, undefined)
    const pair = parseKeyFile(readFileSync(join(dir, 'alice.key_secret'), 'utf8'))
    assert.deepEqual(pair, { publicKey: keys.public, secretKey: keys.secret })
    assert.ok(isZ85Key(keys.public) && isZ85Key(keys.secret))

    const fromFiles = resolveCurveKeys(join(dir, 'alice.key'), join(dir, 'alice.key_secret'))
    assert.deepEqual(fromFiles, { curveServerKey: keys.public, curvePublicKey: keys.public, curveSecretKey: keys.secret })
    const fromStrings = resolveCurveKeys(keys.public, { publicKey: keys.public, secretKey: keys.secret })
    assert.deepEqual(fromStrings, fromFiles)

    assert.throws(() => resolveCurveKeys(join(dir, 'missing.key'), join(dir, 'alice.key_secret')), (e: unknown) => e instanceof InvalidInputError && e.field === 'serverKey')
    assert.throws(() => resolveCurveKeys(keys.public, join(dir, 'alice.key')), /no secret-key line/)
    assert.throws(() => resolveCurveKeys(keys.public, { publicKey: 'short', secretKey: keys.secret }), (e: unknown) => e instanceof InvalidInputError && e.field === 'clientKey.publicKey')
  })

  it('the DEALER speaks CURVE with the keys given; a wrong server key gets no connection', async () => {
    const server = curveKeyPair()
    const client = curveKeyPair()
    const router = new Router({ linger: 0, curveServer: true, curveSecretKey: server.secretKey })
    await router.bind('tcp://127.0.0.1:*')
    const endpoint = router.lastEndpoint as string
    void (async () => {
      for await (const [id, head] of router) await router.send([id as Buffer, head as Buffer])
    })().catch(() => undefined)
    const good = await Transport.connect(endpoint, { curve: resolveCurveKeys(server.publicKey, client), heartbeat: false })
    const echoed = await good.request({ op: 'ping' }, [], { timeout: ms(5000) })
    assert.equal(echoed.header.op, 'ping') // the router echoes the request back
    good.close()

    const wrong = curveKeyPair()
    const bad = await Transport.connect(endpoint, { curve: resolveCurveKeys(wrong.publicKey, client), heartbeat: { interval: ms(100), timeout: ms(500) } })
    await assert.rejects(bad.request({ op: 'ping' }), BridgeDisconnectedError)
    bad.close()
    router.close()
  })

  it('connects to a server started with --curve-secret-key and --curve-authorized-keys', async () => {
    const dir = tempDir()
    const clients = join(dir, 'clients')
    execFileSync(PYTHON, ['-m', 'bridge', 'keys', dir, '--name', 'server'], { cwd: REPO_ROOT })
    execFileSync(PYTHON, ['-m', 'bridge', 'keys', clients, '--name', 'alice'], { cwd: REPO_ROOT })
    const owner = await startBridge({
      bind: `ipc://${join(dir, 'sock')}`,
      serverArgs: ['--curve-secret-key', join(dir, 'server.key_secret'), '--curve-authorized-keys', clients],
      serverKey: join(dir, 'server.key'),
      clientKey: join(clients, 'alice.key_secret'),
    })
    try {
      const m = new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
      await m.init(owner)
      const X = blobs([[0, 0], [5, 5]], 10, 1)
      await m.fit({ X })
      assert.equal((await m.predict({ X })).length, X.length)
      // Plaintext gets no reply at all.
      await assert.rejects(createPythonBridge({ endpoint: owner.endpoint, startupTimeout: ms(1500) }), /No skbridge server answered/)
    } finally {
      await owner.disconnect()
    }
  })
})
