/**
 * The server's limits (reported by `info`) and the checks this client makes before
 * sending, so that an oversized message fails here with a reason instead of being dropped
 * by the server's ZeroMQ (which closes the connection without a reply).
 *
 * @module
 */

import { ResourceExhaustedError } from './generated/errors.js'

/**
 * The limits an skbridge server reports under `info().limits` (`0`: no limit).
 *
 * @example
 * ```ts
 * const { max_message_bytes, lease_seconds } = (await py.info()).limits ?? {}
 * ```
 */
export interface ServerLimits {
  /** Largest frame the server accepts, in bytes. */
  max_message_bytes?: number
  /** Buffer frames in one message. */
  max_frames?: number
  /** Size of the header frame, in bytes. */
  max_header_bytes?: number
  /** Entries in any map of a header. */
  max_map_len?: number
  /** Live instances over all sessions. */
  max_instances?: number
  /** Bytes held by instances, queued requests and running calls. */
  max_memory_bytes?: number
  /** Requests of one session waiting or running. */
  max_queued_per_session?: number
  /** Seconds of silence after which a session's instances are disposed. */
  lease_seconds?: number
  [key: string]: unknown
}

/**
 * The refusal this client raises itself, before sending: a `ResourceExhaustedError`
 * (as the server's refusals) whose `details` name the limit, its value and the size.
 */
function refuse(limit: string, limitValue: number, size: number, message: string): ResourceExhaustedError {
  return new ResourceExhaustedError(message, { details: [{ field: limit, value: limitValue, message: `this request needs ${size}` }] })
}

function positive(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}

/**
 * Throws `ResourceExhaustedError` (not sent; `details[0].field` names the limit) when `header` or one of `frames` is larger than the
 * server accepts, or when there are more frames than it accepts.
 *
 * @example
 * ```ts
 * checkMessage({ max_message_bytes: 1024 }, header, [new Uint8Array(2048)]) // throws
 * ```
 */
export function checkMessage(limits: ServerLimits, header: Uint8Array, frames: readonly Uint8Array[]): void {
  // Fixed by the server's build (not flags): the fix is a smaller request.
  const counted: [limit: 'max_frames' | 'max_header_bytes', size: number, what: string, fix: string][] = [
    ['max_frames', frames.length, `This request has ${frames.length} array buffers`, 'Send fewer arrays per call.'],
    ['max_header_bytes', header.byteLength, `The request header is ${header.byteLength} bytes`, 'Pass large values as typed arrays (they travel as frames, not in the header).'],
  ]
  for (const [limit, size, what, fix] of counted) {
    const max = positive(limits[limit])
    if (max && size > max) throw refuse(limit, max, size, `${what}; the server accepts at most ${limit}=${max}. ${fix}`)
  }
  const maxBytes = positive(limits.max_message_bytes)
  if (!maxBytes) return
  for (const [i, frame] of frames.entries()) {
    if (frame.byteLength > maxBytes) {
      throw refuse(
        'max_message_bytes',
        maxBytes,
        frame.byteLength,
        `Array buffer ${i} of this request is ${frame.byteLength} bytes; the server accepts at most max_message_bytes=${maxBytes} per frame. ` +
          'Send the data in smaller batches (partial_fit) or start the server with a larger --max-message-bytes.',
      )
    }
  }
  if (header.byteLength > maxBytes) {
    throw refuse('max_message_bytes', maxBytes, header.byteLength, `The request header is ${header.byteLength} bytes; the server accepts at most max_message_bytes=${maxBytes} per frame.`)
  }
}
