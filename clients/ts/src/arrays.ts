/**
 * Array types accepted and returned by skbridge, and their conversion to and from the
 * flat, C-ordered typed arrays that travel in frames.
 *
 * @module
 */

import { InvalidInputError } from './errors.js'

/**
 * Element types of the wire protocol (`dtype` of an ndarray reference).
 *
 * @example
 * ```ts
 * const dt: DType = 'float32'
 * ```
 */
export type DType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64'

/**
 * Any JavaScript typed array that maps to a wire dtype.
 *
 * @example
 * ```ts
 * const t: TypedArray = new Float32Array([1, 2, 3])
 * ```
 */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

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
 * Anything accepted where a 2-D array (`X`, `init`) is expected: rows of numbers, rows of
 * typed arrays, an ndarray-like object or a CSR matrix.
 *
 * @example
 * ```ts
 * const a: MatrixInput = [[1, 2], [3, 4]]
 * const b: MatrixInput = [new Float32Array([1, 2]), new Float32Array([3, 4])]
 * const c: MatrixInput = { data: new Float64Array([1, 2, 3, 4]), shape: [2, 2] }
 * ```
 */
export type MatrixInput =
  | readonly (readonly number[])[]
  | readonly TypedArray[]
  | NdArrayLike
  | CsrMatrix

/**
 * Anything accepted where a 1-D array (`sample_weight`) is expected.
 *
 * @example
 * ```ts
 * const w: VectorInput = new Float64Array([1, 1, 2])
 * ```
 */
export type VectorInput = readonly number[] | TypedArray | NdArrayLike

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

/** A typed-array constructor. */
type TypedArrayCtor = {
  new (length: number): TypedArray
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray
  readonly BYTES_PER_ELEMENT: number
}

/**
 * dtype → the typed array used to hold it (`bool` uses `Uint8Array`).
 *
 * @example
 * ```ts
 * new DTYPE_ARRAY.float32(3) // Float32Array(3)
 * ```
 */
export const DTYPE_ARRAY: Readonly<Record<DType, TypedArrayCtor>> = {
  bool: Uint8Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  float32: Float32Array,
  float64: Float64Array,
}

/**
 * Returns `true` for the dtype names of the protocol.
 *
 * @example
 * ```ts
 * isDType('float32') // true
 * isDType('float16') // false
 * ```
 */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_ARRAY, value)
}

/**
 * Returns `true` when `value` is a typed array (any ArrayBuffer view except a DataView; Buffers count as Uint8Array).
 *
 * @example
 * ```ts
 * isTypedArray(new Int32Array(2)) // true
 * isTypedArray([1, 2]) // false
 * ```
 */
export function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView)
}

/**
 * The wire dtype of a typed array.
 *
 * @example
 * ```ts
 * dtypeOf(new Float32Array(1)) // 'float32'
 * ```
 */
export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float64Array) return 'float64'
  if (data instanceof Float32Array) return 'float32'
  if (data instanceof Int32Array) return 'int32'
  if (data instanceof Uint32Array) return 'uint32'
  if (data instanceof Int16Array) return 'int16'
  if (data instanceof Uint16Array) return 'uint16'
  if (data instanceof Int8Array) return 'int8'
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8'
  if (data instanceof BigInt64Array) return 'int64'
  if (data instanceof BigUint64Array) return 'uint64'
  throw new InvalidInputError(`unsupported typed array ${String(Object.prototype.toString.call(data))}`)
}

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

function product(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
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
  if (data.length !== product(shape)) {
    throw new InvalidInputError(
      `data has ${data.length} elements but shape [${shape.join(', ')}] needs ${product(shape)}`,
      field,
    )
  }
  let dtype = dtypeOf(data)
  if (value.dtype !== undefined) {
    if (value.dtype === 'bool' && dtype === 'uint8') dtype = 'bool'
    else if (value.dtype !== dtype) {
      throw new InvalidInputError(`dtype ${value.dtype} does not match data of type ${dtype}`, field)
    }
  }
  const dense: DenseArray = { data, dtype, shape }
  const columns = columnsOf(value.columns, shape.length === 2 ? shape[1] : undefined, field)
  if (columns !== undefined) {
    if (shape.length !== 2) throw new InvalidInputError('columns are only allowed on 2-D arrays', field)
    dense.columns = columns
  }
  return dense
}

/**
 * Packs rows (number arrays or typed arrays) into one C-ordered typed array. Rows of one
 * typed-array type keep that type (Float32Array rows give float32); anything else gives
 * float64.
 *
 * @example
 * ```ts
 * fromRows([[1, 2], [3, 4]]) // { data: Float64Array [1, 2, 3, 4], dtype: 'float64', shape: [2, 2] }
 * ```
 */
export function fromRows(rows: readonly unknown[], field?: string): DenseArray {
  const nRows = rows.length
  if (nRows === 0) return { data: new Float64Array(0), dtype: 'float64', shape: [0, 0] }
  const first = rows[0]
  if (!Array.isArray(first) && !isTypedArray(first)) {
    throw new InvalidInputError('expected an array of rows', field)
  }
  const nCols = first.length
  let common: TypedArrayCtor | undefined = isTypedArray(first) ? (first.constructor as TypedArrayCtor) : undefined
  for (let i = 0; i < nRows; i++) {
    const row = rows[i]
    if (!Array.isArray(row) && !isTypedArray(row)) {
      throw new InvalidInputError(`row ${i} is not an array`, field)
    }
    if (row.length !== nCols) {
      throw new InvalidInputError(`row ${i} has ${row.length} elements, row 0 has ${nCols} (ragged rows)`, field)
    }
    if (common !== undefined && row.constructor !== common) common = undefined
  }
  if (common !== undefined && common !== BigInt64Array && common !== BigUint64Array) {
    const data = new common(nRows * nCols)
    for (let i = 0; i < nRows; i++) (data as Float64Array).set(rows[i] as Float64Array, i * nCols)
    const dtype = dtypeOf(data)
    return { data, dtype, shape: [nRows, nCols] }
  }
  const data = new Float64Array(nRows * nCols)
  let k = 0
  for (let i = 0; i < nRows; i++) {
    const row = rows[i] as ArrayLike<unknown>
    for (let j = 0; j < nCols; j++) {
      const v = row[j]
      if (typeof v === 'number') data[k++] = v
      else if (typeof v === 'bigint') data[k++] = Number(v)
      else throw new InvalidInputError(`element [${i}][${j}] is ${typeof v}, expected a number`, field)
    }
  }
  return { data, dtype: 'float64', shape: [nRows, nCols] }
}

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
    if (dtype !== 'int32' && dtype !== 'int64') {
      throw new InvalidInputError(`csr ${name} must be Int32Array or BigInt64Array, got ${dtype}`, field)
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
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new InvalidInputError(`csr data must be Float32Array or Float64Array, got ${dtype}`, field)
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

function toNumber(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v
}

/**
 * Converts a dense array to nested plain JavaScript arrays: `number[]` for 1-D,
 * `number[][]` for 2-D (booleans for `bool`, int64 values become numbers).
 *
 * @example
 * ```ts
 * toNested({ data: new Float64Array([1, 2, 3, 4]), shape: [2, 2] }) // [[1, 2], [3, 4]]
 * ```
 */
export function toNested(array: NdArray): unknown {
  const { data, shape } = array
  const isBool = array.dtype === 'bool'
  const flat = (start: number, length: number): unknown[] => {
    const out = new Array<unknown>(length)
    for (let i = 0; i < length; i++) {
      const v = data[start + i] as number | bigint
      out[i] = isBool ? v !== 0 : toNumber(v)
    }
    return out
  }
  if (shape.length === 0) return flat(0, 1)[0]
  const build = (dim: number, offset: number): unknown[] => {
    const n = shape[dim] ?? 0
    if (dim === shape.length - 1) return flat(offset, n)
    const stride = product(shape.slice(dim + 1))
    const out = new Array<unknown>(n)
    for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride)
    return out
  }
  return build(0, 0)
}
