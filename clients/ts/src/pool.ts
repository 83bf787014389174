/**
 * Reuse of the buffers that packed rows are copied into. A fresh buffer of tens of
 * megabytes costs page faults and zeroing on every call; a buffer the client packed
 * itself is free again once the reply to the request that carried it has arrived (the
 * server has received it), so it can back the next packing. Spares are held through
 * `WeakRef`s: the garbage collector may still take them, so memory is never held longer
 * than it would be without reuse.
 *
 * @module
 */

/** Smaller buffers are cheap to allocate and not worth tracking. */
const MIN_POOLED_BYTES = 1 << 20
/** Spares kept at most. */
const MAX_SPARES = 2

/** Buffers allocated by {@link packingBuffer}: only these may be handed back. */
const ours = new WeakSet<ArrayBufferLike>()
const spares: Array<WeakRef<Float64Array>> = []

/**
 * A Float64Array of `length` elements to pack into, every element of which the caller
 * overwrites: a free spare when one is large enough (its contents are stale, not zero),
 * else a new array.
 *
 * @example
 * ```ts
 * const out = packingBuffer(rows.length * nCols)
 * ```
 */
export function packingBuffer(length: number): Float64Array {
  if (length * 8 < MIN_POOLED_BYTES) return new Float64Array(length)
  for (let i = 0; i < spares.length; i++) {
    const spare = spares[i]?.deref()
    // Large enough, and not so large that a small request pins a huge buffer.
    if (spare === undefined || spare.length < length || spare.length > 2 * length) continue
    spares.splice(i, 1)
    return spare.length === length ? spare : spare.subarray(0, length)
  }
  const out = new Float64Array(length)
  ours.add(out.buffer)
  return out
}

/**
 * Hands back the packing buffers among `frames` once the server has replied to the
 * request that carried them. Frames over the caller's own memory are left alone.
 *
 * @example
 * ```ts
 * const reply = await transport.request(header, frames)
 * releaseFrames(frames)
 * ```
 */
export function releaseFrames(frames: readonly Uint8Array[]): void {
  for (const frame of frames) {
    const buffer = frame.buffer
    if (!ours.has(buffer)) continue
    for (let i = spares.length - 1; i >= 0; i--) if (spares[i]?.deref() === undefined) spares.splice(i, 1)
    const whole = new Float64Array(buffer)
    if (spares.some((s) => s.deref()?.buffer === buffer)) continue
    spares.push(new WeakRef(whole))
    if (spares.length > MAX_SPARES) spares.shift()
  }
}
