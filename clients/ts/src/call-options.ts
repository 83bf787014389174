/**
 * Per-call options: the second argument of every estimator method and of `init`,
 * `dispose`, `ping`...
 *
 * @module
 */

/**
 * Options every request takes.
 *
 * @example
 * ```ts
 * await model.fit({ X }, { timeout: 60_000, signal: AbortSignal.timeout(120_000) })
 * ```
 */
export interface CallOptions {
  /**
   * Milliseconds to wait for the reply; `0` or `Infinity` waits forever. Defaults to the
   * bridge's `timeout`. On an estimator method, running out of time cancels the call on
   * the server, as an abort does.
   */
  timeout?: number
  /**
   * Abandons the request when aborted. On an estimator method the server is told to
   * cancel the call (it stops at its next mini-batch step and leaves the model as it was)
   * and the promise rejects with `CancelledError` (`name === 'AbortError'`).
   */
  signal?: AbortSignal
}

/**
 * Options of an estimator method (a `call` on the server).
 *
 * @example
 * ```ts
 * await model.partial_fit({ X: batch }, { idempotencyKey: `batch-${i}` })
 * ```
 */
export interface MethodCallOptions extends CallOptions {
  /**
   * Makes the call exactly-once: the server records the reply of a keyed call, and a
   * second call with the same key on the same model gets that reply instead of running
   * again. Resend a call cut off by a timeout or a lost connection with the same key.
   * 1-128 characters from `[A-Za-z0-9_.:-]`.
   */
  idempotencyKey?: string
}

/**
 * One interim progress report of a long call (`fit`, `partial_fit`, `fit_predict`,
 * `fit_transform`); see `onProgress`.
 *
 * @example
 * ```ts
 * const onProgress = (p: ProgressEvent) => console.log(`${p.step}/${p.steps}`, p.ewa_inertia)
 * ```
 */
export interface ProgressEvent {
  /** Mini-batch steps of this call done so far, from 1. */
  step: number
  /** Steps planned (`max_iter` passes for `fit`, 1 for `partial_fit`). */
  steps: number
  /** Inertia of the current mini-batch. */
  batch_inertia: number
  /** Exponentially weighted average of the batch inertia; `null` before there is one. */
  ewa_inertia: number | null
  /** Passes over the data so far. */
  epoch: number
  /** Seconds since the call started on the server. */
  elapsed: number
}

/**
 * Options of the methods that report progress: `fit`, `partial_fit`, `fit_predict`,
 * `fit_transform`.
 *
 * @example
 * ```ts
 * await model.fit({ X }, { onProgress: (p) => process.stdout.write(`\r${p.step}/${p.steps}`) })
 * ```
 */
export interface ProgressCallOptions extends MethodCallOptions {
  /**
   * Called with each progress report, in order, before the call settles (at most about
   * 20 a second; the first and the last step always). Without it nothing extra is sent.
   * If it throws, the call is cancelled and rejects with what it threw.
   */
  onProgress?: (event: ProgressEvent) => void
}
