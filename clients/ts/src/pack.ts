/**
 * Input arrays, first step: JavaScript values (rows, flat lists, ndarray-like objects, CSR
 * matrices) checked and packed into flat, C-ordered typed arrays with a dtype and a shape.
 * `encode.ts` then turns them into array references and frames.
 *
 * @module
 */

import type { CsrMatrix, NdArrayLike } from './array-types.js'
import { arrayNames, dtypeOf, elementCount, isDType, isTypedArray } from './dtypes.js'
import { InvalidInputError } from './errors.js'
import { DTYPE_ARRAY, type DType, SPARSE_DATA_DTYPES, SPARSE_INDEX_DTYPES, type TypedArray } from './generated/dtypes.js'

/**
 * Returns `true` for CSR matrix objects (`{ format: 'csr', ... }`).
 *
 * @example
 * ```ts
 * isCsrMatrix({ format: 'csr', data: [1], indices: [0], indptr: [0, 1], shape: [1, 1] }) // true
 * ```
 */
export function isCsrMatrix(value: unknown): value is CsrMatrix {
  return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === 'csr'
}

/**
 * Returns `true` for ndarray-like objects (`{ data, shape }`).
 *
 * @example
 * ```ts
 * isNdArrayLike({ data: new Float64Array(4), shape: [2, 2] }) // true
 * ```
 */
export function isNdArrayLike(value: unknown): value is NdArrayLike {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || isTypedArray(value)) return false
  const v = value as { data?: unknown; shape?: unknown }
  return (isTypedArray(v.data) || Array.isArray(v.data)) && Array.isArray(v.shape)
}

/**
 * A validated dense array, ready to be put in a frame.
 *
 * @example
 * ```ts
 * const d: DenseArray = { data: new Float64Array(4), dtype: 'float64', shape: [2, 2] }
 * ```
 */
export interface DenseArray {
  data: TypedArray
  dtype: DType
  shape: number[]
  columns?: string[]
}

function checkShape(shape: readonly number[], field: string | undefined): number[] {
  const out: number[] = []
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new InvalidInputError(`shape entries must be non-negative integers, got [${shape.join(', ')}]`, field)
    }
    out.push(d)
  }
  return out
}

function numbersToFloat64(values: readonly unknown[], field: string | undefined): Float64Array {
  const out = new Float64Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number') {
      throw new InvalidInputError(`element ${i} is ${typeof v}, expected a number`, field)
    }
    out[i] = v
  }
  return out
}

function columnsOf(columns: readonly unknown[] | undefined, nCols: number | undefined, field: string | undefined): string[] | undefined {
  if (columns === undefined) return undefined
  if (!columns.every((c): c is string => typeof c === 'string')) {
    throw new InvalidInputError('columns must be strings', field)
  }
  if (nCols !== undefined && columns.length !== nCols) {
    throw new InvalidInputError(`got ${columns.length} column names for ${nCols} columns`, field)
  }
  return [...columns]
}

/**
 * Converts an ndarray-like object to a validated dense array (no copy for typed data).
 *
 * @example
 * ```ts
 * fromNdArrayLike({ data: [1, 2, 3, 4], shape: [2, 2] }).dtype // 'float64'
 * ```
 */
export function fromNdArrayLike(value: NdArrayLike, field?: string): DenseArray {
  const shape = checkShape(value.shape, field)
  const data = isTypedArray(value.data) ? value.data : numbersToFloat64(value.data, field)
  if (data.length !== elementCount(shape)) {
    throw new InvalidInputError(
      `data has ${data.length} elements but shape [${shape.join(', ')}] needs ${elementCount(shape)}`,
      field,
    )
  }
  let dtype = dtypeOf(data)
  if (value.dtype !== undefined && value.dtype !== dtype) {
    // A dtype stored in another's typed array (bool in a Uint8Array) must be named.
    if (isDType(value.dtype) && data instanceof DTYPE_ARRAY[value.dtype]) dtype = value.dtype
    else throw new InvalidInputError(`dtype ${String(value.dtype)} does not match data of type ${dtype}`, field)
  }
  const dense: DenseArray = { data, dtype, shape }
  const columns = columnsOf(value.columns, shape.length === 2 ? shape[1] : undefined, field)
  if (columns !== undefined) {
    if (shape.length !== 2) throw new InvalidInputError('columns are only allowed on 2-D arrays', field)
    dense.columns = columns
  }
  return dense
}

export { fromRows } from './rows.js'

/**
 * Converts a flat list of numbers (or booleans) to a 1-D dense array.
 *
 * @example
 * ```ts
 * fromNumbers([1, 2, 3]).shape // [3]
 * ```
 */
export function fromNumbers(values: readonly unknown[], field?: string): DenseArray {
  if (values.length > 0 && values.every((v) => typeof v === 'boolean')) {
    return { data: Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0)), dtype: 'bool', shape: [values.length] }
  }
  return { data: numbersToFloat64(values, field), dtype: 'float64', shape: [values.length] }
}

/**
 * A validated CSR matrix, ready to be put in frames.
 *
 * @example
 * ```ts
 * const s: SparseArray = fromCsr({ format: 'csr', data: [1], indices: [0], indptr: [0, 1], shape: [1, 1] })
 * ```
 */
export interface SparseArray {
  shape: [number, number]
  data: DenseArray
  indices: DenseArray
  indptr: DenseArray
}

function indexArray(values: CsrMatrix['indices'], name: string, field: string | undefined): DenseArray {
  if (isTypedArray(values)) {
    const dtype = dtypeOf(values)
    if (!SPARSE_INDEX_DTYPES.includes(dtype)) {
      throw new InvalidInputError(`csr ${name} must be ${arrayNames(SPARSE_INDEX_DTYPES)}, got ${dtype}`, field)
    }
    return { data: values, dtype, shape: [values.length] }
  }
  const out = new Int32Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new InvalidInputError(`csr ${name}[${i}] must be a non-negative int32, got ${String(v)}`, field)
    }
    out[i] = v
  }
  return { data: out, dtype: 'int32', shape: [values.length] }
}

/**
 * Validates a CSR matrix (lengths only; index ranges are checked by the server).
 *
 * @example
 * ```ts
 * fromCsr({ format: 'csr', data: [1], indices: [0], indptr: [0, 1], shape: [1, 3] }).shape // [1, 3]
 * ```
 */
export function fromCsr(value: CsrMatrix, field?: string): SparseArray {
  const shape = checkShape(value.shape, field)
  if (shape.length !== 2) throw new InvalidInputError('csr shape must be [n_rows, n_cols]', field)
  const [nRows, nCols] = shape as [number, number]
  let data: DenseArray
  if (isTypedArray(value.data)) {
    const dtype = dtypeOf(value.data)
    if (!SPARSE_DATA_DTYPES.includes(dtype)) {
      throw new InvalidInputError(`csr data must be ${arrayNames(SPARSE_DATA_DTYPES)}, got ${dtype}`, field)
    }
    data = { data: value.data, dtype, shape: [value.data.length] }
  } else {
    data = { data: numbersToFloat64(value.data, field), dtype: 'float64', shape: [value.data.length] }
  }
  const indices = indexArray(value.indices, 'indices', field)
  const indptr = indexArray(value.indptr, 'indptr', field)
  if (indices.data.length !== data.data.length) {
    throw new InvalidInputError(`csr indices has ${indices.data.length} entries, data has ${data.data.length}`, field)
  }
  if (indptr.data.length !== nRows + 1) {
    throw new InvalidInputError(`csr indptr must have n_rows + 1 = ${nRows + 1} entries, got ${indptr.data.length}`, field)
  }
  return { shape: [nRows, nCols], data, indices, indptr }
}
