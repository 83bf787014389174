/**
 * Noticing a dead or frozen server: ZeroMQ heartbeats on the DEALER (sent and checked by
 * libzmq's I/O thread, so a busy JavaScript thread or a long fit does not delay them) and
 * the socket's connection events.
 *
 * @module
 */

import { type Dealer, capability } from 'zeromq'

import type { HeartbeatOptions } from './bridge-types.js'

/**
 * Defaults of {@link HeartbeatOptions}.
 *
 * @example
 * ```ts
 * DEFAULT_HEARTBEAT.timeout // 3000
 * ```
 */
export const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = { interval: 1000, timeout: 3000 }

/**
 * The libzmq socket options that implement `heartbeat` (`false` turns them off).
 *
 * @example
 * ```ts
 * new Dealer({ linger: 0, ...heartbeatSocketOptions({ interval: 500 }) })
 * ```
 */
export function heartbeatSocketOptions(heartbeat: HeartbeatOptions | false | undefined): {
  heartbeatInterval?: number
  heartbeatTimeout?: number
  heartbeatTimeToLive?: number
  handshakeInterval?: number
} {
  if (heartbeat === false) return {}
  const { interval, timeout } = resolveHeartbeat(heartbeat)
  return {
    heartbeatInterval: interval,
    heartbeatTimeout: timeout,
    // The server drops our connection too if we stop answering (a frozen client).
    heartbeatTimeToLive: timeout,
    // A frozen server still accepts connections (the kernel does); the ZMTP handshake
    // then never completes, and this ends the attempt.
    handshakeInterval: timeout,
  }
}

/**
 * Validated heartbeat settings, defaults filled in (the timeout defaults to at least three
 * intervals).
 *
 * @example
 * ```ts
 * resolveHeartbeat({ interval: 2000 }) // { interval: 2000, timeout: 6000 }
 * ```
 */
export function resolveHeartbeat(heartbeat: HeartbeatOptions | undefined): Required<HeartbeatOptions> {
  const interval = heartbeat?.interval ?? DEFAULT_HEARTBEAT.interval
  const timeout = heartbeat?.timeout ?? Math.max(DEFAULT_HEARTBEAT.timeout, 3 * interval)
  for (const [name, value] of [['interval', interval], ['timeout', timeout]] as const) {
    if (!Number.isFinite(value) || value < 1) throw new RangeError(`heartbeat.${name} must be a positive number of milliseconds, got ${String(value)}`)
  }
  return { interval, timeout }
}

/**
 * Callbacks of {@link watchConnection}.
 *
 * @example
 * ```ts
 * watchConnection(socket, 3000, { onLost: (why, olderThan) => console.warn(why, olderThan) })
 * ```
 */
export interface ConnectionHandlers {
  /**
   * The connection dropped (`olderThan` 0: every pending request is affected), or has
   * stayed down for `downTimeout` ms (only requests waiting at least `olderThan` ms are).
   */
  onLost: (reason: string, olderThan: number) => void
}

/**
 * Follows the socket's connection events. `onLost` fires when the connection drops
 * (heartbeat timeout, server gone, handshake timeout), then every quarter of
 * `downTimeout` while no new connection is made, so that requests sent meanwhile do not
 * wait forever. Returns a function that stops watching.
 *
 * @example
 * ```ts
 * const stop = watchConnection(dealer, 3000, { onLost: (why) => console.warn(why) })
 * stop()
 * ```
 */
export function watchConnection(socket: Dealer, downTimeout: number, handlers: ConnectionHandlers): () => void {
  let downTimer: ReturnType<typeof setInterval> | undefined
  const clearDown = (): void => {
    if (downTimer !== undefined) clearInterval(downTimer)
    downTimer = undefined
  }
  const lost = (reason: string): void => {
    handlers.onLost(reason, 0)
    if (downTimer === undefined && Number.isFinite(downTimeout) && downTimeout > 0) {
      downTimer = setInterval(() => handlers.onLost(`no connection to the server for ${downTimeout} ms`, downTimeout), Math.max(10, downTimeout / 4))
      downTimer.unref()
    }
  }
  const onDisconnect = (): void => lost('the connection to the server was lost (it closed, died, or did not answer heartbeats in time)')
  const onAuthFailed = (): void => lost('the server refused our CURVE keys (handshake failed: check serverKey and that our public key is authorized)')
  // Without libzmq's draft API there is no handshake event; a TCP connection then counts.
  const upEvent = capability.draft ? 'handshake' : 'connect'
  socket.events.on('disconnect', onDisconnect)
  socket.events.on(upEvent, clearDown)
  socket.events.on('handshake:error:auth', onAuthFailed)
  socket.events.on('handshake:error:protocol', onAuthFailed)
  return () => {
    clearDown()
    socket.events.off('disconnect', onDisconnect)
    socket.events.off(upEvent, clearDown)
    socket.events.off('handshake:error:auth', onAuthFailed)
    socket.events.off('handshake:error:protocol', onAuthFailed)
  }
}
