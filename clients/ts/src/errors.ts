/**
 * The skbridge error hierarchy.
 *
 * Every error raised by this package is a {@link SkbridgeError} with a stable machine
 * `code`. Server-side codes are the ones of the wire protocol (section 4 of
 * `docs/PROTOCOL.md`); client-side codes cover what only the client can see (timeouts,
 * aborts, a dead server, misuse of an estimator).
 *
 * @module
 */

/**
 * Error codes sent by the server in a failure reply (protocol v1, section 4).
 *
 * @example
 * ```ts
 * const code: ServerErrorCode = 'not_fitted'
 * ```
 */
export type ServerErrorCode =
  | 'protocol_error'
  | 'unsupported_version'
  | 'unknown_op'
  | 'unknown_class'
  | 'duplicate_instance'
  | 'unknown_instance'
  | 'unknown_method'
  | 'unknown_attribute'
  | 'invalid_params'
  | 'not_fitted'
  | 'estimator_error'
  | 'missing_dependency'
  | 'internal'

/**
 * Error codes raised by the client itself, without a server reply.
 *
 * @example
 * ```ts
 * const code: ClientErrorCode = 'timeout'
 * ```
 */
export type ClientErrorCode =
  | 'timeout'
  | 'aborted'
  | 'server_exited'
  | 'server_start_failed'
  | 'bridge_module_missing'
  | 'python_not_found'
  | 'disconnected'
  | 'not_initialized'
  | 'already_initialized'
  | 'disposed'
  | 'invalid_input'

/**
 * Every code a {@link SkbridgeError} can carry.
 *
 * @example
 * ```ts
 * if (err instanceof SkbridgeError && err.code === 'invalid_params') console.log(err.message)
 * ```
 */
export type ErrorCode = ServerErrorCode | ClientErrorCode

/**
 * One offending field of an `invalid_params` error.
 *
 * @example
 * ```ts
 * const d: InvalidParamDetail = { field: 'n_clusters', value: -1, message: 'Input should be greater than or equal to 1' }
 * ```
 */
export interface InvalidParamDetail {
  /** The option or parameter name (dotted for nested values). */
  field: string
  /** The rejected value, as the server saw it (arrays are not echoed back). */
  value?: unknown
  /** What was expected. */
  message: string
}

/**
 * Base class of every error thrown by skbridge.
 *
 * @example
 * ```ts
 * try {
 *   await model.fit({ X })
 * } catch (err) {
 *   if (err instanceof SkbridgeError) console.error(err.code, err.message)
 * }
 * ```
 */
export class SkbridgeError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode
  /** Python traceback, present only when the server runs with `--debug`. */
  readonly traceback: string | undefined

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; traceback?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.traceback = options?.traceback
  }
}

/**
 * An error reported by the server in a failure reply.
 *
 * @example
 * ```ts
 * if (err instanceof ServerError) console.log(err.code) // e.g. 'estimator_error'
 * ```
 */
export class ServerError extends SkbridgeError {
  declare readonly code: ServerErrorCode
  constructor(code: ServerErrorCode, message: string, options?: { traceback?: string }) {
    super(code, message, options)
  }
}

/**
 * The server could not parse the request or found a bad array reference.
 *
 * @example
 * ```ts
 * err instanceof ProtocolError && err.code === 'protocol_error'
 * ```
 */
export class ProtocolError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('protocol_error', message, options)
  }
}

/**
 * The server does not speak the protocol version this client sent.
 *
 * @example
 * ```ts
 * err instanceof UnsupportedVersionError && err.code === 'unsupported_version'
 * ```
 */
export class UnsupportedVersionError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unsupported_version', message, options)
  }
}

/**
 * The server does not know the requested operation.
 *
 * @example
 * ```ts
 * err instanceof UnknownOpError && err.code === 'unknown_op'
 * ```
 */
export class UnknownOpError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unknown_op', message, options)
  }
}

/**
 * The server does not offer the requested estimator class.
 *
 * @example
 * ```ts
 * err instanceof UnknownClassError && err.code === 'unknown_class'
 * ```
 */
export class UnknownClassError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unknown_class', message, options)
  }
}

/**
 * An instance with this id already exists on the server.
 *
 * @example
 * ```ts
 * err instanceof DuplicateInstanceError && err.code === 'duplicate_instance'
 * ```
 */
export class DuplicateInstanceError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('duplicate_instance', message, options)
  }
}

/**
 * The instance id was never created or was disposed.
 *
 * @example
 * ```ts
 * err instanceof UnknownInstanceError && err.code === 'unknown_instance'
 * ```
 */
export class UnknownInstanceError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unknown_instance', message, options)
  }
}

/**
 * The method is not part of the contract.
 *
 * @example
 * ```ts
 * err instanceof UnknownMethodError && err.code === 'unknown_method'
 * ```
 */
export class UnknownMethodError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unknown_method', message, options)
  }
}

/**
 * The attribute is not part of the contract.
 *
 * @example
 * ```ts
 * err instanceof UnknownAttributeError && err.code === 'unknown_attribute'
 * ```
 */
export class UnknownAttributeError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('unknown_attribute', message, options)
  }
}

/**
 * Options or parameters failed the schema. `details` lists every offending field.
 *
 * @example
 * ```ts
 * try {
 *   await new MiniBatchKMeans({ n_clusters: -1 }).init(py)
 * } catch (err) {
 *   if (err instanceof InvalidParamsError) console.log(err.details[0]?.field) // 'n_clusters'
 * }
 * ```
 */
export class InvalidParamsError extends ServerError {
  /** The offending fields, their values and what was expected. */
  readonly details: InvalidParamDetail[]
  constructor(message: string, details: InvalidParamDetail[], options?: { traceback?: string }) {
    super('invalid_params', message, options)
    this.details = details
  }
}

/**
 * A method or attribute that needs a fitted estimator was used before `fit`.
 *
 * @example
 * ```ts
 * err instanceof NotFittedError && err.code === 'not_fitted'
 * ```
 */
export class NotFittedError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('not_fitted', message, options)
  }
}

/**
 * The estimator rejected the data (the message is scikit-learn's).
 *
 * @example
 * ```ts
 * err instanceof EstimatorError && err.code === 'estimator_error'
 * ```
 */
export class EstimatorError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('estimator_error', message, options)
  }
}

/**
 * A feature needs a Python package the server lacks (e.g. polars).
 *
 * @example
 * ```ts
 * err instanceof MissingDependencyError && err.code === 'missing_dependency'
 * ```
 */
export class MissingDependencyError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('missing_dependency', message, options)
  }
}

/**
 * A bug in the server; the server keeps serving.
 *
 * @example
 * ```ts
 * err instanceof InternalServerError && err.code === 'internal'
 * ```
 */
export class InternalServerError extends ServerError {
  constructor(message: string, options?: { traceback?: string }) {
    super('internal', message, options)
  }
}

/**
 * A request got no reply within its timeout. The server may still run it.
 *
 * @example
 * ```ts
 * await model.fit({ X }, { timeout: 10 }).catch((e) => e instanceof RequestTimeoutError)
 * ```
 */
export class RequestTimeoutError extends SkbridgeError {
  constructor(message: string) {
    super('timeout', message)
  }
}

/**
 * A request was abandoned because its `AbortSignal` fired. The server may still run it.
 *
 * @example
 * ```ts
 * const ac = new AbortController()
 * const p = model.fit({ X }, { signal: ac.signal })
 * ac.abort() // p rejects with AbortedError
 * ```
 */
export class AbortedError extends SkbridgeError {
  constructor(message: string, cause?: unknown) {
    super('aborted', message, { cause })
  }
}

/**
 * The server process exited (or the connection to it was lost): every pending request
 * rejects with this error, and so does every later one.
 *
 * @example
 * ```ts
 * err instanceof ServerExitedError && err.exitCode // e.g. null when killed by a signal
 * ```
 */
export class ServerExitedError extends SkbridgeError {
  /** The process exit code, when known. */
  readonly exitCode: number | null
  /** The signal that ended the process, when known. */
  readonly signal: string | null
  /** The last lines the server wrote on stderr. */
  readonly stderr: string

  constructor(
    message: string,
    info: { exitCode?: number | null; signal?: string | null; stderr?: string } = {},
  ) {
    super('server_exited', message)
    this.exitCode = info.exitCode ?? null
    this.signal = info.signal ?? null
    this.stderr = info.stderr ?? ''
  }
}

/**
 * The server process did not start: it exited before printing its ready line, printed
 * something else, or did not become ready within the startup timeout.
 *
 * @example
 * ```ts
 * await createPythonBridge({ startupTimeout: 1 }).catch((e) => e instanceof ServerStartError)
 * ```
 */
export class ServerStartError extends SkbridgeError {
  /** The last lines the server wrote on stderr. */
  readonly stderr: string
  constructor(message: string, stderr = '', code: ClientErrorCode = 'server_start_failed') {
    super(code, message)
    this.stderr = stderr
  }
}

/**
 * Python started but could not import the `bridge` module (skbridge is not installed in
 * that interpreter, or the working directory is wrong).
 *
 * @example
 * ```ts
 * err instanceof BridgeModuleMissingError && err.stderr.includes('No module named')
 * ```
 */
export class BridgeModuleMissingError extends ServerStartError {
  constructor(message: string, stderr = '') {
    super(message, stderr, 'bridge_module_missing')
  }
}

/**
 * The Python executable could not be found (spawn failed with ENOENT).
 *
 * @example
 * ```ts
 * await createPythonBridge({ python: 'no-such-python' }).catch((e) => e instanceof PythonNotFoundError)
 * ```
 */
export class PythonNotFoundError extends SkbridgeError {
  /** The executable that was tried. */
  readonly python: string
  constructor(python: string, cause?: unknown) {
    super(
      'python_not_found',
      `Python executable not found: ${JSON.stringify(python)}. ` +
        'Pass { python: "/path/to/python" } to createPythonBridge() or set SKBRIDGE_PYTHON.',
      { cause },
    )
    this.python = python
  }
}

/**
 * The bridge was disconnected before (or while) the request was made.
 *
 * @example
 * ```ts
 * await py.disconnect()
 * await model.init(py) // rejects with BridgeDisconnectedError
 * ```
 */
export class BridgeDisconnectedError extends SkbridgeError {
  constructor(message = 'The Python bridge is disconnected') {
    super('disconnected', message)
  }
}

/**
 * An estimator method was used before `init(py)` resolved.
 *
 * @example
 * ```ts
 * await new MiniBatchKMeans().fit({ X }) // rejects with NotInitializedError
 * ```
 */
export class NotInitializedError extends SkbridgeError {
  constructor(message: string) {
    super('not_initialized', message)
  }
}

/**
 * `init(py)` was called on an estimator that is already initialized.
 *
 * @example
 * ```ts
 * await model.init(py)
 * await model.init(py) // rejects with AlreadyInitializedError
 * ```
 */
export class AlreadyInitializedError extends SkbridgeError {
  constructor(message: string) {
    super('already_initialized', message)
  }
}

/**
 * An estimator was used after `dispose()`.
 *
 * @example
 * ```ts
 * await model.dispose()
 * await model.predict({ X }) // rejects with DisposedError
 * ```
 */
export class DisposedError extends SkbridgeError {
  constructor(message: string) {
    super('disposed', message)
  }
}

/**
 * An input array could not be converted before sending (ragged rows, wrong data length for
 * the shape, unsupported element type...).
 *
 * @example
 * ```ts
 * await model.fit({ X: [[1, 2], [3]] }) // rejects with InvalidInputError
 * ```
 */
export class InvalidInputError extends SkbridgeError {
  /** The parameter that held the bad value, when known. */
  readonly field: string | undefined
  constructor(message: string, field?: string) {
    super('invalid_input', field === undefined ? message : `${field}: ${message}`)
    this.field = field
  }
}

const SIMPLE_SERVER_ERRORS: Record<
  Exclude<ServerErrorCode, 'invalid_params'>,
  new (message: string, options?: { traceback?: string }) => ServerError
> = {
  protocol_error: ProtocolError,
  unsupported_version: UnsupportedVersionError,
  unknown_op: UnknownOpError,
  unknown_class: UnknownClassError,
  duplicate_instance: DuplicateInstanceError,
  unknown_instance: UnknownInstanceError,
  unknown_method: UnknownMethodError,
  unknown_attribute: UnknownAttributeError,
  not_fitted: NotFittedError,
  estimator_error: EstimatorError,
  missing_dependency: MissingDependencyError,
  internal: InternalServerError,
}

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

/**
 * Builds the error class matching the `error` map of a failure reply.
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
  const message = typeof error.message === 'string' ? error.message : `Server error (${code})`
  const options = typeof error.traceback === 'string' ? { traceback: error.traceback } : undefined
  if (code === 'invalid_params') {
    const details = toDetails(error.details)
    const unnamed = details.map((d) => d.field).filter((f) => !message.includes(f))
    const full = unnamed.length > 0 ? `${message} (fields: ${unnamed.join(', ')})` : message
    return new InvalidParamsError(full, details, options)
  }
  const Ctor = SIMPLE_SERVER_ERRORS[code as keyof typeof SIMPLE_SERVER_ERRORS]
  if (Ctor) return new Ctor(message, options)
  // A code from a newer server: keep it visible, typed as the base class.
  return new ServerError(code as ServerErrorCode, message, options)
}
