/**
 * The array types skbridge accepts and returns. `DType` and `TypedArray` come from the
 * contract's dtype list (generated).
 *
 * @module
 */

import type { Dataset } from './dataset.js'
import type { DType, TypedArray } from './generated/dtypes.js'

export type { DType, TypedArray } from './generated/dtypes.js'

/**
 * A dense n-dimensional array: a flat C-ordered (row-major) buffer plus its shape.
 * This is the shape results take when the bridge runs with `{ ndarray: true }`.
 *
 * @example
 * ```ts
 * const X: NdArray = { data: new Float64Array([1, 2, 3, 4]), shape: [2, 2], columns: ['a', 'b'] }
 * ```
 */
export interface NdArray<T extends TypedArray = TypedArray> {
  /** The elements, row-major. `data.length` equals the product of `shape`. */
  data: T
  /** The dimensions, e.g. `[n_samples, n_features]`. */
  shape: number[]
  /** The wire dtype; inferred from `data` when absent (set `'bool'` for boolean `Uint8Array`s). */
  dtype?: DType
  /** Column (feature) names of a 2-D array; they set `feature_names_in_` on fit. */
  columns?: string[]
}

/**
 * An ndarray-like input: like {@link NdArray} but `data` may also be a plain number array.
 *
 * @example
 * ```ts
 * const X: NdArrayLike = { data: [1, 2, 3, 4, 5, 6], shape: [3, 2] }
 * ```
 */
export interface NdArrayLike {
  /** The elements, row-major. */
  data: TypedArray | readonly number[]
  /** The dimensions. */
  shape: readonly number[]
  /** Optional explicit dtype (only `'bool'` needs it; otherwise inferred from `data`). */
  dtype?: DType
  /** Column (feature) names of a 2-D array. */
  columns?: readonly string[]
}

/**
 * A compressed sparse row matrix, as in `scipy.sparse.csr_matrix((data, indices, indptr), shape)`.
 *
 * @example
 * ```ts
 * // [[1, 0], [0, 2]]
 * const S: CsrMatrix = {
 *   format: 'csr',
 *   data: new Float64Array([1, 2]),
 *   indices: new Int32Array([0, 1]),
 *   indptr: new Int32Array([0, 1, 2]),
 *   shape: [2, 2],
 * }
 * ```
 */
export interface CsrMatrix {
  /** Always `'csr'`. */
  format: 'csr'
  /** Non-zero values (float32 or float64; number arrays become float64). */
  data: Float32Array | Float64Array | readonly number[]
  /** Column index of each value (int32 or int64; number arrays become int32). */
  indices: Int32Array | BigInt64Array | readonly number[]
  /** Row start offsets into `data`, length `n_rows + 1`. */
  indptr: Int32Array | BigInt64Array | readonly number[]
  /** `[n_rows, n_cols]`. */
  shape: readonly [number, number] | readonly number[]
}

/**
 * 2-D data sent with a request: rows of numbers, rows of typed arrays, an ndarray-like
 * object or a CSR matrix.
 *
 * @example
 * ```ts
 * const a: MatrixData = [[1, 2], [3, 4]]
 * const b: MatrixData = [new Float32Array([1, 2]), new Float32Array([3, 4])]
 * const c: MatrixData = { data: new Float64Array([1, 2, 3, 4]), shape: [2, 2] }
 * ```
 */
export type MatrixData =
  | readonly (readonly number[])[]
  | readonly TypedArray[]
  | NdArrayLike
  | CsrMatrix

/**
 * Anything accepted where a 2-D array (`X`) is expected in a method's parameters:
 * {@link MatrixData} or a {@link Dataset} handle from `py.dataset(data)`.
 *
 * @example
 * ```ts
 * const a: MatrixInput = [[1, 2], [3, 4]]
 * const b: MatrixInput = await py.dataset({ data: new Float64Array([1, 2, 3, 4]), shape: [2, 2] })
 * ```
 */
export type MatrixInput = MatrixData | Dataset

/**
 * 1-D data sent with a request: numbers, a typed array or an ndarray-like object.
 *
 * @example
 * ```ts
 * const w: VectorData = new Float64Array([1, 1, 2])
 * ```
 */
export type VectorData = readonly number[] | TypedArray | NdArrayLike

/**
 * Anything accepted where a 1-D array (`sample_weight`) is expected: {@link VectorData}
 * or a {@link Dataset} handle.
 *
 * @example
 * ```ts
 * const w: VectorInput = new Float64Array([1, 1, 2])
 * ```
 */
export type VectorInput = VectorData | Dataset

/**
 * How results come back: `'plain'` (default) gives `number[][]` / `number[]` like
 * scikit-learn-ts; `'ndarray'` gives {@link NdArray} views over the received bytes.
 *
 * @example
 * ```ts
 * const py = await createPythonBridge({ ndarray: true }) // PythonBridge<'ndarray'>
 * ```
 */
export type ResultMode = 'plain' | 'ndarray'

/**
 * A 2-D result in the given mode.
 *
 * @example
 * ```ts
 * const centers: MatrixResult = await model.cluster_centers_ // number[][]
 * ```
 */
export type MatrixResult<M extends ResultMode = 'plain'> = M extends 'ndarray' ? NdArray : number[][]

/**
 * A 1-D result in the given mode.
 *
 * @example
 * ```ts
 * const labels: VectorResult = await model.predict({ X }) // number[]
 * ```
 */
export type VectorResult<M extends ResultMode = 'plain'> = M extends 'ndarray' ? NdArray : number[]
