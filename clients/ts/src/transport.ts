/**
 * The request/reply transport: one DEALER socket, one send queue, one receive loop, and
 * the pending requests in a map keyed by request id (protocol v1, sections 1-2).
 *
 * zeromq.js v6 allows a single pending `send()` and a single pending `receive()` per
 * socket, so every request goes through {@link Transport.request}, which queues the
 * multipart message and resolves when the reply carrying the same `id` arrives. Replies
 * may come back in any order.
 *
 * @module
 */

import { Decoder, Encoder } from '@msgpack/msgpack'
import { Dealer } from 'zeromq'

import { AbortedError, BridgeDisconnectedError, RequestTimeoutError, type SkbridgeError } from './errors.js'
import { ProtocolError } from './generated/errors.js'
import { MAX_REQUEST_ID, PROTOCOL_VERSION } from './generated/protocol.js'

/**
 * Kernel socket buffer size asked for on the DEALER (the Python side uses the same). The
 * default (about 200 KB on Linux) moves a large array in many small system calls; the
 * kernel caps the request at net.core.[rw]mem_max.
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024

// One codec instance each, reused: the `encode`/`decode` functions build a new one (and
// its buffers) per call. `encode` (not `encodeSharedRef`) copies out the bytes, which the
// socket may still hold after the next request is encoded.
const headerEncoder = new Encoder({ useBigInt64: true, ignoreUndefined: true })
const headerDecoder = new Decoder()

/**
 * Per-request options.
 *
 * @example
 * ```ts
 * await model.fit({ X }, { timeout: 60_000, signal: AbortSignal.timeout(120_000) })
 * ```
 */
export interface CallOptions {
  /** Milliseconds to wait for the reply; `0` or `Infinity` waits forever. Defaults to the bridge's `timeout`. */
  timeout?: number
  /** Abandons the request when aborted (the server may still complete it). */
  signal?: AbortSignal
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
  cleanup: () => void
}

/**
 * Options of {@link Transport.connect}.
 *
 * @example
 * ```ts
 * const t = await Transport.connect('ipc:///tmp/skbridge/sock', { timeout: 30_000 })
 * ```
 */
export interface TransportOptions {
  /** Default per-request timeout in milliseconds (`0` = none). */
  timeout?: number
  /** Called when the peer disconnects (the monitor's `disconnect` event). */
  onDisconnect?: () => void
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
  private readonly socket: Dealer
  private readonly pending = new Map<number, Pending>()
  private readonly queue: number[] = []
  private readonly defaultTimeout: number
  private nextId = 1
  private pumping = false
  private closedWith: SkbridgeError | undefined

  private constructor(endpoint: string, socket: Dealer, options: TransportOptions) {
    this.endpoint = endpoint
    this.socket = socket
    this.defaultTimeout = options.timeout ?? 0
    if (options.onDisconnect) {
      const onDisconnect = options.onDisconnect
      socket.events.on('disconnect', () => onDisconnect())
    }
    void this.receiveLoop()
  }

  /**
   * Connects a DEALER socket to `endpoint` (ZeroMQ connects lazily: this never waits for
   * the server).
   */
  static async connect(endpoint: string, options: TransportOptions = {}): Promise<Transport> {
    const socket = new Dealer({ linger: 0, sendBufferSize: SOCKET_BUFFER_BYTES, receiveBufferSize: SOCKET_BUFFER_BYTES })
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
   * `fields` is the header without `v` and `id` (those are added here); `frames` are the
   * buffers its array references point to. They are on loan until the returned promise
   * settles: do not mutate them before. Failure replies resolve too (check `header.ok`).
   */
  request(fields: Record<string, unknown>, frames: readonly Uint8Array[] = [], options: CallOptions = {}): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(new AbortedError('Request aborted before it was sent', signal.reason))

    const id = this.allocateId()
    const header = headerEncoder.encode({ v: PROTOCOL_VERSION, id, ...fields })
    const message = [Buffer.from(header.buffer, header.byteOffset, header.byteLength), ...frames]

    return new Promise<Reply>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = (): void => {
        this.drop(id)
        reject(new AbortedError(`Request ${describe(fields)} aborted`, signal?.reason))
      }
      const entry: Pending = {
        resolve,
        reject,
        message,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        },
      }
      const timeout = options.timeout ?? this.defaultTimeout
      if (timeout > 0 && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          this.drop(id)
          reject(new RequestTimeoutError(`Request ${describe(fields)} got no reply within ${timeout} ms`))
        }, timeout)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, entry)
      this.queue.push(id)
      void this.pump()
    })
  }

  /** Rejects every pending and future request with `error` and closes the socket. */
  fail(error: SkbridgeError): void {
    if (this.closedWith) return
    this.closedWith = error
    const entries = [...this.pending.values()]
    this.pending.clear()
    this.queue.length = 0
    for (const entry of entries) {
      entry.cleanup()
      entry.reject(error)
    }
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
  private drop(id: number): void {
    const entry = this.pending.get(id)
    if (!entry) return
    this.pending.delete(id)
    entry.cleanup()
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
        entry.message = undefined
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
    let header: unknown
    try {
      header = headerDecoder.decode(head)
    } catch {
      return // not ours to answer; a reply we cannot read cannot be matched either
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return
    const h = header as Record<string, unknown>
    if (h.id === null) {
      warnUnmatched(h.error)
      return
    }
    if (typeof h.id !== 'number') return
    const entry = this.pending.get(h.id)
    if (!entry) return // timed out or aborted earlier
    this.pending.delete(h.id)
    entry.cleanup()
    if (h.v !== PROTOCOL_VERSION) {
      entry.reject(new ProtocolError(`Reply speaks protocol ${String(h.v)}, expected ${PROTOCOL_VERSION}`))
      return
    }
    entry.resolve({ header: h, frames })
  }
}

/**
 * A reply with `id: null`: the server could not read one of our requests. It matches no
 * pending request (the one that caused it ends by its timeout), so it is reported as a
 * process warning carrying the server's code and message, and the transport keeps running.
 */
function warnUnmatched(error: unknown): void {
  const e = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {}
  const code = typeof e.code === 'string' ? e.code : 'unknown'
  const message = typeof e.message === 'string' ? e.message : 'no message'
  process.emitWarning(`skbridge server could not read a request (${code}): ${message}`, {
    type: 'SkbridgeWarning',
    code,
    detail: 'The reply has id null, so it matches no pending request; that request ends by its timeout.',
  })
}

function describe(fields: Record<string, unknown>): string {
  const parts = [fields.op, fields.instance, fields.method ?? fields.attribute].filter((p) => typeof p === 'string')
  return parts.join(' ')
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
