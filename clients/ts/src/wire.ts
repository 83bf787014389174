/**
 * Header frames on the wire: the msgpack codec, and the reporting helpers of the transport.
 *
 * @module
 */

import { Decoder, Encoder } from '@msgpack/msgpack'

// One codec instance each, reused: the `encode`/`decode` functions build a new one (and
// its buffers) per call. `encode` (not `encodeSharedRef`) copies out the bytes, which the
// socket may still hold after the next request is encoded.
const headerEncoder = new Encoder({ useBigInt64: true, ignoreUndefined: true })
const headerDecoder = new Decoder()

/**
 * Encodes a header map into its own bytes.
 *
 * @example
 * ```ts
 * await socket.send(packHeader({ v: 1, id: 1, op: 'ping' }))
 * ```
 */
export function packHeader(header: Record<string, unknown>): Buffer {
  const packed = headerEncoder.encode(header)
  return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength)
}

/**
 * Decodes a reply's header frame; `undefined` when it is not a msgpack map.
 *
 * @example
 * ```ts
 * decodeHeader(packHeader({ v: 1, id: 3, ok: true }))?.id // 3
 * ```
 */
export function decodeHeader(frame: Uint8Array): Record<string, unknown> | undefined {
  let header: unknown
  try {
    header = headerDecoder.decode(frame)
  } catch {
    return undefined
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined
  return header as Record<string, unknown>
}

/**
 * A reply with `id: null`: the server could not read one of our requests. It matches no
 * pending request (the one that caused it ends by its timeout), so it is reported as a
 * process warning carrying the server's code and message, and the transport keeps running.
 *
 * @example
 * ```ts
 * warnUnmatched({ code: 'protocol_error', message: 'not msgpack' })
 * ```
 */
export function warnUnmatched(error: unknown): void {
  const e = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {}
  const code = typeof e.code === 'string' ? e.code : 'unknown'
  const message = typeof e.message === 'string' ? e.message : 'no message'
  process.emitWarning(`skbridge server could not read a request (${code}): ${message}`, {
    type: 'SkbridgeWarning',
    code,
    detail: 'The reply has id null, so it matches no pending request; that request ends by its timeout.',
  })
}

/**
 * `op instance method` of a request, for messages.
 *
 * @example
 * ```ts
 * describe({ op: 'call', instance: 'km1', method: 'fit' }) // 'call km1 fit'
 * ```
 */
export function describe(fields: Record<string, unknown>): string {
  const parts = [fields.op, fields.instance, fields.method ?? fields.attribute].filter((p) => typeof p === 'string')
  return parts.join(' ')
}

/**
 * The message of a thrown value.
 *
 * @example
 * ```ts
 * errorText(new Error('boom')) // 'boom'
 * ```
 */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
