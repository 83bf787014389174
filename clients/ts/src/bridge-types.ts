/**
 * The options of {@link createPythonBridge} and the results of the bridge's own requests.
 *
 * @module
 */

import type { ClientKey } from './curve.js'
import type { ServerLimits } from './limits.js'

/**
 * How often the bridge checks that the server is alive, and how long it waits for an
 * answer before it gives the connection up (milliseconds).
 *
 * @example
 * ```ts
 * const py = await createPythonBridge({ heartbeat: { interval: 1000, timeout: 3000 } })
 * ```
 */
export interface HeartbeatOptions {
  /** Milliseconds between heartbeats. Default 1000. */
  interval?: number
  /** Milliseconds without any answer after which the connection counts as lost. Default 3000. */
  timeout?: number
}

/**
 * Options of {@link createPythonBridge}.
 *
 * @example
 * ```ts
 * const py = await createPythonBridge({ python: '.venv/bin/python', timeout: 60_000, restart: true })
 * ```
 */
export interface BridgeOptions {
  /**
   * Connect to a server that is already running at this endpoint (`ipc://...` or
   * `tcp://127.0.0.1:PORT`) instead of starting one. `disconnect()` then leaves it running.
   * The bridge reconnects on its own when the server restarts on the same endpoint.
   */
  endpoint?: string
  /**
   * Python executable used to start the server. Default: env `SKBRIDGE_PYTHON`, else the
   * private environment that skbridge sets up on first use (see `ensureEnvironment`).
   */
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
  /**
   * Liveness checks: ZeroMQ heartbeats every `interval` ms; with no answer for `timeout`
   * ms (a dead, frozen or unreachable server), the pending calls reject with
   * `BridgeDisconnectedError`, whatever their own timeout. Default
   * `{ interval: 1000, timeout: 3000 }`; `false` turns heartbeats off.
   */
  heartbeat?: HeartbeatOptions | false
  /**
   * For a server this bridge started: start a new one when it exits unexpectedly, and
   * keep working (models created before must be created again; calls pending at the exit
   * reject with `ServerExitedError`). Default `false`: the bridge is then unusable.
   */
  restart?: boolean
  /**
   * The server's CURVE public key (40-character Z85 string, or the path of its `.key`
   * file from `skbridge keys`). With `clientKey`, the connection is encrypted and the
   * server checks that this client's public key is authorized.
   */
  serverKey?: string
  /** This client's CURVE key pair: `{ publicKey, secretKey }` (Z85) or the path of its `.key_secret` file. */
  clientKey?: ClientKey
  /** The session id sent with every request. Default: a random one per bridge. */
  session?: string
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
 * const { scikit_learn, classes, limits } = await py.info()
 * ```
 */
export interface ServerInfo {
  server: string
  protocol: number
  python: string
  numpy: string
  scikit_learn: string
  classes: string[]
  /** The server's limits (absent from servers older than the limits). */
  limits?: ServerLimits
  /** Live instances over all sessions. */
  instances?: number
  /** Live sessions. */
  sessions?: number
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
  /** The session that created it. */
  owner?: string
  /** Unix time at which the owner's lease runs out unless renewed; `null` when leases are off. */
  lease_expires?: number | null
  /** Ray backend only (`serve --backend ray`): the id of the Ray node holding the instance. */
  node?: string
  /** Ray backend only: the address of that node. */
  node_ip?: string
}
