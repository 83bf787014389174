/**
 * Input arrays, second step: array references and their frames (protocol v1, section 2.3).
 *
 * Encoding walks a params/options object and replaces every numeric array with an
 * `{"$type": "ndarray" | "csr", ...}` reference whose bytes go into their own frame.
 *
 * @module
 */

import type { TypedArray } from './array-types.js'
import { dtypeOf, isTypedArray } from './dtypes.js'
import { InvalidInputError } from './errors.js'
import { type DenseArray, fromCsr, fromNdArrayLike, fromNumbers, fromRows, isCsrMatrix, isNdArrayLike } from './pack.js'

/**
 * The kind of value a field holds, from the contract's `x-kind` keyword.
 *
 * @example
 * ```ts
 * const k: ArrayKind = MiniBatchKMeansContract.methods.fit.params.X // 'matrix'
 * ```
 */
export type ArrayKind = 'matrix' | 'vector' | 'strings'

/**
 * `{"$type": "ndarray", ...}` as it travels in a header.
 *
 * @example
 * ```ts
 * const ref: NdArrayRef = { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [1000, 32] }
 * ```
 */
export interface NdArrayRef {
  $type: 'ndarray'
  frame: number
  dtype: string
  shape: number[]
  columns?: string[]
}

/**
 * `{"$type": "csr", ...}` as it travels in a header.
 *
 * @example
 * ```ts
 * const ref = encodeValue({ format: 'csr', data: [1], indices: [0], indptr: [0, 1], shape: [1, 2] }, new FrameSink()) as CsrRef
 * ```
 */
export interface CsrRef {
  $type: 'csr'
  shape: number[]
  data: NdArrayRef
  indices: NdArrayRef
  indptr: NdArrayRef
}

/**
 * `{"$type": "dataset", ...}` as it travels in a header: a server-resident array.
 *
 * @example
 * ```ts
 * const ref: DatasetRef = { $type: 'dataset', id: 'ds1' }
 * ```
 */
export interface DatasetRef {
  $type: 'dataset'
  id: string
}

/**
 * Key of the method by which a dataset handle gives its wire reference; the encoder puts
 * that reference in place of the handle.
 *
 * @example
 * ```ts
 * const handle = { [DATASET_REF]: (): DatasetRef => ({ $type: 'dataset', id: 'ds1' }) }
 * encodeValue(handle, new FrameSink()) // { $type: 'dataset', id: 'ds1' }
 * ```
 */
export const DATASET_REF: unique symbol = Symbol('skbridge.datasetRef')

function isDatasetHandle(value: object): value is { [DATASET_REF](): DatasetRef } {
  return typeof (value as { [DATASET_REF]?: unknown })[DATASET_REF] === 'function'
}

/**
 * Collects the buffer frames of one message. Each reference gets its own frame, even when
 * the same typed array is passed twice (the protocol forbids reusing a frame).
 *
 * Frames are views over the caller's memory, not copies: they are on loan until the reply
 * to the request arrives.
 *
 * @example
 * ```ts
 * const sink = new FrameSink()
 * const ref = encodeValue(new Float64Array([1, 2]), sink) // { $type: 'ndarray', frame: 0, ... }
 * sink.frames.length // 1
 * ```
 */
export class FrameSink {
  /** The frames in order; frame `i` is referenced as `frame: i`. */
  readonly frames: Uint8Array[] = []

  /** Adds a view over `data`'s bytes and returns its frame index. */
  push(data: TypedArray): number {
    this.frames.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    return this.frames.length - 1
  }

  /** Total bytes in all frames. */
  get byteLength(): number {
    let n = 0
    for (const f of this.frames) n += f.byteLength
    return n
  }
}

function denseRef(dense: DenseArray, sink: FrameSink): NdArrayRef {
  const ref: NdArrayRef = { $type: 'ndarray', frame: sink.push(dense.data), dtype: dense.dtype, shape: dense.shape }
  if (dense.columns !== undefined) ref.columns = dense.columns
  return ref
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Encodes one value for a header, moving numeric arrays into frames of `sink`.
 *
 * - typed arrays and `number[]` → 1-D ndarray refs; rows (`number[][]`, typed-array rows)
 *   → 2-D refs; `{ data, shape }` → ndarray refs; `{ format: 'csr' }` → CSR refs;
 *   dataset handles → dataset refs;
 * - `string[]` stays a list; maps are encoded recursively; `undefined` map entries are dropped;
 * - `kind` (from the contract) only settles the empty-array case.
 *
 * @example
 * ```ts
 * const sink = new FrameSink()
 * encodeValue([[1, 2], [3, 4]], sink, 'matrix', 'X')
 * // { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2, 2] }
 * ```
 */
export function encodeValue(value: unknown, sink: FrameSink, kind?: ArrayKind, field?: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value
  }
  if (typeof value === 'bigint') return value
  if (value === undefined) return null
  if (isTypedArray(value)) {
    return denseRef({ data: value, dtype: dtypeOf(value), shape: [value.length] }, sink)
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      if (kind === 'matrix') return denseRef(fromRows([], field), sink)
      if (kind === 'vector') return denseRef(fromNumbers([], field), sink)
      return []
    }
    if (value.every((v) => typeof v === 'string')) return value
    if (value.every((v) => typeof v === 'number' || typeof v === 'boolean')) {
      return denseRef(fromNumbers(value, field), sink)
    }
    if (value.every((v) => Array.isArray(v) || isTypedArray(v))) {
      return denseRef(fromRows(value, field), sink)
    }
    if (kind !== undefined) {
      throw new InvalidInputError(`cannot interpret a list mixing ${describeMix(value)} as ${kind}`, field)
    }
    return value.map((v, i) => encodeValue(v, sink, undefined, field === undefined ? `[${i}]` : `${field}[${i}]`))
  }
  if (typeof value === 'object' && isDatasetHandle(value)) return value[DATASET_REF]()
  if (isCsrMatrix(value)) {
    const csr = fromCsr(value, field)
    return {
      $type: 'csr',
      shape: csr.shape,
      data: denseRef(csr.data, sink),
      indices: denseRef(csr.indices, sink),
      indptr: denseRef(csr.indptr, sink),
    } satisfies CsrRef
  }
  if (isNdArrayLike(value)) return denseRef(fromNdArrayLike(value, field), sink)
  if (isPlainObject(value)) return encodeMap(value, sink, undefined, field)
  throw new InvalidInputError(`cannot send a value of type ${Object.prototype.toString.call(value)}`, field)
}

function describeMix(values: readonly unknown[]): string {
  return [...new Set(values.map((v) => (Array.isArray(v) ? 'array' : typeof v)))].join(' and ')
}

/**
 * Encodes a map of named values (options or params), dropping `undefined` entries.
 *
 * @example
 * ```ts
 * const sink = new FrameSink()
 * encodeMap({ X: [[1], [2]], sample_weight: undefined }, sink, { X: 'matrix' })
 * // { X: { $type: 'ndarray', ... } }
 * ```
 */
export function encodeMap(
  values: Readonly<Record<string, unknown>>,
  sink: FrameSink,
  kinds?: Readonly<Record<string, ArrayKind | undefined>>,
  prefix?: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue
    out[key] = encodeValue(value, sink, kinds?.[key], prefix === undefined ? key : `${prefix}.${key}`)
  }
  return out
}
