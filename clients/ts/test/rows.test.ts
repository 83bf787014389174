import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { InvalidInputError } from '../src/index.js'
import { fromRows } from '../src/rows.js'

function invalid(pattern: RegExp, field = 'X'): (e: unknown) => boolean {
  return (e: unknown) => e instanceof InvalidInputError && e.code === 'invalid_input' && e.field === field && pattern.test(e.message)
}

describe('fromRows: number rows in one pass', () => {
  it('copies every element in row-major order', () => {
    const rows = Array.from({ length: 50 }, (_, i) => Array.from({ length: 7 }, (_, j) => i * 7 + j + 0.5))
    const d = fromRows(rows, 'X')
    assert.equal(d.dtype, 'float64')
    assert.deepEqual(d.shape, [50, 7])
    assert.deepEqual([...d.data], rows.flat())
  })

  it('keeps NaN and infinities (the server checks finiteness) and integer rows', () => {
    const d = fromRows([[1, Number.NaN], [Number.POSITIVE_INFINITY, 2]], 'X')
    assert.ok(Number.isNaN(d.data[1]))
    assert.equal(d.data[2], Number.POSITIVE_INFINITY)
    assert.deepEqual([...fromRows([[1, 2], [3, 4]]).data], [1, 2, 3, 4])
  })

  it('converts bigints', () => {
    assert.deepEqual([...fromRows([[1n, 2], [3, 4n]] as unknown as number[][]).data], [1, 2, 3, 4])
  })

  it('names the offending element, row and field', () => {
    assert.throws(() => fromRows([[1, 2], [3, '4']] as unknown as number[][], 'X'), invalid(/^X: element \[1\]\[1\] is string, expected a number$/))
    assert.throws(() => fromRows([[1, 2], [3, null]] as unknown as number[][], 'X'), invalid(/element \[1\]\[1\] is object/))
    // A hole reads as undefined.
    // eslint-disable-next-line no-sparse-arrays
    assert.throws(() => fromRows([[1, , 3]] as unknown as number[][], 'X'), invalid(/element \[0\]\[1\] is undefined/))
    assert.throws(() => fromRows([[1, 2], [3, 4, 5]], 'X'), invalid(/row 1 has 3 elements, row 0 has 2 \(ragged rows\)/))
    assert.throws(() => fromRows([[1, 2], 'ab'] as unknown as number[][], 'X'), invalid(/row 1 is not an array/))
    assert.throws(() => fromRows([[1, 2], { length: 2 }] as unknown as number[][], 'X'), invalid(/row 1 is not an array/))
    assert.throws(() => fromRows([3, [1, 2]] as unknown as number[][], 'X'), invalid(/expected an array of rows/))
  })

  it('typed rows after a plain first row give float64', () => {
    const d = fromRows([[1, 2], new Float32Array([3, 4]), new Int32Array([5, 6])], 'X')
    assert.equal(d.dtype, 'float64')
    assert.deepEqual([...d.data], [1, 2, 3, 4, 5, 6])
    assert.throws(() => fromRows([[1, 2], new Float32Array([3])], 'X'), invalid(/ragged/))
    assert.throws(() => fromRows([new Float64Array([1, 2]), [3, 'x']] as unknown as number[][], 'X'), invalid(/element \[1\]\[1\] is string/))
  })

  it('rows of one typed-array type keep their dtype, BigInt64 rows become float64', () => {
    assert.equal(fromRows([new Uint8Array([1, 2]), new Uint8Array([3, 4])]).dtype, 'uint8')
    const b = fromRows([new BigInt64Array([1n, 2n]), new BigInt64Array([3n, 4n])])
    assert.equal(b.dtype, 'float64')
    assert.deepEqual([...b.data], [1, 2, 3, 4])
  })
})
