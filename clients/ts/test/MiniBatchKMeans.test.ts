import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import {
  AlreadyInitializedError,
  BridgeDisconnectedError,
  type CsrMatrix,
  DisposedError,
  DuplicateInstanceError,
  EstimatorError,
  InvalidInputError,
  InvalidParamsError,
  MiniBatchKMeans,
  type MiniBatchKMeansOptions,
  MissingDependencyError,
  type NdArray,
  NotFittedError,
  NotInitializedError,
  type PythonBridge,
  UnknownAttributeError,
  UnknownClassError,
  UnknownInstanceError,
  UnknownMethodError,
  UnknownOpError,
  createPythonBridge,
} from '../src/index.js'
import { blobs, serverOptions, startBridge } from './helpers.js'
import { type ReferenceCase, assertClose, sklearnReference } from './reference.js'

const CENTERS = [
  [0, 0, 0, 0],
  [6, 6, 0, 0],
  [0, 6, 6, 6],
]
const X = blobs(CENTERS, 100, 1) // 300 x 4

describe('MiniBatchKMeans against a real server', () => {
  let py: PythonBridge

  before(async () => {
    py = await startBridge()
  })
  after(async () => {
    await py.disconnect()
  })

  async function fitted(opts: MiniBatchKMeansOptions, data: Parameters<MiniBatchKMeans['fit']>[0] = { X }): Promise<MiniBatchKMeans> {
    const m = new MiniBatchKMeans(opts)
    await m.init(py)
    assert.equal(await m.fit(data), m)
    return m
  }

  describe('properties and lifecycle', () => {
    it('id, opts, _py, _isInitialized, _isDisposed and the py accessor', async () => {
      const opts = { n_clusters: 3, random_state: 0 }
      const m = new MiniBatchKMeans(opts)
      assert.match(m.id, /^MiniBatchKMeans[0-9a-f]{8}$/)
      assert.notEqual(new MiniBatchKMeans().id, m.id)
      assert.deepEqual(m.opts, opts)
      assert.deepEqual(new MiniBatchKMeans().opts, {})
      assert.equal(m._isInitialized, false)
      assert.equal(m._isDisposed, false)
      await m.init(py)
      assert.equal(m._isInitialized, true)
      assert.equal(m._py, py)
      assert.equal(m.py, py)
      m.py = py
      assert.equal(m._py, py)
      const live = await py.instances()
      assert.ok(live.some((i) => i.instance === m.id && i.class === 'MiniBatchKMeans' && i.fitted === false))
      await m.dispose()
      assert.equal(m._isDisposed, true)
      assert.ok(!(await py.instances()).some((i) => i.instance === m.id))
      await m.dispose() // twice is a no-op
    })

    it('ping, info and instances', async () => {
      const pong = await py.ping()
      assert.equal(pong.pong, true)
      assert.equal(typeof pong.time, 'number')
      const info = await py.info()
      assert.equal(info.protocol, 1)
      assert.ok(info.classes.includes('MiniBatchKMeans'))
      assert.equal(typeof info.scikit_learn, 'string')
      const m = await fitted({ n_clusters: 3, random_state: 0 })
      const entry = (await py.instances()).find((i) => i.instance === m.id)
      assert.ok(entry?.fitted)
      assert.ok((entry?.nbytes ?? 0) > 0)
      await m.dispose()
    })
  })

  describe('results equal scikit-learn for the same random_state', () => {
    const configs: Array<[string, MiniBatchKMeansOptions]> = [
      ['defaults with n_clusters and random_state', { n_clusters: 3, random_state: 0 }],
      ['n_clusters', { n_clusters: 5, random_state: 1 }],
      ['init random', { n_clusters: 3, init: 'random', random_state: 2 }],
      ['init k-means++', { n_clusters: 3, init: 'k-means++', random_state: 3 }],
      ['init matrix', { n_clusters: 3, init: [[1, 1, 1, 1], [5, 5, 1, 1], [1, 5, 5, 5]], random_state: 0 }],
      ['max_iter', { n_clusters: 3, max_iter: 2, random_state: 0 }],
      ['batch_size', { n_clusters: 3, batch_size: 32, random_state: 0 }],
      ['verbose', { n_clusters: 3, verbose: 1, random_state: 0 }],
      ['compute_labels false', { n_clusters: 3, compute_labels: false, random_state: 0 }],
      ['tol', { n_clusters: 3, tol: 1e-3, random_state: 0 }],
      ['max_no_improvement', { n_clusters: 3, max_no_improvement: 2, random_state: 0 }],
      ['max_no_improvement null', { n_clusters: 3, max_no_improvement: null, max_iter: 3, random_state: 0 }],
      ['init_size', { n_clusters: 3, init_size: 40, random_state: 0 }],
      ['n_init', { n_clusters: 3, n_init: 4, init: 'random', random_state: 0 }],
      ['reassignment_ratio', { n_clusters: 4, reassignment_ratio: 0.2, batch_size: 16, random_state: 0 }],
    ]
    const cases: ReferenceCase[] = configs.map(([, options]) => ({ X, options: options as Record<string, unknown> }))
    const sw = X.map((_, i) => 1 + (i % 3))
    cases.push({ X, options: { n_clusters: 3, random_state: 7 }, sample_weight: sw })
    let refs: ReturnType<typeof sklearnReference>
    before(() => {
      refs = sklearnReference(cases)
    })

    configs.forEach(([name, options], i) => {
      it(`option: ${name}`, async () => {
        const ref = refs[i]!
        const m = await fitted(options)
        assertClose(await m.cluster_centers_, ref.centers, 1e-6, 1e-9, 'cluster_centers_')
        if (options.compute_labels === false) {
          await assert.rejects(m.labels_, NotFittedError)
        } else {
          assert.deepEqual(await m.labels_, ref.labels)
        }
        assertClose([await m.inertia_], [ref.inertia], 1e-6, 1e-9, 'inertia_')
        assert.equal(await m.n_iter_, ref.n_iter)
        assert.equal(await m.n_steps_, ref.n_steps)
        assert.equal(await m.n_features_in_, 4)
        await m.dispose()
      })
    })

    it('sample_weight (number[] and Float64Array)', async () => {
      const ref = refs[configs.length]!
      for (const weights of [sw, Float64Array.from(sw)]) {
        const m = await fitted({ n_clusters: 3, random_state: 7 }, { X, sample_weight: weights })
        assert.deepEqual(await m.labels_, ref.labels)
        assertClose(await m.cluster_centers_, ref.centers)
        await m.dispose()
      }
    })
  })

  describe('methods', () => {
    it('predict, fit_predict, transform, fit_transform, score', async () => {
      const m = await fitted({ n_clusters: 3, random_state: 0 })
      const labels = await m.labels_
      const predicted = await m.predict({ X })
      assert.deepEqual(predicted, labels)
      assert.ok(predicted.every((l) => Number.isInteger(l) && l >= 0 && l < 3))
      const d = await m.transform({ X: X.slice(0, 5) })
      assert.equal(d.length, 5)
      assert.equal(d[0]?.length, 3)
      // The nearest centroid by transform is the predicted label.
      d.forEach((row, i) => assert.equal(row.indexOf(Math.min(...row)), labels[i]))
      const score = await m.score({ X })
      assertClose([score], [-(await m.inertia_)], 1e-6)
      const scoreW = await m.score({ X, sample_weight: X.map(() => 2) })
      assertClose([scoreW], [2 * score], 1e-6)

      const m2 = new MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
      await m2.init(py)
      assert.deepEqual(await m2.fit_predict({ X, y: null }), labels)
      assert.equal(await m2.fit({ X, y: null, sample_weight: null }), m2)
      const m3 = new MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
      await m3.init(py)
      const ft = await m3.fit_transform({ X })
      assertClose(ft, await m.transform({ X }))
      for (const model of [m, m2, m3]) await model.dispose()
    })

    it('partial_fit resolves to the model and counts steps', async () => {
      const m = new MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
      await m.init(py)
      assert.equal(await m.partial_fit({ X: X.slice(0, 150) }), m)
      assert.equal(await m.partial_fit({ X: X.slice(150) }), m)
      assert.equal(await m.n_steps_, 2)
      assert.equal((await m.cluster_centers_).length, 3)
      await m.dispose()
    })

    it('get_feature_names_out and get_metadata_routing', async () => {
      const m = await fitted({ n_clusters: 3, random_state: 0 })
      assert.deepEqual(await m.get_feature_names_out(), ['minibatchkmeans0', 'minibatchkmeans1', 'minibatchkmeans2'])
      assert.deepEqual(await m.get_feature_names_out({ input_features: null }), ['minibatchkmeans0', 'minibatchkmeans1', 'minibatchkmeans2'])
      const routing = await m.get_metadata_routing()
      assert.deepEqual(routing.fit, { sample_weight: null })
      await m.dispose()
    })

    it('set_fit_request, set_partial_fit_request, set_score_request resolve to the model', async () => {
      const m = new MiniBatchKMeans({ n_clusters: 3 })
      await m.init(py)
      assert.equal(await m.set_fit_request({ sample_weight: true }), m)
      assert.equal(await m.set_partial_fit_request({ sample_weight: false }), m)
      assert.equal(await m.set_score_request({ sample_weight: 'weights' }), m)
      assert.deepEqual(await m.get_metadata_routing(), {
        fit: { sample_weight: true },
        partial_fit: { sample_weight: false },
        score: { sample_weight: 'weights' },
      })
      await m.dispose()
    })

    it('set_output: pandas tables come back as matrices; polars needs polars', async () => {
      const m = await fitted({ n_clusters: 3, random_state: 0 })
      const plain = await m.transform({ X })
      assert.equal(await m.set_output({ transform: 'pandas' }), m)
      assert.deepEqual(await m.transform({ X }), plain)
      assert.equal(await m.set_output({ transform: 'default' }), m)
      // Without polars on the server this is missing_dependency; with it, it works.
      const polars = await m.set_output({ transform: 'polars' }).then(
        (r) => r === m,
        (e: unknown) => e instanceof MissingDependencyError && e.code === 'missing_dependency',
      )
      assert.ok(polars)
      await m.dispose()
    })
  })

  describe('array inputs', () => {
    it('Float32 data keeps float32: centers come back float32', async () => {
      const data = Float32Array.from(X.flat())
      const [ref] = sklearnReference([{ X, options: { n_clusters: 3, random_state: 0 }, float32: true }])
      const m = await fitted({ n_clusters: 3, random_state: 0 }, { X: { data, shape: [300, 4] } })
      const centers = await m.cluster_centers_
      for (const v of centers.flat()) assert.equal(Math.fround(v), v, 'centers are float32 values')
      assertClose(centers, ref!.centers, 1e-5, 1e-6)
      assert.deepEqual(await m.labels_, ref!.labels)
      // Rows of Float32Array are float32 as well.
      const rows = X.map((r) => Float32Array.from(r))
      const m2 = await fitted({ n_clusters: 3, random_state: 0 }, { X: rows })
      assert.deepEqual(await m2.cluster_centers_, centers)
      await m.dispose()
      await m2.dispose()
    })

    it('typed-array rows, ndarray-like and number[][] agree', async () => {
      const a = await fitted({ n_clusters: 3, random_state: 0 })
      const b = await fitted({ n_clusters: 3, random_state: 0 }, { X: X.map((r) => Float64Array.from(r)) })
      const c = await fitted({ n_clusters: 3, random_state: 0 }, { X: { data: Float64Array.from(X.flat()), shape: [300, 4] } })
      const centers = await a.cluster_centers_
      assert.deepEqual(await b.cluster_centers_, centers)
      assert.deepEqual(await c.cluster_centers_, centers)
      for (const m of [a, b, c]) await m.dispose()
    })

    it('integer typed arrays are accepted', async () => {
      const data = Int32Array.from(X.flat(), (v) => Math.round(v * 10))
      const m = await fitted({ n_clusters: 3, random_state: 0 }, { X: { data, shape: [300, 4] } })
      assert.equal((await m.cluster_centers_).length, 3)
      await m.dispose()
    })

    it('CSR matrices match scikit-learn on scipy.sparse input', async () => {
      const dense = X.map((r) => r.map((v) => (v > 3 ? v : 0)))
      const data: number[] = []
      const indices: number[] = []
      const indptr = [0]
      for (const row of dense) {
        row.forEach((v, j) => {
          if (v !== 0) {
            data.push(v)
            indices.push(j)
          }
        })
        indptr.push(data.length)
      }
      const csr: CsrMatrix = { format: 'csr', data: Float64Array.from(data), indices: Int32Array.from(indices), indptr: Int32Array.from(indptr), shape: [300, 4] }
      const [ref] = sklearnReference([{ X: dense, options: { n_clusters: 3, random_state: 0 }, sparse: true }])
      const m = await fitted({ n_clusters: 3, random_state: 0 }, { X: csr })
      assertClose(await m.cluster_centers_, ref!.centers)
      assert.deepEqual(await m.labels_, ref!.labels)
      assert.deepEqual(await m.predict({ X: csr }), ref!.labels)
      await m.dispose()
    })

    it('columns set feature_names_in_ and are checked later', async () => {
      const columns = ['a', 'b', 'c', 'd']
      const m = await fitted({ n_clusters: 3, random_state: 0 }, { X: { data: Float64Array.from(X.flat()), shape: [300, 4], columns } })
      assert.deepEqual(await m.feature_names_in_, columns)
      assert.deepEqual(await m.get_feature_names_out({ input_features: columns }), ['minibatchkmeans0', 'minibatchkmeans1', 'minibatchkmeans2'])
      await assert.rejects(
        m.predict({ X: { data: Float64Array.from(X.flat()), shape: [300, 4], columns: ['d', 'c', 'b', 'a'] } }),
        (e: unknown) => e instanceof EstimatorError && /feature names/i.test(e.message),
      )
      const plain = await fitted({ n_clusters: 3, random_state: 0 })
      await assert.rejects(plain.feature_names_in_, NotFittedError)
      await m.dispose()
      await plain.dispose()
    })
  })

  describe('concurrency', () => {
    it('Promise.all over 4 models with different data gives each its own result', async () => {
      const datasets = [0, 1, 2, 3].map((k) => blobs(CENTERS.map((c) => c.map((v) => v + 20 * k)), 60 + 20 * k, 10 + k))
      const refs = sklearnReference(datasets.map((d) => ({ X: d, options: { n_clusters: 3, random_state: 0 } })))
      const models = datasets.map(() => new MiniBatchKMeans({ n_clusters: 3, random_state: 0 }))
      await Promise.all(models.map((m) => m.init(py)))
      const results = await Promise.all(
        models.map(async (m, k) => {
          await m.fit({ X: datasets[k]! })
          return Promise.all([m.cluster_centers_, m.labels_, m.predict({ X: datasets[k]! })])
        }),
      )
      results.forEach(([centers, labels, predicted], k) => {
        assertClose(centers, refs[k]!.centers, 1e-6, 1e-9, `model ${k} centers`)
        assert.deepEqual(labels, refs[k]!.labels)
        assert.deepEqual(predicted, refs[k]!.labels)
      })
      await Promise.all(models.map((m) => m.dispose()))
    })
  })

  describe('misuse and bad input', () => {
    it('methods and accessors before init reject with NotInitializedError', async () => {
      const m = new MiniBatchKMeans()
      await assert.rejects(m.fit({ X }), (e: unknown) => e instanceof NotInitializedError && e.code === 'not_initialized')
      await assert.rejects(m.predict({ X }), NotInitializedError)
      await assert.rejects(m.cluster_centers_, NotInitializedError)
      await assert.rejects(m.n_iter_, NotInitializedError)
    })

    it('init twice rejects with AlreadyInitializedError (also while the first is in flight)', async () => {
      const m = new MiniBatchKMeans()
      const first = m.init(py)
      await assert.rejects(m.init(py), (e: unknown) => e instanceof AlreadyInitializedError && e.code === 'already_initialized')
      await first
      await assert.rejects(m.init(py), AlreadyInitializedError)
      await m.dispose()
    })

    it('use after dispose rejects with DisposedError', async () => {
      const m = await fitted({ n_clusters: 3 })
      await m.dispose()
      await assert.rejects(m.predict({ X }), (e: unknown) => e instanceof DisposedError && e.code === 'disposed')
      await assert.rejects(m.labels_, DisposedError)
      await assert.rejects(m.init(py), DisposedError)
      // The server forgot the id.
      await assert.rejects(py.request('get', { instance: m.id, attribute: 'n_iter_' }), UnknownInstanceError)
    })

    it('init with a disconnected bridge rejects with BridgeDisconnectedError', async () => {
      const other = await startBridge()
      await other.disconnect()
      assert.equal(other.isConnected, false)
      await assert.rejects(new MiniBatchKMeans().init(other), (e: unknown) => e instanceof BridgeDisconnectedError && e.code === 'disconnected')
      await other.disconnect() // idempotent
    })

    it('invalid options reject at init with InvalidParamsError listing the fields', async () => {
      const m = new MiniBatchKMeans({ n_clusters: -1, batch_size: 0, ...({ n_cluster: 3 } as object) })
      await assert.rejects(m.init(py), (e: unknown) => {
        assert.ok(e instanceof InvalidParamsError)
        assert.equal(e.code, 'invalid_params')
        assert.deepEqual(e.details.map((d) => d.field).sort(), ['batch_size', 'n_cluster', 'n_clusters'])
        assert.equal(e.details.find((d) => d.field === 'n_clusters')?.value, -1)
        return true
      })
      assert.equal(m._isInitialized, false)
      await assert.rejects(new MiniBatchKMeans({ init: 'nope' as 'random' }).init(py), InvalidParamsError)
      await assert.rejects(new MiniBatchKMeans({ random_state: 1.5 }).init(py), InvalidParamsError)
    })

    it('invalid params reject with InvalidParamsError', async () => {
      const m = new MiniBatchKMeans({ n_clusters: 3 })
      await m.init(py)
      await assert.rejects(m.fit({} as never), (e: unknown) => e instanceof InvalidParamsError && e.details.some((d) => d.field === 'X'))
      await assert.rejects(m.fit({ X, sample_weight: 'x' } as never), (e: unknown) => e instanceof InvalidParamsError && e.details.some((d) => d.field === 'sample_weight'))
      await assert.rejects(m.fit({ X, y: [1, 2] } as never), (e: unknown) => e instanceof InvalidParamsError && e.details.some((d) => d.field === 'y'))
      await assert.rejects(m.fit({ X, extra: 1 } as never), (e: unknown) => e instanceof InvalidParamsError && e.details.some((d) => d.field === 'extra'))
      await assert.rejects(m.set_output({ transform: 'xml' } as never), InvalidParamsError)
      await m.dispose()
    })

    it('bad data: NotFittedError, EstimatorError, InvalidInputError', async () => {
      const m = new MiniBatchKMeans({ n_clusters: 3 })
      await m.init(py)
      await assert.rejects(m.predict({ X }), (e: unknown) => e instanceof NotFittedError && e.code === 'not_fitted')
      await assert.rejects(m.cluster_centers_, NotFittedError)
      await assert.rejects(m.fit({ X: [[1, 2], [3, 4]] }), (e: unknown) => e instanceof EstimatorError && /n_samples=2 should be >= n_clusters=3/.test(e.message))
      await assert.rejects(m.fit({ X: [[1, 2], [3]] }), (e: unknown) => e instanceof InvalidInputError && e.code === 'invalid_input')
      await assert.rejects(m.fit({ X: [[1, 'a']] as never }), InvalidInputError)
      await m.fit({ X })
      await assert.rejects(m.predict({ X: [[1, 2]] }), EstimatorError) // wrong feature count
      await m.dispose()
    })

    it('server-side codes for raw requests', async () => {
      await assert.rejects(py.request('nope'), UnknownOpError)
      await assert.rejects(py.request('init', { class: 'Nope', instance: 'Nope1', options: {} }), UnknownClassError)
      const m = new MiniBatchKMeans()
      await m.init(py)
      await assert.rejects(py.request('call', { instance: m.id, method: 'nope', params: {} }), UnknownMethodError)
      await assert.rejects(py.request('get', { instance: m.id, attribute: 'nope_' }), UnknownAttributeError)
      const twin = new MiniBatchKMeans()
      twin.id = m.id
      await assert.rejects(twin.init(py), (e: unknown) => e instanceof DuplicateInstanceError && e.code === 'duplicate_instance')
      await m.dispose()
    })
  })
})

describe('ndarray result mode', () => {
  let py: PythonBridge<'ndarray'>
  before(async () => {
    py = await createPythonBridge({ ...serverOptions(), ndarray: true })
  })
  after(async () => {
    await py.disconnect()
  })

  it('returns typed-array views with shapes and dtypes', async () => {
    assert.equal(py.resultMode, 'ndarray')
    const m = new MiniBatchKMeans<'ndarray'>({ n_clusters: 3, random_state: 0 })
    await m.init(py)
    await m.fit({ X })
    const centers: NdArray = await m.cluster_centers_
    assert.ok(centers.data instanceof Float64Array)
    assert.deepEqual(centers.shape, [3, 4])
    assert.equal(centers.dtype, 'float64')
    assert.equal(centers.data.byteOffset % 8, 0)
    const labels = await m.labels_
    assert.ok(labels.data instanceof Int32Array)
    assert.deepEqual(labels.shape, [300])
    const [ref] = sklearnReference([{ X, options: { n_clusters: 3, random_state: 0 } }])
    assert.deepEqual([...labels.data], ref!.labels)
    assertClose([...centers.data], ref!.centers.flat())
    const predicted = await m.predict({ X })
    assert.deepEqual([...predicted.data], ref!.labels)
    const d = await m.transform({ X })
    assert.deepEqual(d.shape, [300, 3])
    assert.deepEqual(await m.feature_names_in_.catch((e: unknown) => e instanceof NotFittedError), true)
    assert.equal(typeof (await m.inertia_), 'number')
    await m.set_output({ transform: 'pandas' })
    const table = await m.transform({ X })
    assert.deepEqual(table.columns, ['minibatchkmeans0', 'minibatchkmeans1', 'minibatchkmeans2'])
    assert.deepEqual([...table.data], [...d.data])
    await m.dispose()
  })

  it('float32 fits give Float32Array centers', async () => {
    const m = new MiniBatchKMeans<'ndarray'>({ n_clusters: 3, random_state: 0 })
    await m.init(py)
    await m.fit({ X: { data: Float32Array.from(X.flat()), shape: [300, 4] } })
    const centers = await m.cluster_centers_
    assert.ok(centers.data instanceof Float32Array)
    assert.equal(centers.dtype, 'float32')
    await m.dispose()
  })
})
