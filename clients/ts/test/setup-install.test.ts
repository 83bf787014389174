/**
 * `npm install skbridge` is the whole set-up: the packed tarball, installed into fresh apps
 * in a temporary HOME with no SKBRIDGE_PYTHON, sets up its own Python environment on first
 * use, reuses it, survives two apps starting at once on a broken environment, and its CLI
 * works. One test sharing one install, because each environment build costs a minute.
 */

import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { PKG_ROOT, PYTHON, tempDir } from './helpers.js'

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Starts a bridge with no options, times createPythonBridge to the first ping, fits. */
const APP = `
import * as sklearn from 'skbridge'

// The reuse check alone (on a first start it includes the set-up).
const c0 = performance.now()
await sklearn.defaultPython()
const checkMs = performance.now() - c0
const t0 = performance.now()
const py = await sklearn.createPythonBridge({ serverOutput: 'ignore' })
await py.ping()
const startMs = performance.now() - t0
const model = new sklearn.MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
await model.init(py)
const X = [[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]]
await model.fit({ X })
const labels = await model.predict({ X })
const info = await py.info()
await model.dispose()
await py.disconnect()
console.log(JSON.stringify({ labels, startMs, checkMs, server: info.server }))
`

interface AppRun {
  code: number | null
  stdout: string
  stderr: string
  wallMs: number
  labels: number[]
  startMs: number
  checkMs: number
  server: string
}

function runApp(dir: string, env: NodeJS.ProcessEnv): Promise<AppRun> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['app.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => void (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString()))
    // Bounded: a hung set-up fails the test instead of stalling the suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      const wallMs = performance.now() - started
      let parsed = { labels: [] as number[], startMs: Number.NaN, checkMs: Number.NaN, server: '' }
      try {
        parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '') as typeof parsed
      } catch {
        // The assertions below report the output.
      }
      resolve({ code, stdout, stderr, wallMs, ...parsed })
    })
  })
}

function assertFitted(run: AppRun, what: string): void {
  assert.equal(run.code, 0, `${what} failed:\n${run.stderr}\n${run.stdout}`)
  const [a, b, c, d, e, f] = run.labels
  assert.ok(a === b && b === c && d === e && e === f && a !== d, `${what}: labels ${JSON.stringify(run.labels)}`)
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

describe('npm install skbridge is the whole set-up', () => {
  it('sets up on first start, reuses, repairs, survives concurrent starts; the CLI works', { timeout: 1_800_000 }, async () => {
    const packDir = tempDir('skbridge-pack-')
    execFileSync(NPM, ['pack', '--pack-destination', packDir], { cwd: PKG_ROOT, stdio: 'pipe' })
    const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')) ?? 'missing.tgz')

    // What is shipped: the compiled client, the CLI and the Python payload; no tests or maps.
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean)
    const version = (JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as { version: string }).version
    for (const f of ['dist/index.js', 'dist/setup/cli.js', 'bin/skbridge.js', 'python/requirements.lock', 'python/pyproject.toml', `python/skbridge-${version}-py3-none-any.whl`]) {
      assert.ok(listing.includes(`package/${f}`), `${f} is in the tarball`)
    }
    assert.deepEqual(listing.filter((f) => /\/(test|src|dist-test|node_modules)\/|\.map$|\.test\./.test(f)), [])
    const lock = execFileSync('tar', ['-xzOf', tarball, 'package/python/requirements.lock'], { encoding: 'utf8' })
    for (const dep of ['numpy', 'scipy', 'scikit-learn', 'msgpack', 'pyzmq', 'pydantic', 'threadpoolctl']) {
      assert.match(lock, new RegExp(`^${dep}==\\d+(\\.\\d+)*\\S*$`, 'm'), `${dep} pinned exactly in the lock`)
    }
    const wheelFiles = execFileSync(PYTHON, ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', join(PKG_ROOT, 'python', `skbridge-${version}-py3-none-any.whl`)], { encoding: 'utf8' })
    for (const f of ['bridge/cli.py', 'estimators/__init__.py', 'schemas/contract.schema.json']) assert.match(wheelFiles, new RegExp(`^${f}$`, 'm'))

    // Two fresh apps in a temporary HOME; npm's and pip's caches stay the real user's so
    // nothing is downloaded twice. The HOME (with its environment, ~400 MB) is removed after.
    const home = tempDir('skbridge-home-')
    try {
      await scenario(home, tarball, version)
    } finally {
      rmSync(home, { recursive: true, force: true })
      rmSync(packDir, { recursive: true, force: true })
    }
  })
})

async function scenario(home: string, tarball: string, version: string): Promise<void> {
  const realHome = homedir()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    USERPROFILE: home,
    PIP_CACHE_DIR: process.env.PIP_CACHE_DIR ?? join(realHome, '.cache', 'pip'),
    npm_config_cache: process.env.npm_config_cache ?? join(realHome, '.npm'),
  }
  for (const k of ['SKBRIDGE_PYTHON', 'SKBRIDGE_HOME', 'XDG_CACHE_HOME', 'LOCALAPPDATA']) delete env[k]
  const apps = ['app-a', 'app-b'].map((name) => {
    const dir = join(home, name)
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }))
    execFileSync(NPM, ['install', '--no-audit', '--no-fund', tarball], { cwd: dir, env, stdio: 'pipe' })
    writeFileSync(join(dir, 'app.mjs'), APP)
    return dir
  }) as [string, string]
  const envDir = join(home, '.cache', 'skbridge', `env-${version}`)
  const envPython = join(envDir, 'bin', 'python')

  // 1. First start: builds the environment, then fits.
  const first = await runApp(apps[0], env)
  assertFitted(first, 'first start')
  assert.match(first.stderr, /\[skbridge\] creating a Python environment in /)
  assert.match(first.stderr, /\[skbridge\] installing \d+ locked packages with pip: .*numpy==/)
  assert.match(first.stderr, /\[skbridge\] environment ready in /)
  assert.equal(first.server, version)
  assert.ok(existsSync(join(envDir, 'skbridge-ready.json')), 'marker written')

  // 2. Later starts reuse it: no set-up at all. Compared with SKBRIDGE_PYTHON at the same venv.
  const reuse: number[] = []
  const checks: number[] = []
  const direct: number[] = []
  for (let i = 0; i < 2; i++) {
    const again = await runApp(apps[1], env)
    assertFitted(again, 'second start')
    assert.doesNotMatch(again.stderr, /\[skbridge\]/, 'a reused environment prints nothing')
    reuse.push(again.startMs)
    checks.push(again.checkMs)
    const own = await runApp(apps[1], { ...env, SKBRIDGE_PYTHON: envPython })
    assertFitted(own, 'start with SKBRIDGE_PYTHON')
    direct.push(own.startMs)
  }

  // 3. The CLI: doctor reports versions and a good test fit; serve passes flags through.
  const doctor = execFileSync(join(apps[0], 'node_modules', '.bin', 'skbridge'), ['doctor'], { cwd: apps[0], env, encoding: 'utf8' })
  assert.match(doctor, new RegExp(`environment\\s+${envDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(ready\\)`))
  assert.match(doctor, /scikit-learn\s+\d+\.\d+/)
  assert.match(doctor, /test fit\s+MiniBatchKMeans on 6 points: labels \[\d(,\d){5}\] OK/)
  const served = await new Promise<{ ready: string; code: number | null }>((resolve, reject) => {
    const child = spawn(join(apps[0], 'node_modules', '.bin', 'skbridge'), ['serve', '--endpoint', 'tcp://127.0.0.1:0', '--workers', '1'], { cwd: apps[0], env, stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      if (out.includes('\n')) child.kill('SIGTERM')
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ ready: out.split('\n')[0] ?? '', code })
    })
  })
  assert.match(served.ready, /^\{"event": "ready", "endpoint": "tcp:\/\/127\.0\.0\.1:\d+"/)
  assert.equal(served.code, 0, 'serve stops cleanly on SIGTERM')

  // 4. A broken environment (its python replaced) plus a lock left by a dead process, and
  //    two apps starting at once: exactly one rebuilds, both fit.
  rmSync(envPython)
  writeFileSync(envPython, '#!/bin/sh\nexit 3\n', { mode: 0o755 })
  const lockDir = `${envDir}.lock`
  mkdirSync(lockDir)
  writeFileSync(join(lockDir, 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: 'long ago' }))
  const repairStart = performance.now()
  const [ra, rb] = await Promise.all([runApp(apps[0], env), runApp(apps[1], env)])
  const repairMs = performance.now() - repairStart
  assertFitted(ra, 'concurrent start A')
  assertFitted(rb, 'concurrent start B')
  const builders = [ra, rb].filter((r) => /creating a Python environment/.test(r.stderr))
  assert.equal(builders.length, 1, `exactly one process rebuilds:\n--- A ---\n${ra.stderr}\n--- B ---\n${rb.stderr}`)
  assert.match(builders[0]?.stderr ?? '', /changed since it was set up: rebuilding it/)
  assert.equal(existsSync(lockDir), false, 'the lock is released')

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  process.stderr.write(
    `[setup-install] first start (set-up + fit, wall): ${s(first.wallMs)} (${/environment ready in [\d.]+ s/.exec(first.stderr)?.[0] ?? '?'}); ` +
      `set-up repair with two concurrent apps: ${s(repairMs)}\n` +
      `[setup-install] reuse check (defaultPython on a ready environment): ${checks.map((c) => `${c.toFixed(2)} ms`).join(', ')}\n` +
      `[setup-install] createPythonBridge -> first ping, reused environment: ${reuse.map(s).join(', ')} (mean ${s(mean(reuse))}); ` +
      `SKBRIDGE_PYTHON at the same venv: ${direct.map(s).join(', ')} (mean ${s(mean(direct))})\n`,
  )
}
