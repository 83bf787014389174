import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { decodeValue, frameView } from '../src/decode.js'
import { FrameSink, encodeMap, encodeValue } from '../src/encode.js'
import { InvalidInputError, ProtocolError } from '../src/index.js'

describe('frames: encoding', () => {
  it('number[][] becomes one float64 frame with the C-order bytes', () => {
    const sink = new FrameSink()
    const ref = encodeValue([[1, 2], [3, 4]], sink, 'matrix', 'X')
    assert.deepEqual(ref, { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2, 2] })
    assert.equal(sink.frames.length, 1)
    const f = sink.frames[0] as Buffer
    assert.equal(f.byteLength, 32)
    assert.equal(f.readDoubleLE(8), 2)
    assert.equal(f.readDoubleLE(16), 3)
  })

  it('typed arrays are sent without a copy, with their dtype', () => {
    const data = new Float32Array([1, 2, 3, 4])
    const sink = new FrameSink()
    const ref = encodeValue({ data, shape: [2, 2], columns: ['a', 'b'] }, sink)
    assert.deepEqual(ref, { $type: 'ndarray', frame: 0, dtype: 'float32', shape: [2, 2], columns: ['a', 'b'] })
    assert.equal((sink.frames[0] as Buffer).buffer, data.buffer)
  })

  it('views with an offset keep their offset', () => {
    const base = new Float64Array([9, 1, 2, 9])
    const view = base.subarray(1, 3)
    const sink = new FrameSink()
    encodeValue(view, sink, 'vector')
    const f = sink.frames[0] as Buffer
    assert.equal(f.byteOffset, 8)
    assert.equal(f.byteLength, 16)
    assert.equal(f.readDoubleLE(0), 1)
  })

  it('vectors, strings and scalars', () => {
    const sink = new FrameSink()
    const out = encodeMap(
      { sample_weight: [1, 2, 3], input_features: ['a', 'b'], n: 3, s: 'k-means++', b: true, z: null, u: undefined },
      sink,
      { sample_weight: 'vector', input_features: 'strings' },
    )
    assert.deepEqual(out, {
      sample_weight: { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [3] },
      input_features: ['a', 'b'],
      n: 3,
      s: 'k-means++',
      b: true,
      z: null,
    })
    assert.ok(!('u' in out))
  })

  it('empty arrays follow the contract kind', () => {
    const sink = new FrameSink()
    assert.deepEqual(encodeValue([], sink, 'matrix'), { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [0, 0] })
    assert.deepEqual(encodeValue([], sink, 'vector'), { $type: 'ndarray', frame: 1, dtype: 'float64', shape: [0] })
    assert.deepEqual(encodeValue([], sink, 'strings'), [])
  })

  it('every reference gets its own frame, even for the same array', () => {
    const data = new Float64Array([1, 2])
    const sink = new FrameSink()
    const out = encodeMap({ a: data, b: data }, sink)
    assert.equal((out.a as { frame: number }).frame, 0)
    assert.equal((out.b as { frame: number }).frame, 1)
  })

  it('csr matrices become csr references with three frames', () => {
    const sink = new FrameSink()
    const ref = encodeValue({ format: 'csr', data: [1, 2], indices: [0, 1], indptr: [0, 1, 2], shape: [2, 2] }, sink, 'matrix')
    assert.deepEqual(ref, {
      $type: 'csr',
      shape: [2, 2],
      data: { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2] },
      indices: { $type: 'ndarray', frame: 1, dtype: 'int32', shape: [2] },
      indptr: { $type: 'ndarray', frame: 2, dtype: 'int32', shape: [3] },
    })
  })

  it('rejects what cannot be sent', () => {
    const sink = new FrameSink()
    assert.throws(() => encodeValue([1, 'a', [2]], sink, 'matrix', 'X'), (e: unknown) => e instanceof InvalidInputError && e.field === 'X')
    assert.throws(() => encodeValue(new Map(), sink), InvalidInputError)
    assert.throws(() => encodeValue(() => 1, sink), InvalidInputError)
  })
})

describe('frames: decoding', () => {
  const f64 = (values: number[]): Buffer => Buffer.from(new Float64Array(values).buffer)

  it('plain mode gives nested arrays', () => {
    const frames = [f64([1, 2, 3, 4]), Buffer.from(new Int32Array([1, 0]).buffer)]
    const value = decodeValue(
      { centers: { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2, 2] }, labels: { $type: 'ndarray', frame: 1, dtype: 'int32', shape: [2] }, n: 3 },
      frames,
      'plain',
    )
    assert.deepEqual(value, { centers: [[1, 2], [3, 4]], labels: [1, 0], n: 3 })
  })

  it('ndarray mode gives views over the frame bytes (no copy)', () => {
    const frame = f64([1, 2, 3, 4])
    const value = decodeValue({ $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2, 2] }, [frame], 'ndarray') as {
      data: Float64Array
      shape: number[]
    }
    assert.ok(value.data instanceof Float64Array)
    assert.equal(value.data.buffer, frame.buffer)
    assert.deepEqual(value.shape, [2, 2])
    frame.writeDoubleLE(42, 0)
    assert.equal(value.data[0], 42)
  })

  it('misaligned frames are copied once into an aligned array', () => {
    const raw = Buffer.alloc(17)
    const frame = raw.subarray(1)
    frame.writeDoubleLE(1.5, 0)
    frame.writeDoubleLE(2.5, 8)
    const view = frameView(frame, 'float64', 2)
    assert.deepEqual([...view], [1.5, 2.5])
    assert.notEqual(view.buffer, raw.buffer)
  })

  it('tables keep their columns; strings pass through', () => {
    const nd = decodeValue({ $type: 'table', columns: ['c0', 'c1'], data: { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [1, 2] } }, [f64([1, 2])], 'ndarray') as { columns: string[] }
    assert.deepEqual(nd.columns, ['c0', 'c1'])
    assert.deepEqual(decodeValue({ $type: 'table', columns: ['c0', 'c1'], data: { $type: 'ndarray', frame: 0, dtype: 'float64', shape: [1, 2] } }, [f64([1, 2])], 'plain'), [[1, 2]])
    assert.deepEqual(decodeValue(['a', 'b'], [], 'plain'), ['a', 'b'])
  })

  it('bad references are protocol errors', () => {
    assert.throws(() => decodeValue({ $type: 'ndarray', frame: 1, dtype: 'float64', shape: [1] }, [f64([1])], 'plain'), ProtocolError)
    assert.throws(() => decodeValue({ $type: 'ndarray', frame: 0, dtype: 'float16', shape: [1] }, [f64([1])], 'plain'), ProtocolError)
    assert.throws(() => decodeValue({ $type: 'ndarray', frame: 0, dtype: 'float64', shape: [2] }, [f64([1])], 'plain'), /needs 16/)
    assert.throws(() => decodeValue({ $type: 'weird' }, [], 'plain'), ProtocolError)
  })
})
