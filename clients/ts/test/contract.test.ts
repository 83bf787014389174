/**
 * The TypeScript runtime exposes exactly the contract's protocol facts: the error-code set,
 * the dtype set (in the generated tables and in what the encoder, decoder and CSR checks
 * accept), the protocol version and the request-id limit. The contract is read at test time.
 */

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import type { DType } from '../src/array-types.js'
import { decodeValue } from '../src/decode.js'
import { isDType } from '../src/dtypes.js'
import { FrameSink, encodeValue } from '../src/encode.js'
import { SERVER_ERROR_CLASSES, SERVER_ERROR_CODES } from '../src/generated/error-table.js'
import { DTYPES, DTYPE_ARRAY, SPARSE_DATA_DTYPES, SPARSE_INDEX_DTYPES } from '../src/generated/dtypes.js'
import { MAX_REQUEST_ID } from '../src/generated/protocol.js'
import * as sk from '../src/index.js'
import { fromCsr } from '../src/pack.js'
import { errorFromWire } from '../src/wire-errors.js'
import { REPO_ROOT } from './helpers.js'

interface Protocol {
  version: number
  maxRequestId: number
  operations: Record<string, unknown>
  errors: Record<string, string>
  dtypes: string[]
  sparse: { data: string[]; index: string[] }
}

const PROTOCOL = (JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/contract.schema.json'), 'utf8')) as { protocol: Protocol }).protocol
const sorted = (xs: Iterable<string>): string[] => [...xs].sort()

describe('contract: error codes', () => {
  it('the generated tables hold exactly the contract codes, in its order', () => {
    assert.deepEqual([...SERVER_ERROR_CODES], Object.keys(PROTOCOL.errors))
    assert.deepEqual(Object.keys(SERVER_ERROR_CLASSES), Object.keys(PROTOCOL.errors))
  })

  it('the public ServerError subclasses are exactly one per contract code', () => {
    const exported = Object.values(sk as Record<string, unknown>).filter(
      (v): v is typeof sk.ServerError => typeof v === 'function' && v.prototype instanceof sk.ServerError,
    )
    const codes = exported.map((C) => new (C as unknown as new (m: string) => sk.ServerError)('m').code)
    assert.deepEqual(sorted(codes), sorted(Object.keys(PROTOCOL.errors)))
    for (const C of Object.values(SERVER_ERROR_CLASSES)) assert.equal((sk as Record<string, unknown>)[C.name], C, `${C.name} is exported`)
  })

  it('errorFromWire gives each contract code its class, documented with the code\'s meaning', () => {
    const source = readFileSync(join(REPO_ROOT, 'clients/ts/src/generated/errors.ts'), 'utf8').replace(/\n \* ?/g, ' ')
    for (const [code, meaning] of Object.entries(PROTOCOL.errors)) {
      const Ctor = SERVER_ERROR_CLASSES[code as sk.ServerErrorCode]
      const err = errorFromWire({ code, message: `m ${code}` })
      assert.ok(err instanceof Ctor && err instanceof sk.ServerError && err instanceof sk.SkbridgeError)
      assert.equal(err.code, code)
      // A cancelled call is an abort for code that checks `err.name === 'AbortError'`.
      assert.equal(err.name, code === 'cancelled' ? 'AbortError' : Ctor.name)
      assert.ok(source.includes(`Server error \`${code}\`: ${meaning}`), `TSDoc of ${Ctor.name} states: ${meaning}`)
    }
  })

  it('client-side codes do not reuse a server code', () => {
    const client = [
      new sk.RequestTimeoutError('t'),
      new sk.AbortedError('a'),
      new sk.ServerExitedError('x'),
      new sk.ServerStartError('s'),
      new sk.BridgeModuleMissingError('m'),
      new sk.PythonNotFoundError('p'),
      new sk.BridgeDisconnectedError(),
      new sk.NotInitializedError('n'),
      new sk.AlreadyInitializedError('a'),
      new sk.DisposedError('d'),
      new sk.InvalidInputError('i'),
    ]
    for (const e of client) {
      assert.ok(!(e instanceof sk.ServerError))
      assert.ok(!(e.code in PROTOCOL.errors), `${e.name} uses server code ${e.code}`)
    }
  })
})

describe('contract: dtypes', () => {
  it('the generated tables hold exactly the contract dtypes', () => {
    assert.deepEqual([...DTYPES], PROTOCOL.dtypes)
    assert.deepEqual(Object.keys(DTYPE_ARRAY), PROTOCOL.dtypes)
    assert.deepEqual([...SPARSE_DATA_DTYPES], PROTOCOL.sparse.data)
    assert.deepEqual([...SPARSE_INDEX_DTYPES], PROTOCOL.sparse.index)
    for (const dt of PROTOCOL.dtypes) assert.ok(isDType(dt), dt)
    for (const other of ['float16', 'complex64', 'object', 'int']) assert.equal(isDType(other), false, other)
  })

  it('the encoder sends every contract dtype, and only those', () => {
    const sent = new Set<string>()
    for (const dt of PROTOCOL.dtypes as DType[]) {
      const data = new DTYPE_ARRAY[dt](3)
      const ref = encodeValue({ data, shape: [3], ...(dt === 'bool' ? { dtype: 'bool' } : {}) }, new FrameSink()) as { dtype: string }
      sent.add(ref.dtype)
    }
    // Every typed array JavaScript has, sent as a vector: the dtypes it yields.
    const arrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array]
    for (const A of arrays) sent.add((encodeValue(new A(1), new FrameSink()) as { dtype: string }).dtype)
    assert.deepEqual(sorted(sent), sorted(PROTOCOL.dtypes))
  })

  it('the decoder reads every contract dtype into its typed array and rejects others', () => {
    for (const dt of PROTOCOL.dtypes as DType[]) {
      const bytes = Buffer.alloc(2 * DTYPE_ARRAY[dt].BYTES_PER_ELEMENT)
      const nd = decodeValue({ $type: 'ndarray', frame: 0, dtype: dt, shape: [2] }, [bytes], 'ndarray') as sk.NdArray
      assert.equal(nd.dtype, dt)
      assert.ok(nd.data instanceof DTYPE_ARRAY[dt])
    }
    assert.throws(() => decodeValue({ $type: 'ndarray', frame: 0, dtype: 'float16', shape: [1] }, [Buffer.alloc(2)], 'ndarray'), sk.ProtocolError)
  })

  it('CSR inputs accept exactly the contract\'s sparse data and index dtypes', () => {
    const accepted = { data: [] as string[], index: [] as string[] }
    for (const dt of PROTOCOL.dtypes.filter((d) => d !== 'bool') as DType[]) {
      const A = DTYPE_ARRAY[dt]
      const tryCsr = (part: 'data' | 'index'): boolean => {
        const data = part === 'data' ? new A(1) : new Float64Array(1)
        const index = (n: number): Int32Array | sk.TypedArray => (part === 'index' ? new A(n) : new Int32Array(n))
        try {
          fromCsr({ format: 'csr', data: data as Float64Array, indices: index(1) as Int32Array, indptr: index(2) as Int32Array, shape: [1, 1] })
          return true
        } catch (e) {
          assert.ok(e instanceof sk.InvalidInputError)
          return false
        }
      }
      if (tryCsr('data')) accepted.data.push(dt)
      if (tryCsr('index')) accepted.index.push(dt)
    }
    assert.deepEqual(sorted(accepted.data), sorted(PROTOCOL.sparse.data))
    assert.deepEqual(sorted(accepted.index), sorted(PROTOCOL.sparse.index))
  })
})

describe('contract: envelope', () => {
  it('the protocol version and the request-id limit are the contract\'s', () => {
    assert.equal(sk.PROTOCOL_VERSION, PROTOCOL.version)
    assert.equal(MAX_REQUEST_ID, PROTOCOL.maxRequestId)
  })
})
