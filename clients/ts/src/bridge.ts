/**
 * The Python bridge: a connection to one skbridge server, started by this process or
 * already running.
 *
 * @module
 */

import type { ResultMode } from './array-types.js'
import { type Dataset, type DatasetInfo, type DatasetInput, type DatasetOptions, uploadDataset } from './dataset.js'
import { BridgeDisconnectedError, ServerExitedError, ServerStartError, type SkbridgeError } from './errors.js'
import { decodeValue } from './decode.js'
import { releaseFrames } from './pool.js'
import { type ServerProcess, spawnServer } from './server.js'
import { PROTOCOL_VERSION } from './generated/protocol.js'
import { type CallOptions, Transport } from './transport.js'
import { errorFromWire } from './wire-errors.js'

/** Default milliseconds to wait for a spawned server's ready line (or a first ping). */
const DEFAULT_STARTUP_TIMEOUT = 30_000
/** Default milliseconds a spawned server gets to exit after `shutdown` before SIGTERM. */
const DEFAULT_SHUTDOWN_GRACE = 5_000

/**
 * Options of {@link createPythonBridge}.
 *
 * @example
 * ```ts
 * const py = await createPythonBridge({ python: '.venv/bin/python', timeout: 60_000 })
 * ```
 */
export interface BridgeOptions {
  /**
   * Connect to a server that is already running at this endpoint (`ipc://...` or
   * `tcp://127.0.0.1:PORT`) instead of starting one. `disconnect()` then leaves it running.
   */
  endpoint?: string
  /** Python executable used to start the server. Default: env `SKBRIDGE_PYTHON`, else `python3`. */
  python?: string
  /** Endpoint the started server binds (`--endpoint`). Default: a private ipc socket chosen by the server. */
  bind?: string
  /** Extra command-line arguments for `python -m bridge serve` (e.g. `['--debug']`). */
  serverArgs?: readonly string[]
  /** Working directory of the started server. Default: this process's. */
  cwd?: string
  /** Environment of the started server. Default: this process's. */
  env?: Readonly<Record<string, string | undefined>>
  /** Milliseconds to wait for the server to be ready. Default 30000. */
  startupTimeout?: number
  /** Default per-call timeout in milliseconds; 0 (default) waits forever. Each call may override it. */
  timeout?: number
  /**
   * Return arrays as {@link NdArray} objects (`{ data: TypedArray, shape, dtype }`) whose
   * `data` is a view over the received bytes, instead of `number[]` / `number[][]`.
   * Default `false` (plain arrays, as scikit-learn-ts returns).
   */
  ndarray?: boolean
  /** Milliseconds a started server gets to exit after the shutdown request before SIGTERM. Default 5000. */
  shutdownTimeout?: number
  /**
   * Where a started server's stderr goes: its log lines, Python warnings and the progress
   * lines of estimators created with `verbose: 1`. `'inherit'` (default) copies it to this
   * process's stderr, `'ignore'` drops it, a function receives each chunk of text. The last
   * few kilobytes are kept either way for error messages.
   */
  serverOutput?: 'inherit' | 'ignore' | ((text: string) => void)
}

/**
 * Result of {@link PythonBridge.ping}.
 *
 * @example
 * ```ts
 * const { pong, time } = await py.ping()
 * ```
 */
export interface PingResult {
  pong: true
  /** Server clock, unix seconds. */
  time: number
}

/**
 * Result of {@link PythonBridge.info}.
 *
 * @example
 * ```ts
 * const { scikit_learn, classes } = await py.info()
 * ```
 */
export interface ServerInfo {
  server: string
  protocol: number
  python: string
  numpy: string
  scikit_learn: string
  classes: string[]
  [key: string]: unknown
}

/**
 * One entry of {@link PythonBridge.instances}.
 *
 * @example
 * ```ts
 * const live = (await py.instances()).filter((i) => i.fitted)
 * ```
 */
export interface InstanceInfo {
  instance: string
  class: string
  fitted: boolean
  /** Bytes held by the instance's array attributes. */
  nbytes: number
}

function stderrSink(output: NonNullable<BridgeOptions['serverOutput']>): ((text: string) => void) | undefined {
  if (output === 'ignore') return undefined
  if (output === 'inherit') return (text) => void process.stderr.write(text)
  return output
}

/** Every started server that is still running, killed if this process exits first. */
const liveServers = new Set<ServerProcess>()
let exitHookInstalled = false

function trackServer(server: ServerProcess): void {
  liveServers.add(server)
  void server.exited.then(() => liveServers.delete(server))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const s of liveServers) s.kill('SIGTERM')
    })
  }
}

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
  /** The endpoint the bridge talks to. */
  readonly endpoint: string
  private readonly transport: Transport
  private readonly server: ServerProcess | undefined
  private readonly shutdownGrace: number
  private disconnecting: Promise<void> | undefined

  /** Use {@link createPythonBridge}. */
  private constructor(resultMode: M, transport: Transport, server: ServerProcess | undefined, shutdownGrace: number) {
    this.resultMode = resultMode
    this.transport = transport
    this.endpoint = transport.endpoint
    this.server = server
    this.shutdownGrace = shutdownGrace
  }

  /** @internal Builds a bridge; used by {@link createPythonBridge}. */
  static async _create<M extends ResultMode>(resultMode: M, options: BridgeOptions): Promise<PythonBridge<M>> {
    const startupTimeout = options.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT
    const shutdownGrace = options.shutdownTimeout ?? DEFAULT_SHUTDOWN_GRACE
    const timeout = options.timeout ?? 0

    if (options.endpoint !== undefined) {
      let bridge: PythonBridge<M> | undefined
      const transport = await Transport.connect(options.endpoint, {
        timeout,
        onDisconnect: () => bridge?.lost(new ServerExitedError(`Lost the connection to the skbridge server at ${options.endpoint}`)),
      })
      bridge = new PythonBridge(resultMode, transport, undefined, shutdownGrace)
      try {
        await bridge.ping({ timeout: startupTimeout })
      } catch (err) {
        transport.close()
        throw new ServerStartError(`No skbridge server answered at ${options.endpoint} within ${startupTimeout} ms: ${String(err instanceof Error ? err.message : err)}`)
      }
      return bridge
    }

    const python = options.python ?? process.env.SKBRIDGE_PYTHON ?? 'python3'
    const server = await spawnServer({
      python,
      args: options.serverArgs ?? [],
      ...(options.bind !== undefined ? { bind: options.bind } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      startupTimeout,
      onStderr: stderrSink(options.serverOutput ?? 'inherit'),
    })
    trackServer(server)
    if (server.ready.protocol !== PROTOCOL_VERSION) {
      server.kill('SIGTERM')
      throw new ServerStartError(
        `The server speaks protocol ${server.ready.protocol}; this client speaks ${PROTOCOL_VERSION}`,
        server.stderrTail(),
      )
    }
    const transport = await Transport.connect(server.ready.endpoint, { timeout })
    const bridge = new PythonBridge(resultMode, transport, server, shutdownGrace)
    void server.exited.then(({ code, signal }) => {
      if (bridge.disconnecting) return
      const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`
      const tail = server.stderrTail()
      bridge.lost(
        new ServerExitedError(`The skbridge server (pid ${server.pid}) ${how}${tail ? `\n--- server stderr (tail) ---\n${tail}` : ''}`, {
          exitCode: code,
          signal,
          stderr: tail,
        }),
      )
    })
    return bridge
  }

  /** `true` until {@link disconnect} is called or the server is lost. */
  get isConnected(): boolean {
    return this.transport.isOpen && this.disconnecting === undefined
  }

  /** Process id of the server this bridge started, `undefined` when connected to an external one. */
  get pid(): number | undefined {
    return this.server?.pid
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
   * Versions of the server, Python, NumPy and scikit-learn, and the estimator classes offered.
   *
   * @example
   * ```ts
   * const { scikit_learn } = await py.info()
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
   * into `frames`, which are on loan until this settles. Estimator classes use this; you
   * normally do not need it.
   *
   * @example
   * ```ts
   * const result = await py.request('get', { instance: model.id, attribute: 'n_iter_' })
   * ```
   */
  async request(op: string, fields: Record<string, unknown> = {}, frames: readonly Uint8Array[] = [], options?: CallOptions): Promise<unknown> {
    if (this.disconnecting) throw new BridgeDisconnectedError()
    const reply = await this.transport.request({ op, ...fields }, frames, options)
    releaseFrames(frames) // received by the server: packed copies may back the next request
    const header = reply.header
    if (header.ok !== true) throw errorFromWire(header.error)
    return decodeValue(header.result, reply.frames, this.resultMode)
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
    const server = this.server
    if (server && !server.hasExited && this.transport.isOpen) {
      try {
        await this.transport.request({ op: 'shutdown' }, [], { timeout: this.shutdownGrace })
      } catch {
        // The process is stopped by signal below.
      }
    }
    this.transport.close()
    if (server) await server.stop(this.shutdownGrace)
  }

  /** The server is gone: fail everything pending and refuse new calls. */
  private lost(error: SkbridgeError): void {
    this.transport.fail(error)
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
