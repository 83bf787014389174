/**
 * Server-resident datasets: an array uploaded once with `py.dataset(data)` and referenced
 * by a {@link Dataset} handle in later calls, so large inputs cross the socket once
 * (protocol v1, operations `dataset`, `datasets` and `dispose` with `dataset`).
 *
 * @module
 */

import { randomBytes } from 'node:crypto'

import type { DType, MatrixData, TypedArray } from './array-types.js'
import { BridgeDisconnectedError, InvalidInputError, ServerExitedError } from './errors.js'
import { type CsrRef, DATASET_REF, type DatasetRef, FrameSink, type NdArrayRef, encodeValue } from './encode.js'
import type { CallOptions } from './call-options.js'

/**
 * What {@link PythonBridge.dataset} accepts: anything accepted as `X` (rows, typed rows,
 * `{ data, shape }` with optional `columns`, a CSR matrix) or a 1-D array.
 *
 * @example
 * ```ts
 * const data: DatasetInput = { data: new Float64Array(64), shape: [8, 8] }
 * ```
 */
export type DatasetInput = MatrixData | readonly number[] | TypedArray

/**
 * One stored dataset as the server describes it (result of `py.datasets()`).
 *
 * @example
 * ```ts
 * for (const d of await py.datasets()) console.log(d.dataset, d.shape, d.nbytes)
 * ```
 */
export interface DatasetInfo {
  /** The dataset id. */
  dataset: string
  /** The session that stored it. */
  owner: string
  /** Bytes held on the server. */
  nbytes: number
  /** `'ndarray'` (dense) or `'csr'`. */
  kind: 'ndarray' | 'csr'
  shape: number[]
  /** The element dtype as the server names it (empty for data with named columns). */
  dtype: string
  [key: string]: unknown
}

/**
 * Options of {@link PythonBridge.dataset}.
 *
 * @example
 * ```ts
 * const X = await py.dataset(rows, { id: 'train', timeout: 60_000 })
 * ```
 */
export interface DatasetOptions extends CallOptions {
  /**
   * The id to store it under (1-128 characters from `[A-Za-z0-9_.:-]`). Default: `ds`
   * followed by 16 random hex characters.
   */
  id?: string
}

/**
 * The part of a bridge a dataset needs: sending requests.
 *
 * @example
 * ```ts
 * const requester: DatasetRequester = py
 * ```
 */
export interface DatasetRequester {
  request(op: string, fields?: Record<string, unknown>, frames?: readonly Uint8Array[], options?: CallOptions): Promise<unknown>
}

/**
 * A handle on an array stored on the server, returned by `await py.dataset(data)`. Pass
 * it wherever an array goes in an estimator method of the same bridge (`fit({ X })`,
 * `predict({ X })`, `sample_weight`...): the server uses the stored array without
 * receiving or copying it again. Estimator options (`init`) take data, not handles.
 *
 * A handle belongs to the bridge (session) that uploaded it; another bridge's calls are
 * rejected with `UnknownInstanceError`, as are calls after {@link Dataset.dispose}.
 *
 * @example
 * ```ts
 * const X = await py.dataset(rows)
 * for (const k of [2, 3, 4]) {
 *   const model = new MiniBatchKMeans({ n_clusters: k, random_state: 0 })
 *   await model.init(py)
 *   await model.fit({ X })
 *   console.log(k, await model.inertia_)
 *   await model.dispose()
 * }
 * await X.dispose()
 * ```
 */
export class Dataset {
  /** The id on the server. */
  readonly id: string
  /** The array's shape (`[n_rows, n_cols]` for a matrix). */
  readonly shape: readonly number[]
  /** The element dtype (for CSR: of the stored values). */
  readonly dtype: DType
  /** Bytes held on the server. */
  readonly nbytes: number
  /** `'ndarray'` (dense) or `'csr'`. */
  readonly kind: 'ndarray' | 'csr'
  private readonly owner: DatasetRequester
  private disposed = false

  private constructor(owner: DatasetRequester, id: string, ref: NdArrayRef | CsrRef, nbytes: number) {
    this.owner = owner
    this.id = id
    this.shape = Object.freeze([...ref.shape])
    this.dtype = (ref.$type === 'csr' ? ref.data.dtype : ref.dtype) as DType
    this.nbytes = nbytes
    this.kind = ref.$type
  }

  /** @internal Builds the handle of what was uploaded; used by {@link uploadDataset}. */
  static _create(owner: DatasetRequester, id: string, ref: NdArrayRef | CsrRef, nbytes: number): Dataset {
    return new Dataset(owner, id, ref, nbytes)
  }

  /** `true` once {@link Dataset.dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed
  }

  /** @internal The wire reference, put in place of the data by the encoder. */
  [DATASET_REF](): DatasetRef {
    return { $type: 'dataset', id: this.id }
  }

  /**
   * Releases the array on the server. Dispose after the calls that use it have replied;
   * later calls with this handle reject with `UnknownInstanceError`. Calling it again does
   * nothing; a bridge already disconnected is not an error.
   *
   * @example
   * ```ts
   * await X.dispose()
   * ```
   */
  async dispose(options?: CallOptions): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    try {
      await this.owner.request('dispose', { dataset: this.id }, [], options)
    } catch (err) {
      if (err instanceof BridgeDisconnectedError || err instanceof ServerExitedError) return
      throw err
    }
  }

  /**
   * A short description, e.g. `Dataset(ds0123..., float64 [1000000, 32])`.
   *
   * @example
   * ```ts
   * console.log(String(X))
   * ```
   */
  toString(): string {
    return `Dataset(${this.id}, ${this.dtype} [${this.shape.join(', ')}]${this.disposed ? ', disposed' : ''})`
  }
}

/**
 * Uploads `data` and returns its handle; {@link PythonBridge.dataset} calls this.
 * Rejects with `InvalidInputError` for data that is not an array and with the server's
 * error (`DuplicateInstanceError` for an id in use, `ResourceExhaustedError` over the
 * memory limit, `InvalidArrayError`...) when the server refuses it.
 *
 * @example
 * ```ts
 * const X = await uploadDataset(py, { data: new Float32Array(6), shape: [3, 2] })
 * ```
 */
export async function uploadDataset(py: DatasetRequester, data: DatasetInput, options: DatasetOptions = {}): Promise<Dataset> {
  const { id = `ds${randomBytes(8).toString('hex')}`, ...callOptions } = options
  const sink = new FrameSink()
  const ref = encodeValue(data, sink, 'matrix', 'data') as NdArrayRef | CsrRef | { $type?: unknown } | null
  if (ref === null || typeof ref !== 'object' || (ref.$type !== 'ndarray' && ref.$type !== 'csr')) {
    throw new InvalidInputError('expected an array (rows, a typed array, { data, shape } or a CSR matrix)', 'data')
  }
  const array = ref as NdArrayRef | CsrRef
  const info = (await py.request('dataset', { dataset: id, data: array }, sink.frames, callOptions)) as DatasetInfo
  return Dataset._create(py, info.dataset, array, info.nbytes)
}
