/**
 * Keeping the session's lease alive (PROTOCOL.md 2.4): a server disposes the instances of
 * a session that sends nothing for `lease_seconds`, so a bridge that owns instances pings
 * with its session about every third of the lease. The timer runs on the JavaScript event
 * loop and the server answers `ping` on its socket loop, so a long fit delays neither.
 *
 * @module
 */

/**
 * Sends a renewal every third of the lease while started. The timer is unref'd: it never
 * keeps Node alive on its own.
 *
 * @example
 * ```ts
 * const renewer = new LeaseRenewer(() => py.ping().then(() => undefined))
 * renewer.start(300) // lease_seconds from info().limits
 * renewer.stop()
 * ```
 */
export class LeaseRenewer {
  private timer: ReturnType<typeof setInterval> | undefined
  private periodMs = 0
  private readonly renew: () => Promise<void>

  /** `renew` sends one ping carrying the session; its failures are ignored (the next tick retries). */
  constructor(renew: () => Promise<void>) {
    this.renew = renew
  }

  /** Milliseconds between renewals, `0` when stopped. */
  get period(): number {
    return this.timer === undefined ? 0 : this.periodMs
  }

  /**
   * Starts (or re-times) the renewals for a lease of `leaseSeconds`; `0` or less (leases
   * off) stops them.
   */
  start(leaseSeconds: number): void {
    if (!(leaseSeconds > 0) || !Number.isFinite(leaseSeconds)) {
      this.stop()
      return
    }
    // A third of the lease leaves two more chances if one ping is lost; at most once a
    // minute is often enough for any lease, at least every 50 ms keeps tiny test leases sane.
    const period = Math.min(60_000, Math.max(50, (leaseSeconds * 1000) / 3))
    if (this.timer !== undefined && period === this.periodMs) return
    this.stop()
    this.periodMs = period
    this.timer = setInterval(() => {
      this.renew().catch(() => undefined)
    }, period)
    this.timer.unref()
  }

  /** Stops the renewals. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
