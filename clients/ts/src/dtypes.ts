/**
 * dtypes and shapes at run time: which names are dtypes, which typed arrays hold them, how
 * many elements a shape has. The dtype tables are generated from the contract's dtype list.
 *
 * @module
 */

import { endianness } from 'node:os'

import type { DType, TypedArray } from './array-types.js'
import { InvalidInputError } from './errors.js'
import { ARRAY_DTYPES, DTYPE_ARRAY } from './generated/dtypes.js'

if (endianness() !== 'LE') {
  // Frames are little-endian on the wire and typed arrays use the host order.
  throw new Error('skbridge needs a little-endian host')
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
  for (const [Ctor, dtype] of ARRAY_DTYPES) if (data instanceof Ctor) return dtype
  throw new InvalidInputError(`unsupported typed array ${String(Object.prototype.toString.call(data))}`)
}

/**
 * The typed-array type names that hold `dtypes`, for error messages.
 *
 * @example
 * ```ts
 * arrayNames(['float32', 'float64']) // 'Float32Array or Float64Array'
 * ```
 */
export function arrayNames(dtypes: readonly DType[]): string {
  return [...new Set(dtypes.map((d) => DTYPE_ARRAY[d].name))].join(' or ')
}

/**
 * The number of elements of an array of the given shape (1 for a scalar's `[]`).
 *
 * @example
 * ```ts
 * elementCount([3, 4]) // 12
 * ```
 */
export function elementCount(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}
