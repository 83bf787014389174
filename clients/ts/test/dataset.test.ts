import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import {
  type CsrMatrix,
  Dataset,
  type DatasetInput,
  DuplicateInstanceError,
  InvalidInputError,
  type MatrixData,
  MiniBatchKMeans,
  ProtocolError,
  type PythonBridge,
  UnknownInstanceError,
  createPythonBridge,
} from '../src/index.js'
import { blobs, serverOptions, startBridge } from './helpers.js'

const CENTERS = [
  [0, 0, 0, 0],
  [6, 6, 0, 0],
  [0, 6, 6, 6],
]
const ROWS = blobs(CENTERS, 80, 7) // 240 x 4
const N = ROWS.length
const D = 4
const FLAT = Float64Array.from(ROWS.flat())
const OPTS = { n_clusters: 3, random_state: 0, batch_size: 64, n_init: 2 } as const

/** Rows with every other value zeroed, as CSR. */
function csrOf(rows: number[][]): CsrMatrix {
  const data: number[] = []
  const indices: number[] = []
  const indptr = [0]
  rows.forEach((row, i) => {
    row.forEach((v, j) => {
      if ((i + j) % 2 === 0) {
        data.push(v)
        indices.push(j)
      }
    })
    indptr.push(data.length)
  })
  return { format: 'csr', data: Float64Array.from(data), indices: Int32Array.from(indices), indptr: Int32Array.from(indptr), shape: [rows.length, D] }
}

const KINDS: Array<{ name: string; data: MatrixData; dtype: string; nbytes: number; kind: 'ndarray' | 'csr' }> = [
  { name: 'number[][]', data: ROWS, dtype: 'float64', nbytes: N * D * 8, kind: 'ndarray' },
  { name: 'Float32Array rows', data: ROWS.map((r) => Float32Array.from(r)), dtype: 'float32', nbytes: N * D * 4, kind: 'ndarray' },
  { name: '{ data, shape }', data: { data: FLAT, shape: [N, D] }, dtype: 'float64', nbytes: N * D * 8, kind: 'ndarray' },
  { name: 'named columns', data: { data: FLAT, shape: [N, D], columns: ['a', 'b', 'c', 'd'] }, dtype: 'float64', nbytes: N * D * 8, kind: 'ndarray' },
  { name: 'CSR', data: csrOf(ROWS), dtype: 'float64', nbytes: -1, kind: 'csr' },
]

describe('server-resident datasets', () => {
  let py: PythonBridge

  before(async () => {
    py = await startBridge()
  })
  after(async () => {
    await py.disconnect()
  })

  async function model(): Promise<MiniBatchKMeans> {
    const m = new MiniBatchKMeans(OPTS)
    await m.init(py)
    return m
  }

  for (const k of KINDS) {
    it(`fit, predict, score, transform on a handle equal sending the data (${k.name})`, async () => {
      const X = await py.dataset(k.data)
      assert.ok(X instanceof Dataset)
      assert.match(X.id, /^ds[0-9a-f]{16}$/)
      assert.deepEqual(X.shape, [N, D])
      assert.equal(X.dtype, k.dtype)
      assert.equal(X.kind, k.kind)
      if (k.nbytes >= 0) assert.equal(X.nbytes, k.nbytes)
      else assert.ok(X.nbytes > 0)

      const sent = await model()
      const held = await model()
      await sent.fit({ X: k.data })
      await held.fit({ X })
      assert.deepEqual(await held.cluster_centers_, await sent.cluster_centers_)
      assert.deepEqual(await held.labels_, await sent.labels_)
      assert.equal(await held.inertia_, await sent.inertia_)
      // The fitted model of one, fed the handle, answers like the data itself.
      assert.deepEqual(await sent.predict({ X }), await sent.predict({ X: k.data }))
      assert.equal(await sent.score({ X }), await sent.score({ X: k.data }))
      assert.deepEqual(await held.transform({ X }), await sent.transform({ X: k.data }))
      if (k.name === 'named columns') assert.deepEqual(await held.feature_names_in_, ['a', 'b', 'c', 'd'])
      await sent.dispose()
      await held.dispose()
      await X.dispose()
    })
  }

  it('one handle serves several instances, and sample_weight takes a handle too', async () => {
    const X = await py.dataset(ROWS)
    const weights = Float64Array.from(ROWS, (_, i) => 1 + (i % 3))
    const w = await py.dataset(weights)
    assert.deepEqual(w.shape, [N])
    for (const k of [2, 3, 4]) {
      const a = new MiniBatchKMeans({ ...OPTS, n_clusters: k })
      const b = new MiniBatchKMeans({ ...OPTS, n_clusters: k })
      await a.init(py)
      await b.init(py)
      await a.fit({ X, sample_weight: w })
      await b.fit({ X: ROWS, sample_weight: weights })
      assert.deepEqual(await a.cluster_centers_, await b.cluster_centers_)
      assert.equal(await a.score({ X, sample_weight: w }), await b.score({ X: ROWS, sample_weight: weights }))
      assert.deepEqual(await a.fit_predict({ X }), await b.fit_predict({ X: ROWS }))
      await a.dispose()
      await b.dispose()
    }
    await X.dispose()
    await w.dispose()
  })

  it('py.datasets() lists the stored datasets; dispose removes them', async () => {
    const X = await py.dataset({ data: FLAT, shape: [N, D] }, { id: 'train.set-1' })
    assert.equal(X.id, 'train.set-1')
    const listed = (await py.datasets()).find((d) => d.dataset === X.id)
    assert.ok(listed, 'the dataset is listed')
    assert.deepEqual(listed.shape, [N, D])
    assert.equal(listed.dtype, 'float64')
    assert.equal(listed.kind, 'ndarray')
    assert.equal(listed.nbytes, N * D * 8)
    assert.equal(typeof listed.owner, 'string')
    assert.equal(X.isDisposed, false)
    await X.dispose()
    assert.equal(X.isDisposed, true)
    await X.dispose() // twice is a no-op
    assert.equal((await py.datasets()).find((d) => d.dataset === X.id), undefined)
  })

  it('a disposed handle is rejected with UnknownInstanceError', async () => {
    const X = await py.dataset(ROWS)
    const m = await model()
    await m.fit({ X })
    await X.dispose()
    await assert.rejects(m.predict({ X }), (e: unknown) => {
      assert.ok(e instanceof UnknownInstanceError)
      assert.match(e.message, new RegExp(X.id))
      return true
    })
    await assert.rejects(m.fit({ X }), UnknownInstanceError)
    // The instance is unharmed.
    assert.equal((await m.predict({ X: ROWS })).length, N)
    await m.dispose()
  })

  it("another bridge's handle is rejected with UnknownInstanceError", async () => {
    const other = await createPythonBridge({ ...serverOptions(), endpoint: py.endpoint, ndarray: false })
    try {
      const X = await py.dataset(ROWS)
      const m = new MiniBatchKMeans(OPTS)
      await m.init(other)
      await assert.rejects(m.fit({ X }), UnknownInstanceError)
      await m.fit({ X: ROWS })
      await assert.rejects(m.predict({ X }), UnknownInstanceError)
      // Its own handles work.
      const Y = await other.dataset(ROWS)
      assert.equal((await m.predict({ X: Y })).length, N)
      await m.dispose()
      await Y.dispose()
      await X.dispose()
    } finally {
      await other.disconnect()
    }
  })

  it('bad uploads are rejected with a typed error', async () => {
    await assert.rejects(py.dataset('abc' as unknown as DatasetInput), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError)
      assert.equal(e.field, 'data')
      return true
    })
    await assert.rejects(py.dataset([[1, 2], [3]]), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError)
      assert.match(e.message, /ragged/)
      return true
    })
    const X = await py.dataset(ROWS)
    await assert.rejects(py.dataset(X as unknown as DatasetInput), InvalidInputError)
    await assert.rejects(py.dataset(ROWS, { id: X.id }), DuplicateInstanceError)
    // Options are data, not handles (the server takes handles in method parameters only).
    // @ts-expect-error constructor options take MatrixData, not handles
    const m = new MiniBatchKMeans({ n_clusters: 2, n_init: 1, init: X })
    await assert.rejects(m.init(py), ProtocolError)
    await X.dispose()
  })
})
