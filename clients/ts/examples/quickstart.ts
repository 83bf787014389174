/**
 * Quick start: start a Python server from Node, cluster a data set with MiniBatchKMeans,
 * and print what came back. Run with `bash scripts/demo` from the repository root.
 *
 * The code is what a scikit-learn-ts user writes, with `import * as sklearn from 'skbridge'`
 * in place of `'sklearn'`.
 */

import * as sklearn from 'skbridge'

/** A seeded generator (mulberry32) so every run clusters the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Gaussian blobs: `n` points in `d` dimensions around `k` random centres, row-major. */
function blobs(n: number, d: number, k: number, seed: number): { X: Float64Array; truth: Int32Array } {
  const next = rng(seed)
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => 20 * next() - 10))
  const X = new Float64Array(n * d)
  const truth = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(next() * k)
    truth[i] = c
    const centre = centres[c] ?? []
    for (let j = 0; j < d; j++) X[i * d + j] = (centre[j] ?? 0) + gauss()
  }
  return { X, truth }
}

const n = 200_000
const d = 16
const k = 6
const { X } = blobs(n, d, k, 42)

const started = performance.now()
const py = await sklearn.createPythonBridge()
const info = await py.info()
console.log(
  `server ready: skbridge ${info.server}, Python ${info.python}, NumPy ${info.numpy}, ` +
    `scikit-learn ${info.scikit_learn}`,
)

const model = new sklearn.MiniBatchKMeans({ n_clusters: k, random_state: 0, batch_size: 2048 })
try {
  await model.init(py)
  const t0 = performance.now()
  await model.fit({ X: { data: X, shape: [n, d] } })
  const fitMs = performance.now() - t0

  const centres = await model.cluster_centers_
  const labels = await model.labels_
  const sizes = new Array<number>(k).fill(0)
  for (const label of labels) sizes[label] = (sizes[label] ?? 0) + 1

  console.log(`clustered ${n} x ${d} points into ${k} clusters in ${fitMs.toFixed(1)} ms`)
  console.log(`  mini-batch steps: ${await model.n_steps_}, passes over the data: ${await model.n_iter_}`)
  console.log(`  inertia: ${(await model.inertia_).toFixed(1)}`)
  console.log(`  cluster sizes: ${sizes.join(', ')}`)
  centres.forEach((centre, i) => {
    const head = centre.slice(0, 4).map((v) => v.toFixed(2).padStart(6))
    console.log(`  centre ${i}: [${head.join(', ')}, ...]`)
  })

  const newPoints = [Array.from({ length: d }, () => 0), Array.from(X.subarray(0, d))]
  console.log(`  predict([origin, first point]) = [${(await model.predict({ X: newPoints })).join(', ')}]`)

  // Options are checked by the server against the contract: a typo is a typed error.
  const typo = new sklearn.MiniBatchKMeans({ n_cluster: 3 } as unknown as sklearn.MiniBatchKMeansOptions)
  await typo.init(py).catch((err: unknown) => {
    if (err instanceof sklearn.InvalidParamsError) {
      console.log(`  a misspelt option is refused: ${err.code}: ${err.message}`)
    } else {
      throw err
    }
  })
} finally {
  await model.dispose()
  await py.disconnect()
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`)
