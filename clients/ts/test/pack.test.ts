import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { PKG_ROOT, PYTHON, REPO_ROOT, ms, tempDir } from './helpers.js'

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const SCRIPT = `
import * as sklearn from 'skbridge'

const py = await sklearn.createPythonBridge({ python: process.env.SKBRIDGE_PYTHON, cwd: process.env.SKBRIDGE_CWD })
const model = new sklearn.MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
await model.init(py)
const X = [[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]]
await model.fit({ X })
const labels = await model.predict({ X })
const centers = await model.cluster_centers_
await model.dispose()
await py.disconnect()
console.log(JSON.stringify({ labels, centers }))
`

const TYPED = `
import * as sklearn from 'skbridge'

async function main(): Promise<void> {
  const py = await sklearn.createPythonBridge()
  const model = new sklearn.MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
  await model.init(py)
  const self: sklearn.MiniBatchKMeans = await model.fit({ X: [[1, 2]] })
  const labels: number[] = await model.predict({ X: [[1, 2]] })
  const centers: number[][] = await model.cluster_centers_
  const n: number = await self.n_iter_
  const nd = await sklearn.createPythonBridge({ ndarray: true })
  const m2 = new sklearn.MiniBatchKMeans<'ndarray'>()
  await m2.init(nd)
  const c: sklearn.NdArray = await m2.cluster_centers_
  // @ts-expect-error a plain model cannot use an ndarray bridge
  await new sklearn.MiniBatchKMeans().init(nd)
  // @ts-expect-error unknown option
  new sklearn.MiniBatchKMeans({ n_cluster: 3 })
  console.log(labels, centers, n, c)
}
void main
`

describe('npm pack', () => {
  it('the packed tarball installs into a fresh project and clusters data', { timeout: ms(180_000) }, () => {
    const dest = tempDir('skbridge-pack-')
    execFileSync(NPM, ['pack', '--pack-destination', dest], { cwd: PKG_ROOT, stdio: 'pipe' })
    const tarball = readdirSync(dest).find((f) => f.endsWith('.tgz'))
    assert.ok(tarball, 'npm pack wrote a tarball')
    const listing = execFileSync('tar', ['-tzf', join(dest, tarball)], { encoding: 'utf8' })
    assert.match(listing, /package\/dist\/index\.js/)
    assert.match(listing, /package\/dist\/index\.d\.ts/)
    assert.doesNotMatch(listing, /package\/(src|test|node_modules)\//)

    const project = tempDir('skbridge-consumer-')
    execFileSync(NPM, ['init', '-y'], { cwd: project, stdio: 'pipe' })
    execFileSync(NPM, ['install', '--no-audit', '--no-fund', join(dest, tarball)], { cwd: project, stdio: 'pipe' })

    writeFileSync(join(project, 'cluster.mjs'), SCRIPT)
    const out = execFileSync(process.execPath, ['cluster.mjs'], {
      cwd: project,
      env: { ...process.env, SKBRIDGE_PYTHON: PYTHON, SKBRIDGE_CWD: REPO_ROOT },
      encoding: 'utf8',
    })
    const { labels, centers } = JSON.parse(out) as { labels: number[]; centers: number[][] }
    assert.equal(labels.length, 6)
    assert.equal(new Set(labels.slice(0, 3)).size, 1)
    assert.equal(new Set(labels.slice(3)).size, 1)
    assert.notEqual(labels[0], labels[3])
    assert.equal(centers.length, 2)

    // The shipped .d.ts files type the scikit-learn-ts style code (checked, not run).
    writeFileSync(join(project, 'typed.ts'), TYPED)
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['typed.ts'] }),
    )
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { skbridge: `file:${join(dest, tarball)}` } }))
    const tsc = join(PKG_ROOT, 'node_modules/typescript/bin/tsc')
    try {
      execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8', stdio: 'pipe' })
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string }
      assert.fail(`type check of the installed package failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
    }
  })
})
