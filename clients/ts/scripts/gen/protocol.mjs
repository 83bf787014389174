// generated/protocol.ts (version, request ids, operations), generated/dtypes.ts (the DType
// union and its typed-array tables), generated/errors.ts (one class per server error code)
// and generated/error-table.ts (code -> class).

import { HEADER, docComment, docWithExample, literal, pascal, propKey, sentence } from './text.mjs'

/** TypeScript names that differ from the rule `<Code>Error`; kept for API compatibility. */
const ERROR_CLASS_NAMES = { internal: 'InternalServerError' }

/** Typed arrays accepted as input that hold another dtype's storage. */
const EXTRA_INPUT_ARRAYS = { Uint8ClampedArray: 'uint8' }

/** Dtypes stored in another dtype's typed array (told apart only by the `dtype` field). */
const STORAGE_OF = { bool: 'uint8' }

export function errorClassName(code) {
  if (ERROR_CLASS_NAMES[code]) return ERROR_CLASS_NAMES[code]
  return code.endsWith('_error') ? pascal(code) : `${pascal(code)}Error`
}

/** The JavaScript typed array holding a dtype, from its name (int16 -> Int16Array...). */
export function typedArrayOf(dtype) {
  const storage = STORAGE_OF[dtype] ?? dtype
  const int = /^(u?)int(8|16|32|64)$/.exec(storage)
  if (int) {
    const base = int[1] ? 'Uint' : 'Int'
    return int[2] === '64' ? `Big${base}64Array` : `${base}${int[2]}Array`
  }
  const float = /^float(16|32|64)$/.exec(storage)
  if (float) return `Float${float[1]}Array`
  throw new Error(`no JavaScript typed array is known for dtype ${dtype}`)
}

function requireProtocol(contract) {
  const p = contract.protocol
  if (!p || typeof p !== 'object') throw new Error('the contract has no `protocol` object')
  if (!Number.isSafeInteger(p.version) || p.version < 1) throw new Error(`bad protocol version ${p.version}`)
  if (!Number.isSafeInteger(p.maxRequestId) || p.maxRequestId < 1) throw new Error(`bad maxRequestId ${p.maxRequestId}`)
  for (const key of ['operations', 'errors']) {
    if (!p[key] || typeof p[key] !== 'object' || Array.isArray(p[key])) throw new Error(`protocol.${key} must be an object`)
  }
  if (!Array.isArray(p.dtypes) || p.dtypes.length === 0) throw new Error('protocol.dtypes must be a non-empty list')
  for (const dt of [...(p.sparse?.data ?? []), ...(p.sparse?.index ?? [])]) {
    if (!p.dtypes.includes(dt)) throw new Error(`sparse dtype ${dt} is not in protocol.dtypes`)
  }
  return p
}

export function protocolFile(contract) {
  const p = requireProtocol(contract)
  const ops = Object.entries(p.operations)
  return [
    ...HEADER,
    ...docWithExample('', ['The protocol version this client speaks: the `v` of every request and reply.'], [
      '(await py.info()).protocol === PROTOCOL_VERSION',
    ]),
    `export const PROTOCOL_VERSION = ${p.version}`,
    '',
    ...docWithExample('', ['The largest request id; ids wrap around to 1 after it (they stay exact doubles).'], ['MAX_REQUEST_ID === Number.MAX_SAFE_INTEGER']),
    `export const MAX_REQUEST_ID = ${p.maxRequestId}`,
    '',
    ...docWithExample('', ['The operations of the protocol (`op` of a request).'], ["const op: Operation = 'ping'"]),
    `export type Operation = ${ops.map(([op]) => literal(op)).join(' | ')}`,
    '',
    ...docWithExample('', ['Each operation and what it does.'], ["OPERATIONS.ping // 'liveness check answered by the socket loop'"]),
    'export const OPERATIONS: Readonly<Record<Operation, string>> = {',
    ...ops.map(([op, o]) => `  ${propKey(op)}: ${literal(o.description ?? '')},`),
    '}',
    '',
  ].join('\n')
}

export function dtypesFile(contract) {
  const p = requireProtocol(contract)
  const dtypes = p.dtypes
  const arrays = [...new Set([...dtypes.map(typedArrayOf), ...Object.keys(EXTRA_INPUT_ARRAYS)])]
  const reverse = [
    ...dtypes.filter((dt) => !(dt in STORAGE_OF)).map((dt) => [typedArrayOf(dt), dt]),
    ...Object.entries(EXTRA_INPUT_ARRAYS).filter(([, dt]) => dtypes.includes(dt)),
  ]
  const list = (items) => `[${items.map(literal).join(', ')}]`
  return [
    ...HEADER,
    ...docWithExample('', ['Element types of the wire protocol (`dtype` of an ndarray reference).'], ["const dt: DType = 'float32'"]),
    `export type DType = ${dtypes.map(literal).join(' | ')}`,
    '',
    ...docWithExample('', ['The dtypes of the protocol, in the contract\'s order.'], ["DTYPES.includes('float64') // true"]),
    `export const DTYPES: readonly DType[] = ${list(dtypes)}`,
    '',
    ...docWithExample('', ['Any JavaScript typed array that maps to a wire dtype.'], ['const t: TypedArray = new Float32Array([1, 2, 3])']),
    `export type TypedArray = ${arrays.join(' | ')}`,
    '',
    ...docWithExample('', ['A constructor of one of the {@link TypedArray} types.'], ['const C: TypedArrayCtor = Float64Array']),
    'export interface TypedArrayCtor {',
    '  new (length: number): TypedArray',
    '  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray',
    '  readonly BYTES_PER_ELEMENT: number',
    '  readonly name: string',
    '}',
    '',
    ...docWithExample('', ['dtype -> the typed array that holds it.'], ['new DTYPE_ARRAY.float32(3) // Float32Array(3)']),
    'export const DTYPE_ARRAY: Readonly<Record<DType, TypedArrayCtor>> = {',
    ...dtypes.map((dt) => `  ${propKey(dt)}: ${typedArrayOf(dt)},`),
    '}',
    '',
    ...docWithExample('', ['Typed array -> the dtype it is sent as (dtypes sharing another\'s storage, such as `bool`, are chosen explicitly).'], [
      "ARRAY_DTYPES.find(([C]) => new Int32Array(1) instanceof C)?.[1] // 'int32'",
    ]),
    'export const ARRAY_DTYPES: ReadonlyArray<readonly [TypedArrayCtor, DType]> = [',
    ...reverse.map(([ctor, dt]) => `  [${ctor}, ${literal(dt)}],`),
    ']',
    '',
    ...docWithExample('', ['dtypes allowed for the values of a CSR matrix.'], ["SPARSE_DATA_DTYPES.includes('float32') // true"]),
    `export const SPARSE_DATA_DTYPES: readonly DType[] = ${list(p.sparse?.data ?? [])}`,
    '',
    ...docWithExample('', ['dtypes allowed for the `indices` and `indptr` of a CSR matrix.'], ["SPARSE_INDEX_DTYPES.includes('int32') // true"]),
    `export const SPARSE_INDEX_DTYPES: readonly DType[] = ${list(p.sparse?.index ?? [])}`,
    '',
  ].join('\n')
}

export function errorsFile(contract) {
  const p = requireProtocol(contract)
  const errors = Object.entries(p.errors)
  const out = [
    ...HEADER,
    "import { ServerError, type ServerErrorOptions } from '../errors.js'",
    '',
    ...docWithExample('', ['Error codes the server sends in a failure reply.'], ["const code: ServerErrorCode = 'not_fitted'"]),
    `export type ServerErrorCode = ${errors.map(([code]) => literal(code)).join(' | ')}`,
    '',
  ]
  for (const [code, meaning] of errors) {
    const name = errorClassName(code)
    out.push(
      ...docWithExample('', [`Server error \`${code}\`: ${sentence(meaning)}`], [
        'try {',
        '  await model.fit({ X })',
        '} catch (err) {',
        `  if (err instanceof ${name}) console.log(err.code) // '${code}'`,
        '}',
      ]),
      `export class ${name} extends ServerError {`,
      '  constructor(message: string, options?: ServerErrorOptions) {',
      `    super(${literal(code)}, message, options)`,
      '  }',
      '}',
      '',
    )
  }
  return out.join('\n')
}

export function errorTableFile(contract) {
  const p = requireProtocol(contract)
  const codes = Object.keys(p.errors)
  return [
    ...HEADER,
    "import type { ServerError, ServerErrorOptions } from '../errors.js'",
    `import {\n${codes.map((c) => `  ${errorClassName(c)},`).sort().join('\n')}\n  type ServerErrorCode,\n} from './errors.js'`,
    '',
    ...docWithExample('', ['The server error codes, in the contract\'s order.'], ["SERVER_ERROR_CODES.includes('not_fitted') // true"]),
    `export const SERVER_ERROR_CODES: readonly ServerErrorCode[] = [${codes.map(literal).join(', ')}]`,
    '',
    ...docComment('', ['Server error code -> the class thrown for it.', '', '@example', '```ts', "new SERVER_ERROR_CLASSES.not_fitted('fit first') // NotFittedError", '```']),
    'export const SERVER_ERROR_CLASSES: Readonly<Record<ServerErrorCode, new (message: string, options?: ServerErrorOptions) => ServerError>> = {',
    ...codes.map((c) => `  ${propKey(c)}: ${errorClassName(c)},`),
    '}',
    '',
  ].join('\n')
}
