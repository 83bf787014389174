import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { MiniBatchKMeans } from '../src/index.js'
import { packingBuffer, releaseFrames } from '../src/pool.js'
import { fromRows } from '../src/rows.js'
import { blobs, startBridge } from './helpers.js'

const BIG = 1 << 18 // 2 MiB of float64: pooled

const frameOf = (a: Float64Array): Uint8Array => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

describe('packing buffers', () => {
  it('a buffer handed back backs the next packing of a similar size', () => {
    const a = packingBuffer(BIG)
    releaseFrames([frameOf(a)])
    const b = packingBuffer(BIG - 10)
    assert.equal(b.buffer, a.buffer)
    assert.equal(b.length, BIG - 10)
    // In use again: the next one is new.
    assert.notEqual(packingBuffer(BIG).buffer, a.buffer)
  })

  it('buffers not handed back, small ones and foreign memory are never reused', () => {
    const a = packingBuffer(BIG)
    const b = packingBuffer(BIG)
    assert.notEqual(a.buffer, b.buffer)
    const mine = new Float64Array(BIG)
    releaseFrames([frameOf(mine)])
    assert.notEqual(packingBuffer(BIG).buffer, mine.buffer)
    const small = packingBuffer(100)
    releaseFrames([frameOf(small)])
    assert.notEqual(packingBuffer(100).buffer, small.buffer)
    // Much larger spares are kept for larger requests.
    releaseFrames([frameOf(a)])
    assert.notEqual(packingBuffer(BIG / 4).buffer, a.buffer)
    assert.equal(packingBuffer(BIG).buffer, a.buffer)
  })

  it('stale contents are overwritten: a reused buffer packs the new rows exactly', () => {
    const cols = 8
    const rowsA = Array.from({ length: BIG / cols }, (_, i) => Array.from({ length: cols }, (_, j) => i + j))
    const a = fromRows(rowsA).data as Float64Array
    releaseFrames([frameOf(a)])
    const rowsB = Array.from({ length: BIG / cols }, (_, i) => Array.from({ length: cols }, (_, j) => -(i * j)))
    const b = fromRows(rowsB).data as Float64Array
    assert.equal(b.buffer, a.buffer)
    assert.deepEqual(Array.from(b), rowsB.flat())
  })

  it('calls in flight at once each get their own buffer, and results stay right', async () => {
    const py = await startBridge()
    try {
      const X = blobs([[0, 0, 0, 0], [5, 5, 5, 5]], 40_000, 3) // 80k x 4: pooled
      const Y = X.map((r) => r.map((v) => v + 100))
      const models = [new MiniBatchKMeans({ n_clusters: 2, random_state: 0 }), new MiniBatchKMeans({ n_clusters: 2, random_state: 0 })]
      for (const m of models) await m.init(py)
      for (let round = 0; round < 3; round++) {
        await Promise.all([models[0]!.fit({ X }), models[1]!.fit({ X: Y })])
        const [cx, cy] = await Promise.all([models[0]!.cluster_centers_, models[1]!.cluster_centers_])
        // Y is X shifted by 100: a buffer shared by both calls would break this.
        for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(cy[i]![j]! - cx[i]![j]! - 100) < 1e-9)
      }
      for (const m of models) await m.dispose()
    } finally {
      await py.disconnect()
    }
  })
})
