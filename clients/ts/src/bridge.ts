/**
 * The Python bridge: a connection to one skbridge server, started by this process or
 * already running. It names its session, renews its lease, checks messages against the
 * server's limits, notices a lost server, and reconnects (or restarts its server).
 *
 * @module
 */

import { randomBytes } from 'node:crypto'

import type { ResultMode } from './array-types.js'
import type { BridgeOptions, InstanceInfo, PingResult, ServerInfo } from './bridge-types.js'
import type { CallOptions } from './call-options.js'
import { type CurveSocketOptions, resolveCurveKeys } from './curve.js'
import { type Dataset, type DatasetInfo, type DatasetInput, type DatasetOptions, uploadDataset } from './dataset.js'
import { decodeValue } from './decode.js'
import { BridgeDisconnectedError, InvalidInputError, ServerExitedError, ServerStartError, type SkbridgeError } from './errors.js'
import { LeaseRenewer } from './lease.js'
import { releaseFrames } from './pool.js'
import { type ServerProcess, exitsWithin, startServer, stderrSink } from './server.js'
import { defaultPython } from './setup/environment.js'
import { type RequestOptions, Transport, type TransportOptions } from './transport.js'
import { errorFromWire } from './wire-errors.js'

/** Default milliseconds to wait for a spawned server's ready line (or a first ping). */
const DEFAULT_STARTUP_TIMEOUT = 30_000
/** Default milliseconds a spawned server gets to exit after `shutdown` before SIGTERM. */
const DEFAULT_SHUTDOWN_GRACE = 5_000
/**
 * When the connection to a server we started drops, how long to wait for the process to
 * exit before calling it a lost connection: an exit is reported as `ServerExitedError`,
 * with its code, signal and stderr.
 */
const EXIT_REPORT_GRACE = 500

/**
 * A connection to one skbridge server. Create it with {@link createPythonBridge}, hand it to
 * estimators' `init(py)`, and call {@link PythonBridge.disconnect} when done.
 *
 * `M` is the result mode: `'plain'` (default) or `'ndarray'` when created with
 * `{ ndarray: true }`; estimators used with it must have the same mode
 * (`new MiniBatchKMeans<'ndarray'>()`).
 *
 * @example
 * ```ts
 * const py = await createPythonBridge()
 * console.log(await py.info())
 * await py.disconnect()
 * ```
 */
export class PythonBridge<M extends ResultMode = 'plain'> {
  /** How arrays come back: `'plain'` or `'ndarray'`. */
  readonly resultMode: M
  /** The session id this bridge sends with every request (it owns the instances it creates). */
  readonly session: string
  private transport: Transport
  private server: ServerProcess | undefined
  /** Token the server started by this bridge requires with `shutdown`. */
  private shutdownToken: string | undefined
  private readonly options: BridgeOptions
  private readonly curve: CurveSocketOptions | undefined
  private readonly lease: LeaseRenewer
  private restarting: Promise<void> | undefined
  private disconnecting: Promise<void> | undefined
  private restartCount = 0

  /** Use {@link createPythonBridge}. */
  private constructor(resultMode: M, options: BridgeOptions, curve: CurveSocketOptions | undefined) {
    this.resultMode = resultMode
    this.options = options
    this.curve = curve
    this.session = options.session ?? randomBytes(16).toString('hex')
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(this.session)) {
      throw new InvalidInputError(`must be 1-128 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(this.session)}`, 'session')
    }
    this.lease = new LeaseRenewer(async () => {
      await this.transport.request({ op: 'ping' }, [], { timeout: Math.max(1000, this.lease.period) })
    })
    // Replaced by connect() before the bridge is handed out.
    this.transport = undefined as unknown as Transport
  }

  /** @internal Builds a bridge; used by {@link createPythonBridge}. */
  static async _create<M extends ResultMode>(resultMode: M, options: BridgeOptions): Promise<PythonBridge<M>> {
    let curve: CurveSocketOptions | undefined
    if (options.serverKey !== undefined || options.clientKey !== undefined) {
      if (options.serverKey === undefined || options.clientKey === undefined) {
        throw new InvalidInputError('CURVE needs both serverKey and clientKey', options.serverKey === undefined ? 'serverKey' : 'clientKey')
      }
      curve = resolveCurveKeys(options.serverKey, options.clientKey)
    }
    const bridge = new PythonBridge(resultMode, options, curve)
    const startupTimeout = options.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT
    if (options.endpoint !== undefined) {
      const endpoint = options.endpoint
      bridge.transport = await bridge.connect(endpoint)
      try {
        await bridge.ping({ timeout: startupTimeout })
      } catch (err) {
        bridge.transport.close()
        throw new ServerStartError(`No skbridge server answered at ${endpoint} within ${startupTimeout} ms: ${String(err instanceof Error ? err.message : err)}`)
      }
      return bridge
    }
    await bridge.spawn()
    return bridge
  }

  /** A transport to `endpoint` with this bridge's session, heartbeat and keys. */
  private connect(endpoint: string): Promise<Transport> {
    const options: TransportOptions = {
      timeout: this.options.timeout ?? 0,
      session: this.session,
      checkLimits: true,
      onDisconnect: (error, olderThan) => this.connectionLost(transport, error, olderThan),
    }
    if (this.options.heartbeat !== undefined) options.heartbeat = this.options.heartbeat
    if (this.curve) options.curve = this.curve
    let transport: Transport
    return Transport.connect(endpoint, options).then((t) => (transport = t))
  }

  /** Starts the server process and connects to it. */
  private async spawn(): Promise<void> {
    const o = this.options
    // Only this bridge may stop the server it started: the server reads the token from
    // its environment and accepts `shutdown` only with it (docs/OPERATIONS.md).
    this.shutdownToken = randomBytes(16).toString('hex')
    const env = { ...(o.env ?? process.env), SKBRIDGE_SHUTDOWN_TOKEN: this.shutdownToken }
    const server = await startServer({
      python: o.python ?? (await defaultPython()),
      args: o.serverArgs ?? [],
      ...(o.bind !== undefined ? { bind: o.bind } : {}),
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      env,
      startupTimeout: o.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT,
      onStderr: stderrSink(o.serverOutput ?? 'inherit'),
    })
    this.server = server
    this.transport = await this.connect(server.ready.endpoint)
    void server.exited.then(({ code, signal }) => this.serverExited(server, code, signal))
  }

  /** `true` until {@link disconnect} is called or the server is lost for good. */
  get isConnected(): boolean {
    return (this.transport.isOpen || this.restarting !== undefined) && this.disconnecting === undefined
  }

  /** The endpoint the bridge talks to (a restarted server may have a new one). */
  get endpoint(): string {
    return this.transport.endpoint
  }

  /** Process id of the server this bridge started, `undefined` when connected to an external one. */
  get pid(): number | undefined {
    return this.server?.pid
  }

  /** How many times the bridge has started a new server after an exit (`restart: true`). */
  get restarts(): number {
    return this.restartCount
  }

  /** Number of calls waiting for a reply. */
  get pendingCount(): number {
    return this.transport.pendingCount
  }

  /**
   * Checks that the server answers. Answered by the server's socket loop, so it is fast
   * even while estimators are busy.
   *
   * @example
   * ```ts
   * await py.ping({ timeout: 1000 })
   * ```
   */
  async ping(options?: CallOptions): Promise<PingResult> {
    return (await this.request('ping', {}, [], options)) as PingResult
  }

  /**
   * Versions of the server, Python, NumPy and scikit-learn, the estimator classes offered,
   * and the server's limits.
   *
   * @example
   * ```ts
   * const { scikit_learn, limits } = await py.info()
   * ```
   */
  async info(options?: CallOptions): Promise<ServerInfo> {
    return (await this.request('info', {}, [], options)) as ServerInfo
  }

  /**
   * The estimator instances alive on the server (from every client).
   *
   * @example
   * ```ts
   * for (const i of await py.instances()) console.log(i.instance, i.fitted, i.nbytes)
   * ```
   */
  async instances(options?: CallOptions): Promise<InstanceInfo[]> {
    return (await this.request('instances', {}, [], options)) as InstanceInfo[]
  }

  /**
   * The server's counters: requests and errors by kind, latency percentiles, bytes held,
   * queue depths, reaped instances (PROTOCOL.md, `stats`).
   *
   * @example
   * ```ts
   * const { latency_seconds, jobs_running } = await py.stats()
   * ```
   */
  async stats(options?: CallOptions): Promise<Record<string, unknown>> {
    return (await this.request('stats', {}, [], options)) as Record<string, unknown>
  }

  /**
   * Uploads an array once and returns a {@link Dataset} handle to pass in its place in
   * later method calls of this bridge's estimators (see `dataset.ts`).
   *
   * @example
   * ```ts
   * const X = await py.dataset(rows)
   * await model.fit({ X })
   * const labels = await model.predict({ X })
   * await X.dispose()
   * ```
   */
  dataset(data: DatasetInput, options?: DatasetOptions): Promise<Dataset> {
    if (this.disconnecting) return Promise.reject(new BridgeDisconnectedError())
    return uploadDataset(this, data, options)
  }

  /**
   * The datasets stored on the server (from every client; `owner` tells whose).
   *
   * @example
   * ```ts
   * for (const d of await py.datasets()) console.log(d.dataset, d.shape, d.nbytes)
   * ```
   */
  async datasets(options?: CallOptions): Promise<DatasetInfo[]> {
    return (await this.request('datasets', {}, [], options)) as DatasetInfo[]
  }

  /**
   * Low-level: sends one protocol operation and returns its decoded `result`, or rejects
   * with the error class matching the reply's code. Array references in `fields` must point
   * into `frames`, which are on loan until this settles. `mode` overrides the bridge's
   * result mode for this reply. Estimator classes use this; you normally do not need it.
   *
   * @example
   * ```ts
   * const result = await py.request('get', { instance: model.id, attribute: 'n_iter_' })
   * ```
   */
  async request(op: string, fields: Record<string, unknown> = {}, frames: readonly Uint8Array[] = [], options?: RequestOptions, mode?: ResultMode): Promise<unknown> {
    if (this.disconnecting) throw new BridgeDisconnectedError()
    if (this.restarting) await this.restarting
    const reply = await this.transport.request({ op, ...fields }, frames, options)
    releaseFrames(frames) // received by the server: packed copies may back the next request
    const header = reply.header
    if (header.ok !== true) throw errorFromWire(header.error)
    if (op === 'init' || op === 'load' || op === 'dataset') void this.startLease()
    return decodeValue(header.result, reply.frames, mode ?? this.resultMode)
  }

  /** Once this bridge owns an instance, keeps its session's lease alive. */
  private async startLease(): Promise<void> {
    if (this.lease.period > 0) return
    let limits = this.transport.limits
    if (!limits) {
      try {
        limits = (await this.info()).limits
        this.transport.limits ??= limits ?? {}
      } catch {
        return // retried at the next init
      }
    }
    const lease = limits?.lease_seconds
    if (typeof lease === 'number') this.lease.start(lease)
  }

  /**
   * Disconnects. A server started by this bridge is asked to shut down, then sent SIGTERM
   * if it has not exited after `shutdownTimeout`; an external server is left running.
   * Calls still pending reject with {@link BridgeDisconnectedError}. Safe to call twice.
   *
   * @example
   * ```ts
   * await py.disconnect()
   * ```
   */
  disconnect(): Promise<void> {
    this.disconnecting ??= this.shutdown()
    return this.disconnecting
  }

  private async shutdown(): Promise<void> {
    this.lease.stop()
    if (this.restarting) await this.restarting.catch(() => undefined)
    const server = this.server
    const grace = this.options.shutdownTimeout ?? DEFAULT_SHUTDOWN_GRACE
    if (server && !server.hasExited && this.transport.isOpen) {
      try {
        const stop = this.shutdownToken === undefined ? { op: 'shutdown' } : { op: 'shutdown', token: this.shutdownToken }
        await this.transport.request(stop, [], { timeout: grace })
      } catch {
        // The process is stopped by signal below.
      }
    }
    this.transport.close()
    if (server) await server.stop(grace)
  }

  /**
   * The connection dropped (or stayed down). A started server that exited is reported by
   * {@link serverExited}; otherwise the pending calls reject, and the socket keeps
   * reconnecting so that the bridge works again once the server is back.
   */
  private connectionLost(transport: Transport, error: BridgeDisconnectedError, olderThan: number): void {
    transport.limits = undefined
    const server = this.server
    if (!server) {
      transport.failPending(error, olderThan)
      return
    }
    void exitsWithin(server.exited, EXIT_REPORT_GRACE).then((exited) => {
      if (!exited) transport.failPending(error, olderThan)
    })
  }

  /** A started server exited: fail what was pending, then restart it or give up. */
  private serverExited(server: ServerProcess, code: number | null, signal: string | null): void {
    if (this.disconnecting || server !== this.server) return
    const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`
    const tail = server.stderrTail()
    const error = new ServerExitedError(`The skbridge server (pid ${server.pid}) ${how}${tail ? `\n--- server stderr (tail) ---\n${tail}` : ''}`, {
      exitCode: code,
      signal,
      stderr: tail,
    })
    this.transport.fail(error)
    if (this.options.restart !== true) {
      this.lease.stop()
      return
    }
    this.restarting = this.respawn(error).finally(() => {
      this.restarting = undefined
    })
  }

  private async respawn(cause: SkbridgeError): Promise<void> {
    try {
      await this.spawn()
      this.restartCount++
    } catch (err) {
      this.lease.stop()
      const why = err instanceof Error ? err.message : String(err)
      this.transport.fail(new ServerStartError(`${cause.message}\nRestarting it failed: ${why}`))
    }
  }
}

/**
 * Starts a skbridge server (`<python> -m bridge serve`) and connects to it, or connects to
 * a running one when `endpoint` is given. Drop-in for scikit-learn-ts's
 * `createPythonBridge()`.
 *
 * Rejects with `PythonNotFoundError` when the Python executable is missing,
 * `BridgeModuleMissingError` when it cannot import skbridge's `bridge` module, and
 * `ServerStartError` when the server does not become ready within `startupTimeout`.
 *
 * @example
 * ```ts
 * import * as sklearn from 'skbridge'
 *
 * const py = await sklearn.createPythonBridge()
 * const model = new sklearn.MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
 * await model.init(py)
 * await model.fit({ X: [[0, 0], [0, 1], [9, 9], [9, 8], [5, 0], [5, 1]] })
 * console.log(await model.cluster_centers_)
 * await model.dispose()
 * await py.disconnect()
 * ```
 */
export function createPythonBridge(options?: BridgeOptions & { ndarray?: false }): Promise<PythonBridge<'plain'>>
export function createPythonBridge(options: BridgeOptions & { ndarray: true }): Promise<PythonBridge<'ndarray'>>
export function createPythonBridge(options?: BridgeOptions): Promise<PythonBridge<'plain'> | PythonBridge<'ndarray'>>
export function createPythonBridge(options: BridgeOptions = {}): Promise<PythonBridge<'plain'> | PythonBridge<'ndarray'>> {
  return options.ndarray === true
    ? PythonBridge._create('ndarray' as const, options)
    : PythonBridge._create('plain' as const, options)
}
