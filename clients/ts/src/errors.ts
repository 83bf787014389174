/**
 * The skbridge error hierarchy: the base classes and the errors only the client can see.
 *
 * Every error raised by this package is a {@link SkbridgeError} with a stable machine
 * `code`. The server's codes and their classes are facts of the contract, generated into
 * `generated/errors.ts`; client-side codes cover what only the client can see (timeouts,
 * aborts, a dead server, misuse of an estimator, bad input caught before sending).
 *
 * @module
 */

import type { ServerErrorCode } from './generated/errors.js'

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

/** Codes whose errors are named `AbortError`. */
const ABORT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['cancelled', 'aborted'])

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
    // Code that checks `err.name === 'AbortError'` (the DOM/fetch convention) sees a
    // cancelled or aborted call as an abort.
    this.name = ABORT_CODES.has(code) ? 'AbortError' : new.target.name
    this.code = code
    this.traceback = options?.traceback
  }
}

/**
 * What a failure reply carries besides its code and message.
 *
 * @example
 * ```ts
 * const o: ServerErrorOptions = { details: [{ field: 'n_clusters', value: 0, message: 'must be >= 1' }] }
 * ```
 */
export interface ServerErrorOptions {
  /** Python traceback, sent only when the server runs with `--debug`. */
  traceback?: string
  /** What led to the error on the client side (e.g. the abort reason of a cancelled call). */
  cause?: unknown
  /** One entry per offending field (`invalid_params`). */
  details?: InvalidParamDetail[]
}

/**
 * An error reported by the server in a failure reply. Each server code has its own
 * subclass (`NotFittedError`, `InvalidParamsError`...); a code this client does not know
 * (from a newer server) comes as a plain `ServerError`.
 *
 * @example
 * ```ts
 * if (err instanceof ServerError) console.log(err.code) // e.g. 'estimator_error'
 * ```
 */
export class ServerError extends SkbridgeError {
  declare readonly code: ServerErrorCode
  /** The offending fields of an `invalid_params` error (empty for the other codes). */
  readonly details: InvalidParamDetail[]
  constructor(code: ServerErrorCode, message: string, options?: ServerErrorOptions) {
    super(code, message, {
      ...(options?.traceback === undefined ? {} : { traceback: options.traceback }),
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    })
    this.details = options?.details ?? []
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
