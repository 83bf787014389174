/**
 * The request/reply transport: one DEALER socket, one send queue, one receive loop, and
 * the pending requests in a map keyed by request id (protocol v1, sections 1-2).
 *
 * zeromq.js v6 allows a single pending `send()` and a single pending `receive()` per
 * socket, so every request goes through {@link Transport.request}, which queues the
 * multipart message and resolves when the reply carrying the same `id` arrives. Replies
 * may come back in any order; interim progress messages go to the request's callback.
 *
 * @module
 */

import { Dealer } from 'zeromq'

import type { HeartbeatOptions } from './bridge-types.js'
import type { CallOptions, ProgressEvent } from './call-options.js'
import type { CurveSocketOptions } from './curve.js'
import { AbortedError, BridgeDisconnectedError, RequestTimeoutError, type SkbridgeError } from './errors.js'
import { CancelledError, ProtocolError } from './generated/errors.js'
import { MAX_REQUEST_ID, PROTOCOL_VERSION } from './generated/protocol.js'
import { type ServerLimits, checkMessage } from './limits.js'
import { heartbeatSocketOptions, resolveHeartbeat, watchConnection } from './liveness.js'
import { decodeHeader, describe, errorText, packHeader, warnUnmatched } from './wire.js'

/**
 * Kernel socket buffer size asked for on the DEALER (the Python side uses the same). The
 * default (about 200 KB on Linux) moves a large array in many small system calls; the
 * kernel caps the request at net.core.[rw]mem_max.
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024

/**
 * Options of one {@link Transport.request}.
 *
 * @example
 * ```ts
 * await transport.request({ op: 'call', instance, method: 'fit', params }, frames, { onProgress: console.log })
 * ```
 */
export interface RequestOptions extends CallOptions {
  /** Asks for interim progress messages (`progress: true` in the header) and receives them. */
  onProgress?: (event: ProgressEvent) => void
}

/**
 * A decoded reply: its msgpack header and the raw buffer frames after it.
 *
 * @example
 * ```ts
 * const { header, frames }: Reply = await transport.request({ op: 'ping' })
 * ```
 */
export interface Reply {
  header: Record<string, unknown>
  frames: Uint8Array[]
}

interface Pending {
  resolve: (reply: Reply) => void
  reject: (error: Error) => void
  /** The multipart message while still queued; `undefined` once handed to the socket. */
  message: Uint8Array[] | undefined
  onProgress: ((event: ProgressEvent) => void) | undefined
  /** `performance.now()` when the request was made. */
  since?: number
  /** Sent and forgotten (a `cancel`): its reply is not waited for. */
  oneWay?: boolean
  cleanup: () => void
}

/**
 * Options of {@link Transport.connect}.
 *
 * @example
 * ```ts
 * const t = await Transport.connect('ipc:///tmp/skbridge/sock', { timeout: 30_000, session: 'abc' })
 * ```
 */
export interface TransportOptions {
  /** Default per-request timeout in milliseconds (`0` = none). */
  timeout?: number
  /** The session id sent with every request (PROTOCOL.md 2.4). */
  session?: string
  /** ZeroMQ heartbeats; `false` turns them off. Default `{ interval: 1000, timeout: 3000 }`. */
  heartbeat?: HeartbeatOptions | false
  /** CURVE keys, from `resolveCurveKeys`. */
  curve?: CurveSocketOptions
  /**
   * Check every message with buffers against the server's limits: before the first one,
   * fetch them with `info` (again after a lost connection). Default `false`.
   */
  checkLimits?: boolean
  /**
   * Called when the connection is lost (`olderThan` 0), or stays down (then only requests
   * waiting at least `olderThan` ms should fail). Without it, those pending requests
   * reject with `error` and the socket keeps reconnecting.
   */
  onDisconnect?: (error: BridgeDisconnectedError, olderThan: number) => void
}

/**
 * A connected DEALER socket that multiplexes concurrent requests.
 *
 * @example
 * ```ts
 * const t = await Transport.connect(endpoint)
 * const reply = await t.request({ op: 'ping' })
 * t.close()
 * ```
 */
export class Transport {
  /** The endpoint this transport is connected to. */
  readonly endpoint: string
  /** The session id sent with every request, if any. */
  readonly session: string | undefined
  /**
   * The server's limits; while set, every message is checked against them before
   * sending. Fetched before the first message with buffers when `checkLimits` is on.
   */
  limits: ServerLimits | undefined
  private readonly checkLimits: boolean
  private readonly socket: Dealer
  private readonly pending = new Map<number, Pending>()
  private readonly queue: number[] = []
  private readonly defaultTimeout: number
  private readonly unwatch: () => void
  private nextId = 1
  private pumping = false
  private closedWith: SkbridgeError | undefined

  private constructor(endpoint: string, socket: Dealer, options: TransportOptions) {
    this.endpoint = endpoint
    this.socket = socket
    this.session = options.session
    this.defaultTimeout = options.timeout ?? 0
    this.checkLimits = options.checkLimits ?? false
    const onDisconnect = options.onDisconnect ?? ((error: BridgeDisconnectedError, olderThan: number) => this.failPending(error, olderThan))
    const downTimeout = options.heartbeat === false ? 0 : resolveHeartbeat(options.heartbeat).timeout
    this.unwatch = watchConnection(socket, downTimeout, {
      onLost: (reason, olderThan) => onDisconnect(new BridgeDisconnectedError(`skbridge server at ${endpoint}: ${reason}`), olderThan),
    })
    void this.receiveLoop()
  }

  /**
   * Connects a DEALER socket to `endpoint` (ZeroMQ connects lazily and reconnects on its
   * own: this never waits for the server).
   */
  static async connect(endpoint: string, options: TransportOptions = {}): Promise<Transport> {
    const socket = new Dealer({
      linger: 0,
      sendBufferSize: SOCKET_BUFFER_BYTES,
      receiveBufferSize: SOCKET_BUFFER_BYTES,
      ...heartbeatSocketOptions(options.heartbeat),
      ...(options.curve ?? {}),
    })
    socket.connect(endpoint)
    return new Transport(endpoint, socket, options)
  }

  /** `true` until {@link close} or {@link fail} is called. */
  get isOpen(): boolean {
    return this.closedWith === undefined
  }

  /** Number of requests still waiting for their reply. */
  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * Sends one request and resolves with its reply.
   *
   * `fields` is the header without `v`, `id` and `session` (those are added here);
   * `frames` are the buffers its array references point to. They are on loan until the
   * returned promise settles: do not mutate them before. Failure replies resolve too
   * (check `header.ok`). A `call` that times out or is aborted is cancelled on the server
   * and rejects with `CancelledError`; other requests reject with `RequestTimeoutError`
   * or `AbortedError`.
   */
  request(fields: Record<string, unknown>, frames: readonly Uint8Array[] = [], options: RequestOptions = {}): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    const signal = options.signal
    const cancellable = fields.op === 'call'
    const what = describe(fields)
    if (signal?.aborted) {
      const reason: unknown = signal.reason
      return Promise.reject(cancellable ? new CancelledError(`${what} cancelled before it was sent`, { cause: reason }) : new AbortedError(`Request ${what} aborted before it was sent`, reason))
    }

    const id = this.allocateId()
    const onProgress = options.onProgress
    const header = { v: PROTOCOL_VERSION, id, ...(this.session === undefined ? {} : { session: this.session }), ...fields, ...(onProgress ? { progress: true } : {}) }
    let message: Uint8Array[]
    try {
      message = [packHeader(header), ...frames]
    } catch (err) {
      return Promise.reject(err)
    }

    return new Promise<Reply>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const stop = (error: Error): void => {
        if (cancellable) this.cancel(id)
        else this.drop(id)
        reject(error)
      }
      const onAbort = (): void => {
        const reason: unknown = signal?.reason
        stop(cancellable ? new CancelledError(`${what} cancelled (aborted by its signal)`, { cause: reason }) : new AbortedError(`Request ${what} aborted`, reason))
      }
      const entry: Pending = {
        resolve,
        reject,
        message,
        onProgress: undefined,
        since: performance.now(),
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        },
      }
      if (onProgress) {
        entry.onProgress = (event) => {
          try {
            onProgress(event)
          } catch (err) {
            stop(err instanceof Error ? err : new Error(String(err)))
          }
        }
      }
      const timeout = options.timeout ?? this.defaultTimeout
      if (timeout > 0 && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          const late = `${what} got no reply within ${timeout} ms`
          stop(cancellable ? new CancelledError(`${late}; cancelled`, { cause: new RequestTimeoutError(late) }) : new RequestTimeoutError(`Request ${late}`))
        }, timeout)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, entry)
      this.queue.push(id)
      void this.pump()
    })
  }

  /**
   * Rejects the pending requests made at least `olderThan` ms ago (all by default) with
   * `error`; the socket stays open (and reconnects).
   */
  failPending(error: SkbridgeError, olderThan = 0): void {
    const cutoff = performance.now() - olderThan
    for (const [id, entry] of [...this.pending]) {
      if (olderThan > 0 && (entry.since ?? 0) > cutoff) continue
      this.pending.delete(id)
      entry.cleanup()
      entry.reject(error)
    }
  }

  /** Rejects every pending and future request with `error` and closes the socket. */
  fail(error: SkbridgeError): void {
    if (this.closedWith) return
    this.closedWith = error
    this.unwatch()
    this.queue.length = 0
    this.failPending(error)
    this.socket.close()
  }

  /** Closes the socket; pending requests reject with {@link BridgeDisconnectedError}. */
  close(): void {
    this.fail(new BridgeDisconnectedError())
  }

  private allocateId(): number {
    const id = this.nextId
    this.nextId = this.nextId >= MAX_REQUEST_ID ? 1 : this.nextId + 1
    return id
  }

  /** Forgets a request (timeout/abort). Its reply, if it ever comes, is ignored. */
  private drop(id: number): Pending | undefined {
    const entry = this.pending.get(id)
    if (!entry) return undefined
    this.pending.delete(id)
    entry.cleanup()
    return entry
  }

  /**
   * Forgets a `call` and, if it has left the queue, asks the server to cancel it (same
   * session). The cancel's own reply matches nothing pending and is dropped.
   */
  private cancel(id: number): void {
    const entry = this.drop(id)
    if (!entry || entry.message !== undefined || this.closedWith) return // never sent: nothing to cancel
    const cancelId = this.allocateId()
    const message = [packHeader({ v: PROTOCOL_VERSION, id: cancelId, ...(this.session === undefined ? {} : { session: this.session }), op: 'cancel', target: id })]
    // Queued like any request, so it goes out in order; forgotten once sent.
    this.pending.set(cancelId, { resolve: () => undefined, reject: () => undefined, message, onProgress: undefined, oneWay: true, cleanup: () => undefined })
    this.queue.push(cancelId)
    void this.pump()
  }

  /** The single sender: drains the queue one `send()` at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.closedWith) {
        const id = this.queue.shift() as number
        const entry = this.pending.get(id)
        // Dropped (timeout/abort) before it left the queue: never send it.
        if (!entry || !entry.message) continue
        const message = entry.message
        if (message.length > 1 && this.checkLimits && this.limits === undefined) {
          // Everything behind waits, so requests still leave in the order they were made.
          await this.fetchLimits()
          if (!this.pending.has(id)) continue // timed out, aborted or lost meanwhile
        }
        if (this.limits) {
          try {
            checkMessage(this.limits, message[0] as Uint8Array, message.slice(1))
          } catch (err) {
            this.pending.delete(id)
            entry.cleanup()
            entry.reject(err instanceof Error ? err : new Error(String(err)))
            continue
          }
        }
        entry.message = undefined
        if (entry.oneWay) this.pending.delete(id)
        try {
          await this.socket.send(message)
        } catch (err) {
          if (this.closedWith) break
          this.pending.delete(id)
          entry.cleanup()
          entry.reject(new BridgeDisconnectedError(`Could not send request ${id}: ${errorText(err)}`))
        }
      }
    } finally {
      this.pumping = false
    }
  }

  /**
   * Asks the server for its limits (`info`), past the queue: only the pump calls this,
   * while every queued request waits. Leaves `limits` unset when there is no answer (the
   * next message with buffers asks again).
   */
  private async fetchLimits(): Promise<void> {
    const id = this.allocateId()
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, message: undefined, onProgress: undefined, cleanup: () => clearTimeout(timer) })
    })
    const timer = this.defaultTimeout > 0 && Number.isFinite(this.defaultTimeout) ? setTimeout(() => this.drop(id)?.reject(new RequestTimeoutError('info got no reply')), this.defaultTimeout) : undefined
    try {
      await this.socket.send(packHeader({ v: PROTOCOL_VERSION, id, ...(this.session === undefined ? {} : { session: this.session }), op: 'info' }))
      const { header } = await reply
      const result = header.result
      const limits = typeof result === 'object' && result !== null ? (result as Record<string, unknown>).limits : undefined
      this.limits = typeof limits === 'object' && limits !== null ? (limits as ServerLimits) : {}
    } catch {
      this.drop(id)
    }
  }

  /** The single receiver: matches each reply to its pending request by id. */
  private async receiveLoop(): Promise<void> {
    while (!this.closedWith) {
      let parts: Buffer[]
      try {
        parts = await this.socket.receive()
      } catch (err) {
        if (this.closedWith) return
        this.fail(new BridgeDisconnectedError(`Receive failed: ${errorText(err)}`))
        return
      }
      this.dispatch(parts)
    }
  }

  private dispatch(parts: Buffer[]): void {
    const [head, ...frames] = parts
    if (!head) return
    const h = decodeHeader(head)
    if (!h) return // a reply we cannot read cannot be matched either
    if (h.id === null) {
      warnUnmatched(h.error)
      return
    }
    if (typeof h.id !== 'number') return
    const entry = this.pending.get(h.id)
    if (!entry) return // timed out, aborted or cancelled earlier
    if (!('ok' in h) && typeof h.progress === 'object' && h.progress !== null) {
      entry.onProgress?.(h.progress as ProgressEvent)
      return
    }
    this.pending.delete(h.id)
    entry.cleanup()
    if (h.v !== PROTOCOL_VERSION) {
      entry.reject(new ProtocolError(`Reply speaks protocol ${String(h.v)}, expected ${PROTOCOL_VERSION}`))
      return
    }
    entry.resolve({ header: h, frames })
  }
}
