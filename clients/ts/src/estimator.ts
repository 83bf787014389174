/**
 * The lifecycle every estimator shares: a client-chosen instance id, `init(py)` creating the
 * instance on the server, calls and attribute reads, and `dispose()`.
 *
 * @module
 */

import { randomBytes } from 'node:crypto'

import type { PythonBridge } from './bridge.js'
import {
  AlreadyInitializedError,
  BridgeDisconnectedError,
  DisposedError,
  InvalidInputError,
  NotInitializedError,
  ServerExitedError,
} from './errors.js'
import type { NdArray, ResultMode } from './array-types.js'
import type { CallOptions, ProgressCallOptions } from './call-options.js'
import { type ArrayKind, FrameSink, encodeMap } from './encode.js'
import type { RequestOptions } from './transport.js'

/** The form of instance ids and idempotency keys (PROTOCOL.md 3). */
const KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/

/**
 * What a method resolves to, from the contract's `returns`.
 *
 * @example
 * ```ts
 * const k: ReturnKind = MiniBatchKMeansContract.methods.fit.returns // 'self'
 * ```
 */
export type ReturnKind = 'self' | 'matrix' | 'vector' | 'strings' | 'value'

/**
 * The runtime part of a class's contract, as generated in `generated/contracts.ts`.
 *
 * @example
 * ```ts
 * const c: EstimatorContract = { className: 'X', options: {}, methods: {}, attributes: {} }
 * ```
 */
export interface EstimatorContract {
  readonly className: string
  readonly options: Readonly<Record<string, ArrayKind>>
  readonly methods: Readonly<
    Record<string, { readonly params: Readonly<Record<string, ArrayKind>>; readonly returns: ReturnKind; readonly progress?: boolean }>
  >
  readonly attributes: Readonly<Record<string, ReturnKind>>
}

/**
 * Base class of the estimators: holds `id`, `opts`, `_py`, `_isInitialized`,
 * `_isDisposed`, implements `init(py)`, `dispose()`, and the `_call`/`_get` helpers that
 * subclasses wrap in typed methods and accessors.
 *
 * `M` is the result mode and must match the bridge's (`PythonBridge<M>`).
 *
 * @example
 * ```ts
 * class MyEstimator extends Estimator<MyOptions> {
 *   constructor(opts?: MyOptions) { super(MyEstimatorContract, opts) }
 *   predict(params: { X: MatrixInput }) { return this._call('predict', params) as Promise<number[]> }
 * }
 * ```
 */
export abstract class Estimator<O extends object, M extends ResultMode = 'plain'> {
  /** Instance id on the server: the class name followed by 8 hex characters. */
  id: string
  /** The constructor options, sent to the server by `init(py)`. */
  opts: O
  /** The bridge, set by `init(py)`. */
  _py!: PythonBridge<M>
  /** `true` once `init(py)` has resolved. */
  _isInitialized = false
  /** `true` once `dispose()` has been called. */
  _isDisposed = false

  private readonly _contract: EstimatorContract
  private _initializing: Promise<void> | undefined

  protected constructor(contract: EstimatorContract, opts?: O) {
    this._contract = contract
    this.id = `${contract.className}${randomBytes(4).toString('hex')}`
    this.opts = opts ?? ({} as O)
  }

  /** The bridge this estimator uses (set by `init(py)`). */
  get py(): PythonBridge<M> {
    return this._py
  }

  set py(pythonBridge: PythonBridge<M>) {
    this._py = pythonBridge
  }

  /**
   * Creates the estimator on the server with `opts`. The instance is not usable until the
   * returned promise resolves. Rejects with `AlreadyInitializedError` when called twice,
   * `DisposedError` after `dispose()`, `BridgeDisconnectedError` when `py` is disconnected,
   * and `InvalidParamsError` (with `details`) when the server rejects an option.
   *
   * @example
   * ```ts
   * const model = new MiniBatchKMeans({ n_clusters: 3 })
   * await model.init(py)
   * ```
   */
  async init(py: PythonBridge<M>, options?: CallOptions): Promise<void> {
    const name = this._contract.className
    if (this._isDisposed) throw new DisposedError(`This ${name} instance has already been disposed`)
    if (this._isInitialized || this._initializing) {
      throw new AlreadyInitializedError(`This ${name} instance is already initialized (id ${this.id})`)
    }
    if (!py || typeof py.request !== 'function') {
      throw new NotInitializedError(`${name}.init(py) needs a PythonBridge from createPythonBridge()`)
    }
    if (!py.isConnected) throw new BridgeDisconnectedError(`Cannot init ${name}: the Python bridge is disconnected`)
    const run = async (): Promise<void> => {
      const sink = new FrameSink()
      const encoded = encodeMap(this.opts as Record<string, unknown>, sink, this._contract.options, 'opts')
      await py.request('init', { class: name, instance: this.id, options: encoded }, sink.frames, options)
      this._py = py
      this._isInitialized = true
    }
    this._initializing = run()
    try {
      await this._initializing
    } finally {
      this._initializing = undefined
    }
  }

  /**
   * Releases the estimator on the server; every later call on this object rejects.
   * Calling it again, or on an instance never initialized, does nothing. A bridge that is
   * already disconnected or whose server exited is not an error here.
   *
   * @example
   * ```ts
   * await model.dispose()
   * ```
   */
  async dispose(options?: CallOptions): Promise<void> {
    if (this._isDisposed) return
    this._isDisposed = true
    if (!this._isInitialized) return
    this._isInitialized = false
    try {
      await this._py.request('dispose', { instance: this.id }, [], options)
    } catch (err) {
      if (err instanceof BridgeDisconnectedError || err instanceof ServerExitedError) return
      throw err
    }
  }

  private _checkUsable(what: string): void {
    const name = this._contract.className
    if (this._isDisposed) throw new DisposedError(`This ${name} instance has already been disposed`)
    if (!this._isInitialized) {
      throw new NotInitializedError(`${name} must call init(py) before using ${what}`)
    }
  }

  /**
   * Calls a contract method with keyword parameters and decodes its result; a `self`
   * result resolves to this estimator. `idempotencyKey` and (on the methods that report
   * progress) `onProgress` go into the call's header.
   */
  protected async _call(method: string, params: object | undefined, options?: ProgressCallOptions): Promise<unknown> {
    this._checkUsable(`${method}()`)
    const spec = this._contract.methods[method]
    const sink = new FrameSink()
    const encoded = encodeMap((params ?? {}) as Record<string, unknown>, sink, spec?.params)
    const fields: Record<string, unknown> = { instance: this.id, method, params: encoded }
    const key = options?.idempotencyKey
    if (key !== undefined) {
      if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
        throw new InvalidInputError(`must be 1-128 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(key)}`, 'idempotencyKey')
      }
      fields.idempotency_key = key
    }
    const request: RequestOptions = {}
    if (options?.timeout !== undefined) request.timeout = options.timeout
    if (options?.signal !== undefined) request.signal = options.signal
    if (options?.onProgress !== undefined && spec?.progress === true) request.onProgress = options.onProgress
    const result = await this._py.request('call', fields, sink.frames, request)
    return spec?.returns === 'self' ? this : result
  }

  /**
   * The model's state in the model format (`docs/MODEL_FORMAT.md`: a zip of a JSON
   * manifest and `.npy` arrays, never code), as bytes to store anywhere. Waits for the
   * calls queued before it. Restore it with the class's static `load(py, bytes)`.
   *
   * @example
   * ```ts
   * const bytes = await model.save()
   * writeFileSync('model.skb', bytes)
   * const again = await MiniBatchKMeans.load(py, readFileSync('model.skb'))
   * ```
   */
  async save(options?: CallOptions): Promise<Uint8Array> {
    this._checkUsable('save()')
    const result = (await this._py.request('save', { instance: this.id }, [], options, 'ndarray')) as { model?: NdArray }
    const data = result.model?.data
    if (!(data instanceof Uint8Array)) throw new InvalidInputError('the server sent no uint8 model bytes', 'save')
    return data
  }

  /**
   * @internal Creates this (fresh) estimator on the server from model-format bytes; used
   * by the generated static `load`.
   */
  async _load(py: PythonBridge<M>, model: Uint8Array, options?: CallOptions): Promise<void> {
    const name = this._contract.className
    if (this._isInitialized || this._initializing || this._isDisposed) {
      throw new AlreadyInitializedError(`load needs a fresh ${name} (id ${this.id})`)
    }
    if (!(model instanceof Uint8Array)) throw new InvalidInputError('expected the model bytes as a Uint8Array (or Buffer)', 'model')
    if (!py.isConnected) throw new BridgeDisconnectedError(`Cannot load a ${name}: the Python bridge is disconnected`)
    const ref = { $type: 'ndarray', frame: 0, dtype: 'uint8', shape: [model.byteLength] }
    this._initializing = py.request('load', { instance: this.id, model: ref }, [model], options).then(() => {
      this._py = py
      this._isInitialized = true
    })
    try {
      await this._initializing
    } finally {
      this._initializing = undefined
    }
  }

  /** Reads a fitted attribute. */
  protected async _get(attribute: string, options?: CallOptions): Promise<unknown> {
    this._checkUsable(attribute)
    return this._py.request('get', { instance: this.id, attribute }, [], options)
  }
}
