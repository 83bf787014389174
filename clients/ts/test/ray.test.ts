/**
 * The core cases against a Ray-backed server (`serve --backend ray`) on a local two-node
 * Ray cluster, compared with an in-process server: results must be identical. Runs when
 * the test Python can import ray (the `ray` extra, installed by scripts/python-env).
 */

import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'

import { EstimatorError, MiniBatchKMeans, NotFittedError, type PythonBridge, createPythonBridge } from '../src/index.js'
import { PYTHON, REPO_ROOT, blobs, ms, startBridge } from './helpers.js'

function rayImportable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import ray'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const X = blobs(
  [
    [0, 0, 0, 0],
    [6, 6, 0, 0],
    [0, 6, 6, 6],
  ],
  100,
  3,
)

describe('Ray backend against the in-process one', { skip: !rayImportable() && 'ray is not importable' }, () => {
  let cluster: ChildProcess
  let onRay: PythonBridge
  let local: PythonBridge

  before(async () => {
    // tests/ray/cluster.py: two loopback nodes and a gateway; prints the ready line.
    cluster = spawn(PYTHON, ['-m', 'tests.ray.cluster'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'ignore'] })
    const lines = createInterface({ input: cluster.stdout! })
    let timer: ReturnType<typeof setTimeout> | undefined
    const [line] = (await Promise.race([
      once(lines, 'line'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('Ray cluster did not start')), ms(180_000))
      }),
    ]).finally(() => clearTimeout(timer))) as [string]
    lines.close()
    cluster.stdout!.destroy() // Ray's own processes may hold the pipe open
    const ready = JSON.parse(line) as { endpoint: string }
    onRay = await createPythonBridge({ endpoint: ready.endpoint, ndarray: false, timeout: ms(120_000) })
    local = await startBridge()
  })

  after(async () => {
    await onRay?.disconnect()
    await local?.disconnect()
    if (cluster) {
      const exited = once(cluster, 'exit')
      cluster.stdin?.end()
      await exited
    }
  })

  async function pair(options: Record<string, unknown>): Promise<[MiniBatchKMeans, MiniBatchKMeans]> {
    const a = new MiniBatchKMeans(options)
    const b = new MiniBatchKMeans(options)
    await a.init(onRay)
    await b.init(local)
    return [a, b]
  }

  it('fit, predict, transform, score and accessors are identical', async () => {
    const [a, b] = await pair({ n_clusters: 3, random_state: 0, n_init: 2 })
    await a.fit({ X })
    await b.fit({ X })
    assert.deepEqual(await a.predict({ X }), await b.predict({ X }))
    assert.deepEqual(await a.transform({ X }), await b.transform({ X }))
    assert.equal(await a.score({ X }), await b.score({ X }))
    assert.deepEqual(await a.cluster_centers_, await b.cluster_centers_)
    assert.deepEqual(await a.labels_, await b.labels_)
    assert.equal(await a.inertia_, await b.inertia_)
    assert.equal(await a.n_iter_, await b.n_iter_)
    await a.dispose()
    await b.dispose()
  })

  it('several models fit concurrently, spread over both nodes', async () => {
    const models = await Promise.all(
      [0, 1, 2, 3].map(async (seed) => pair({ n_clusters: 3, random_state: seed, batch_size: 32 })),
    )
    await Promise.all(models.flatMap(([a, b]) => [a.fit({ X }), b.fit({ X })]))
    for (const [a, b] of models) assert.deepEqual(await a.cluster_centers_, await b.cluster_centers_)
    const ids = new Set(models.map(([a]) => a.id))
    const listed = (await onRay.instances()).filter((i) => ids.has(i.instance))
    assert.equal(listed.length, 4)
    assert.equal(new Set(listed.map((i) => i.node)).size, 2)
    assert.ok(listed.every((i) => i.node_ip === '127.0.0.1' && i.fitted))
    for (const [a, b] of models) {
      await a.dispose()
      await b.dispose()
    }
  })

  it('errors are the same typed errors with the same messages', async () => {
    const [a, b] = await pair({ n_clusters: 3, random_state: 0 })
    const messages: string[] = []
    for (const m of [a, b]) {
      await assert.rejects(m.predict({ X }), (e: unknown) => {
        assert.ok(e instanceof NotFittedError)
        messages.push(e.message)
        return true
      })
      await assert.rejects(m.fit({ X: X.slice(0, 2) }), EstimatorError)
    }
    assert.equal(messages[0], messages[1])
    await a.dispose()
    await b.dispose()
  })
})
