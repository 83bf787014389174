/**
 * A lock between processes on one machine: an exclusively created directory holding the
 * owner's pid. A lock whose owner died is taken over; the others wait.
 *
 * @module
 */

import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

/** A lock directory without an owner file younger than this may still be in the making. */
const OWNERLESS_GRACE_MS = 10_000

/**
 * Who holds a lock (the `owner.json` inside the lock directory).
 *
 * @example
 * ```ts
 * const owner: LockOwner = { pid: 4242, host: 'build-7', since: '2025-01-01T00:00:00.000Z' }
 * ```
 */
export interface LockOwner {
  pid: number
  host: string
  since: string
}

/**
 * Options of {@link acquireLock}.
 *
 * @example
 * ```ts
 * await acquireLock('/tmp/x.lock', { timeoutMs: 60_000, onWait: (o) => console.error(`waiting for ${o?.pid}`) })
 * ```
 */
export interface LockOptions {
  /** Give up after this many milliseconds of waiting. */
  timeoutMs: number
  /** Called once, when the lock is found held by a live process. */
  onWait?: (owner: LockOwner | undefined) => void
  /** Milliseconds between attempts. Default 250. */
  pollMs?: number
}

/**
 * A held lock; call {@link HeldLock.release} when done.
 *
 * @example
 * ```ts
 * const lock = await acquireLock(dir, { timeoutMs: 60_000 })
 * try { work() } finally { lock.release() }
 * ```
 */
export interface HeldLock {
  readonly path: string
  release(): void
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const value = JSON.parse(readFileSync(join(path, 'owner.json'), 'utf8')) as Partial<LockOwner>
    if (typeof value.pid === 'number' && typeof value.host === 'string') {
      return { pid: value.pid, host: value.host, since: String(value.since ?? '') }
    }
  } catch {
    // Missing or half-written: judged by the directory's age below.
  }
  return undefined
}

/**
 * `true` when process `pid` on this machine exists (signal 0 checks without sending).
 *
 * @example
 * ```ts
 * isAlive(process.pid) // true
 * ```
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** `true` when the lock at `path` can be taken over: its owner died, or it never got one. */
function isStale(path: string): boolean {
  const owner = readOwner(path)
  if (owner) return owner.host === hostname() && !isAlive(owner.pid)
  try {
    return Date.now() - statSync(path).mtimeMs > OWNERLESS_GRACE_MS
  } catch {
    return false // gone already: the next attempt will tell
  }
}

/**
 * Takes the lock directory `path`, waiting while another live process holds it. A lock
 * left by a dead process (same host) is moved aside and removed. Rejects after
 * `timeoutMs` with an error naming the holder.
 *
 * @example
 * ```ts
 * const lock = await acquireLock('/home/ada/.cache/skbridge/env-0.1.0.lock', { timeoutMs: 600_000 })
 * try {
 *   // build the environment
 * } finally {
 *   lock.release()
 * }
 * ```
 */
export async function acquireLock(path: string, options: LockOptions): Promise<HeldLock> {
  const deadline = Date.now() + options.timeoutMs
  const pollMs = options.pollMs ?? 250
  let told = false
  for (;;) {
    try {
      mkdirSync(path)
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() }
      writeFileSync(join(path, 'owner.json'), JSON.stringify(owner))
      return { path, release: () => rmSync(path, { recursive: true, force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    if (isStale(path)) {
      // Renaming is atomic: of several waiters that saw the same dead owner, one moves it.
      const aside = `${path}.stale-${process.pid}-${Date.now()}`
      try {
        renameSync(path, aside)
        rmSync(aside, { recursive: true, force: true })
      } catch {
        // Another waiter moved it first.
      }
      continue
    }
    if (!told) {
      told = true
      options.onWait?.(readOwner(path))
    }
    if (Date.now() >= deadline) {
      const owner = readOwner(path)
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for the lock ${path}` +
          (owner ? ` held by pid ${owner.pid} on ${owner.host} since ${owner.since}` : '') +
          '. If no such process is running, delete that directory.',
      )
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}
