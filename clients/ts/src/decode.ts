/**
 * Output arrays: reply values whose array references point into the reply's frames become
 * typed-array views ({@link NdArray}) or nested plain arrays, by result mode.
 *
 * @module
 */

import type { NdArray, ResultMode, TypedArray } from './array-types.js'
import { elementCount, isDType } from './dtypes.js'
import { ProtocolError } from './generated/errors.js'
import { DTYPE_ARRAY, type DType } from './generated/dtypes.js'

/**
 * Makes a typed-array view over a received frame. zeromq.js hands frames over as Buffers;
 * the view shares their memory unless the Buffer's offset is not a multiple of the element
 * size, in which case the bytes are copied once into an aligned array.
 *
 * @example
 * ```ts
 * frameView(Buffer.from(new Float64Array([1, 2]).buffer), 'float64', 2) // Float64Array [1, 2]
 * ```
 */
export function frameView(frame: Uint8Array, dtype: DType, length: number): TypedArray {
  const Ctor = DTYPE_ARRAY[dtype]
  const size = Ctor.BYTES_PER_ELEMENT
  if (frame.byteLength !== length * size) {
    throw new ProtocolError(`reply frame has ${frame.byteLength} bytes, ${dtype} x ${length} needs ${length * size}`)
  }
  if (frame.byteOffset % size === 0) return new Ctor(frame.buffer, frame.byteOffset, length)
  const copy = new Ctor(length)
  new Uint8Array(copy.buffer).set(frame)
  return copy
}

function decodeNdArray(ref: Record<string, unknown>, frames: readonly Uint8Array[]): NdArray {
  const { frame, dtype, shape } = ref
  if (typeof frame !== 'number' || !Number.isInteger(frame) || frame < 0 || frame >= frames.length) {
    throw new ProtocolError(`reply references frame ${String(frame)}, the reply has ${frames.length}`)
  }
  if (!isDType(dtype)) throw new ProtocolError(`reply uses unknown dtype ${String(dtype)}`)
  if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && d >= 0)) {
    throw new ProtocolError(`reply has a bad shape ${JSON.stringify(shape)}`)
  }
  const length = elementCount(shape)
  const out: NdArray = { data: frameView(frames[frame] as Uint8Array, dtype, length), shape, dtype }
  if (Array.isArray(ref.columns)) out.columns = ref.columns.map(String)
  return out
}

/**
 * Decodes a reply value: array references become {@link NdArray}s (views over `frames`)
 * in `'ndarray'` mode, or nested plain arrays in `'plain'` mode. Tables become 2-D arrays
 * with `columns`; CSR results stay `{ format: 'csr', ... }` with typed arrays.
 *
 * @example
 * ```ts
 * const frames = [Buffer.from(new Int32Array([0, 1]).buffer)]
 * decodeValue({ $type: 'ndarray', frame: 0, dtype: 'int32', shape: [2] }, frames, 'plain') // [0, 1]
 * ```
 */
export function decodeValue(value: unknown, frames: readonly Uint8Array[], mode: ResultMode): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeValue(v, frames, mode))
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value
  const map = value as Record<string, unknown>
  switch (map.$type) {
    case 'ndarray': {
      const nd = decodeNdArray(map, frames)
      return mode === 'ndarray' ? nd : toNested(nd)
    }
    case 'table': {
      if (typeof map.data !== 'object' || map.data === null) throw new ProtocolError('table without data')
      const nd = decodeNdArray(map.data as Record<string, unknown>, frames)
      if (Array.isArray(map.columns)) nd.columns = map.columns.map(String)
      return mode === 'ndarray' ? nd : toNested(nd)
    }
    case 'csr': {
      const part = (name: string): NdArray => {
        const ref = map[name]
        if (typeof ref !== 'object' || ref === null) throw new ProtocolError(`csr without ${name}`)
        return decodeNdArray(ref as Record<string, unknown>, frames)
      }
      return { format: 'csr', shape: map.shape, data: part('data').data, indices: part('indices').data, indptr: part('indptr').data }
    }
    case undefined: {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(map)) out[k] = decodeValue(v, frames, mode)
      return out
    }
    default:
      throw new ProtocolError(`reply uses unknown $type ${String(map.$type)}`)
  }
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
    const stride = elementCount(shape.slice(dim + 1))
    const out = new Array<unknown>(n)
    for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride)
    return out
  }
  return build(0, 0)
}
