import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { toNested } from '../src/decode.js'
import { dtypeOf } from '../src/dtypes.js'
import { InvalidInputError } from '../src/index.js'
import { fromCsr, fromNdArrayLike, fromNumbers, fromRows, isCsrMatrix, isNdArrayLike } from '../src/pack.js'

describe('arrays: inputs', () => {
  it('packs number[][] row-major into float64', () => {
    const d = fromRows([
      [1, 2, 3],
      [4, 5, 6],
    ])
    assert.equal(d.dtype, 'float64')
    assert.deepEqual(d.shape, [2, 3])
    assert.deepEqual([...d.data], [1, 2, 3, 4, 5, 6])
  })

  it('keeps the type of typed-array rows', () => {
    const d = fromRows([new Float32Array([1, 2]), new Float32Array([3, 4])])
    assert.equal(d.dtype, 'float32')
    assert.ok(d.data instanceof Float32Array)
    const i = fromRows([new Int32Array([1, 2]), new Int32Array([3, 4])])
    assert.equal(i.dtype, 'int32')
  })

  it('mixed row types fall back to float64', () => {
    const d = fromRows([new Float32Array([1, 2]), [3, 4]])
    assert.equal(d.dtype, 'float64')
    assert.deepEqual([...d.data], [1, 2, 3, 4])
  })

  it('rejects ragged rows and non-numbers with InvalidInputError', () => {
    assert.throws(() => fromRows([[1, 2], [3]], 'X'), (e: unknown) => e instanceof InvalidInputError && e.code === 'invalid_input' && /ragged/.test(e.message) && e.field === 'X')
    assert.throws(() => fromRows([[1, 'a']] as unknown as number[][]), InvalidInputError)
    assert.throws(() => fromRows([1, 2] as unknown as number[][]), InvalidInputError)
  })

  it('empty rows give shape [0, 0]', () => {
    assert.deepEqual(fromRows([]).shape, [0, 0])
  })

  it('ndarray-like: typed data is not copied, number data becomes float64', () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6])
    const d = fromNdArrayLike({ data, shape: [3, 2], columns: ['a', 'b'] })
    assert.equal(d.data, data)
    assert.deepEqual(d.columns, ['a', 'b'])
    const e = fromNdArrayLike({ data: [1, 2, 3, 4], shape: [2, 2] })
    assert.equal(e.dtype, 'float64')
  })

  it('ndarray-like: checks length, columns and dtype', () => {
    assert.throws(() => fromNdArrayLike({ data: new Float64Array(5), shape: [3, 2] }), /needs 6/)
    assert.throws(() => fromNdArrayLike({ data: new Float64Array(6), shape: [3, 2], columns: ['a'] }), /1 column names for 2 columns/)
    assert.throws(() => fromNdArrayLike({ data: new Float64Array(6), shape: [3, -2] }), /non-negative/)
    assert.throws(() => fromNdArrayLike({ data: new Float64Array(6), shape: [6], dtype: 'int32' }), /does not match/)
    assert.equal(fromNdArrayLike({ data: new Uint8Array([1, 0]), shape: [2], dtype: 'bool' }).dtype, 'bool')
  })

  it('numbers and booleans', () => {
    assert.equal(fromNumbers([1, 2]).dtype, 'float64')
    const b = fromNumbers([true, false])
    assert.equal(b.dtype, 'bool')
    assert.deepEqual([...b.data], [1, 0])
    assert.throws(() => fromNumbers([1, 'x']), InvalidInputError)
  })

  it('dtypes of every typed array', () => {
    const cases: Array<[ArrayBufferView, string]> = [
      [new Int8Array(1), 'int8'],
      [new Uint8Array(1), 'uint8'],
      [new Uint8ClampedArray(1), 'uint8'],
      [new Int16Array(1), 'int16'],
      [new Uint16Array(1), 'uint16'],
      [new Int32Array(1), 'int32'],
      [new Uint32Array(1), 'uint32'],
      [new BigInt64Array(1), 'int64'],
      [new BigUint64Array(1), 'uint64'],
      [new Float32Array(1), 'float32'],
      [new Float64Array(1), 'float64'],
    ]
    for (const [arr, dt] of cases) assert.equal(dtypeOf(arr as Float64Array), dt)
  })

  it('csr: validates lengths, keeps typed arrays, converts number arrays', () => {
    const csr = fromCsr({ format: 'csr', data: [1, 2], indices: [0, 1], indptr: [0, 1, 2], shape: [2, 2] })
    assert.equal(csr.data.dtype, 'float64')
    assert.equal(csr.indices.dtype, 'int32')
    const f32 = fromCsr({ format: 'csr', data: new Float32Array([1]), indices: new BigInt64Array([0n]), indptr: new BigInt64Array([0n, 1n]), shape: [1, 3] })
    assert.equal(f32.data.dtype, 'float32')
    assert.equal(f32.indptr.dtype, 'int64')
    assert.throws(() => fromCsr({ format: 'csr', data: [1], indices: [0], indptr: [0, 1], shape: [2, 2] }), /n_rows \+ 1/)
    assert.throws(() => fromCsr({ format: 'csr', data: [1, 2], indices: [0], indptr: [0, 2], shape: [1, 2] }), /indices has 1/)
    assert.throws(() => fromCsr({ format: 'csr', data: new Int32Array(1), indices: [0], indptr: [0, 1], shape: [1, 1] } as never), /Float32Array/)
  })

  it('type guards', () => {
    assert.ok(isCsrMatrix({ format: 'csr' }))
    assert.ok(!isCsrMatrix([[1]]))
    assert.ok(isNdArrayLike({ data: new Float64Array(1), shape: [1] }))
    assert.ok(!isNdArrayLike(new Float64Array(1)))
    assert.ok(!isNdArrayLike([[1]]))
  })
})

describe('arrays: results', () => {
  it('toNested gives number[] and number[][]', () => {
    assert.deepEqual(toNested({ data: new Int32Array([0, 1, 2]), shape: [3] }), [0, 1, 2])
    assert.deepEqual(toNested({ data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] }), [
      [1, 2, 3],
      [4, 5, 6],
    ])
    assert.deepEqual(toNested({ data: new BigInt64Array([1n, 2n]), shape: [2] }), [1, 2])
    assert.deepEqual(toNested({ data: new Uint8Array([1, 0]), shape: [2], dtype: 'bool' }), [true, false])
    assert.deepEqual(toNested({ data: new Float64Array(0), shape: [0, 3] }), [])
    assert.deepEqual(toNested({ data: new Float64Array([1, 2, 3, 4, 5, 6, 7, 8]), shape: [2, 2, 2] }), [
      [[1, 2], [3, 4]],
      [[5, 6], [7, 8]],
    ])
  })
})
