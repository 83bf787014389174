/**
 * Turning the `error` map of a failure reply into the matching error class.
 *
 * @module
 */

import { type InvalidParamDetail, ServerError, type ServerErrorOptions } from './errors.js'
import { SERVER_ERROR_CLASSES } from './generated/error-table.js'
import { ProtocolError, type ServerErrorCode } from './generated/errors.js'

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toDetails(raw: unknown): InvalidParamDetail[] {
  if (!Array.isArray(raw)) return []
  return raw.filter(isRecord).map((d) => {
    const detail: InvalidParamDetail = {
      field: typeof d.field === 'string' ? d.field : String(d.field),
      message: typeof d.message === 'string' ? d.message : String(d.message),
    }
    if ('value' in d) detail.value = d.value
    return detail
  })
}

function isKnownCode(code: string): code is ServerErrorCode {
  return Object.prototype.hasOwnProperty.call(SERVER_ERROR_CLASSES, code)
}

/**
 * Builds the error class matching the `error` map of a failure reply. Fields listed in
 * `details` that the message does not name are appended to it.
 *
 * @example
 * ```ts
 * const err = errorFromWire({ code: 'not_fitted', message: 'fit first' })
 * err instanceof NotFittedError // true
 * ```
 */
export function errorFromWire(error: unknown): ServerError {
  if (!isRecord(error)) return new ProtocolError(`Malformed error reply: ${String(error)}`)
  const code = typeof error.code === 'string' ? error.code : 'internal'
  let message = typeof error.message === 'string' ? error.message : `Server error (${code})`
  const options: ServerErrorOptions = {}
  if (typeof error.traceback === 'string') options.traceback = error.traceback
  const details = toDetails(error.details)
  if (details.length > 0) {
    options.details = details
    const unnamed = details.map((d) => d.field).filter((f) => !message.includes(f))
    if (unnamed.length > 0) message = `${message} (fields: ${unnamed.join(', ')})`
  }
  if (isKnownCode(code)) return new SERVER_ERROR_CLASSES[code](message, options)
  // A code from a newer server: keep it visible, typed as the base class.
  return new ServerError(code as ServerErrorCode, message, options)
}
