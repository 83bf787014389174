/**
 * Packing rows (`number[][]`, typed-array rows) into one C-ordered typed array: the hot
 * path of scikit-learn-ts style input, so plain number rows take a single tight pass that
 * checks and copies each element straight into the preallocated result (a reused buffer
 * when one is free, see `pool.ts`).
 *
 * @module
 */

import { dtypeOf, isTypedArray } from './dtypes.js'
import { InvalidInputError } from './errors.js'
import type { TypedArrayCtor } from './generated/dtypes.js'
import { packingBuffer } from './pool.js'
import type { DenseArray } from './pack.js'

/**
 * Packs rows (number arrays or typed arrays) into one C-ordered typed array. Rows of one
 * typed-array type keep that type (Float32Array rows give float32); anything else gives
 * float64. Throws `InvalidInputError` naming `field` for ragged rows, a row that is not an
 * array and an element that is not a number (bigints are converted).
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
  if (Array.isArray(first)) {
    const packed = packNumberRows(rows, first.length, field)
    if (packed !== undefined) return { data: packed, dtype: 'float64', shape: [nRows, first.length] }
  } else if (!isTypedArray(first)) {
    throw new InvalidInputError('expected an array of rows', field)
  }
  return packMixedRows(rows, field)
}

/**
 * Plain arrays of numbers, in one pass. Returns `undefined` when a row is not a plain
 * array (typed rows mixed in, or garbage), for {@link packMixedRows} to handle or report.
 */
function packNumberRows(rows: readonly unknown[], nCols: number, field: string | undefined): Float64Array | undefined {
  const nRows = rows.length
  const data = packingBuffer(nRows * nCols)
  let k = 0
  for (let i = 0; i < nRows; i++) {
    const row = rows[i]
    if (!Array.isArray(row)) return undefined
    if (row.length !== nCols) throw raggedRow(i, row.length, nCols, field)
    for (let j = 0; j < nCols; j++) {
      const v: unknown = row[j]
      // `typeof` on an element of a double or small-integer array compiles to nothing.
      data[k++] = typeof v === 'number' ? v : notANumber(v, i, j, field)
    }
  }
  return data
}

/** Rows of typed arrays, or typed and plain rows mixed: validated first, then copied. */
function packMixedRows(rows: readonly unknown[], field: string | undefined): DenseArray {
  const nRows = rows.length
  const nCols = (rows[0] as ArrayLike<unknown>).length
  let common: TypedArrayCtor | undefined = isTypedArray(rows[0]) ? (rows[0].constructor as TypedArrayCtor) : undefined
  for (let i = 0; i < nRows; i++) {
    const row = rows[i]
    if (!Array.isArray(row) && !isTypedArray(row)) {
      throw new InvalidInputError(`row ${i} is not an array`, field)
    }
    if (row.length !== nCols) throw raggedRow(i, row.length, nCols, field)
    if (common !== undefined && row.constructor !== common) common = undefined
  }
  if (common !== undefined && common !== BigInt64Array && common !== BigUint64Array) {
    const data = new common(nRows * nCols)
    for (let i = 0; i < nRows; i++) (data as Float64Array).set(rows[i] as Float64Array, i * nCols)
    return { data, dtype: dtypeOf(data), shape: [nRows, nCols] }
  }
  const data = new Float64Array(nRows * nCols)
  let k = 0
  for (let i = 0; i < nRows; i++) {
    const row = rows[i] as ArrayLike<unknown>
    for (let j = 0; j < nCols; j++) {
      const v = row[j]
      data[k++] = typeof v === 'number' ? v : notANumber(v, i, j, field)
    }
  }
  return { data, dtype: 'float64', shape: [nRows, nCols] }
}

function raggedRow(i: number, length: number, nCols: number, field: string | undefined): InvalidInputError {
  return new InvalidInputError(`row ${i} has ${length} elements, row 0 has ${nCols} (ragged rows)`, field)
}

/** The value of a non-`number` element: a bigint converted, anything else an error. */
function notANumber(v: unknown, i: number, j: number, field: string | undefined): number {
  if (typeof v === 'bigint') return Number(v)
  throw new InvalidInputError(`element [${i}][${j}] is ${typeof v}, expected a number`, field)
}
