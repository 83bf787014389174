import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import {
  MARKER_FILE,
  NoSuitablePythonError,
  acquireLock,
  cacheHome,
  environmentDir,
  environmentStatus,
  findPython,
  packageInfo,
  venvPython,
} from '../src/setup/index.js'
import { PythonNotFoundError } from '../src/index.js'
import { PKG_ROOT, PYTHON, tempDir } from './helpers.js'

/** A process id that existed and is gone now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

/** An executable script answering the Python probe as Python `version` would. */
function fakePython(version: [number, number, number], venv = true): string {
  const dir = tempDir('skbridge-fakepy-')
  const path = join(dir, 'python')
  const answer = JSON.stringify({ version, executable: path, venv })
  writeFileSync(path, `#!/bin/sh\necho '${answer}'\n`)
  chmodSync(path, 0o755)
  return path
}

describe('cache directory', () => {
  it('is SKBRIDGE_HOME when set, on every platform', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      assert.equal(cacheHome({ SKBRIDGE_HOME: '/srv/skb', XDG_CACHE_HOME: '/x' }, platform, '/home/ada'), '/srv/skb')
    }
  })

  it('follows each platform convention', () => {
    assert.equal(cacheHome({}, 'linux', '/home/ada'), join('/home/ada', '.cache', 'skbridge'))
    assert.equal(cacheHome({ XDG_CACHE_HOME: '/var/cache/ada' }, 'linux', '/home/ada'), join('/var/cache/ada', 'skbridge'))
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert.equal(cacheHome({ XDG_CACHE_HOME: 'rel/cache' }, 'linux', '/home/ada'), join('/home/ada', '.cache', 'skbridge'))
    assert.equal(cacheHome({}, 'darwin', '/Users/ada'), join('/Users/ada', 'Library', 'Caches', 'skbridge'))
    assert.equal(cacheHome({ LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, 'win32', 'C:\\Users\\ada'), join('C:\\Users\\ada\\AppData\\Local', 'skbridge'))
  })

  it('keys environments by package version and knows where their python is', () => {
    assert.equal(environmentDir('/c', '0.1.0'), join('/c', 'env-0.1.0'))
    assert.equal(environmentDir('/c', '1.0.0-rc/1'), join('/c', 'env-1.0.0-rc_1'))
    assert.equal(venvPython('/e', 'linux'), join('/e', 'bin', 'python'))
    assert.equal(venvPython('/e', 'win32'), join('/e', 'Scripts', 'python.exe'))
  })

  it('packageInfo finds this package and its version', () => {
    const info = packageInfo()
    assert.equal(info.root, PKG_ROOT)
    assert.match(info.version, /^\d+\.\d+\.\d+/)
  })
})

describe('findPython', () => {
  it('returns the first candidate that is a Python >= 3.10', () => {
    const found = findPython(['skbridge-no-such-python', PYTHON])
    assert.equal(found.command, PYTHON)
    assert.ok(found.version[0] === 3 && found.version[1] >= 10, `version ${found.version.join('.')}`)
    assert.ok(existsSync(found.executable))
  })

  it('names every command tried and why each was rejected', () => {
    const old = fakePython([3, 8, 10])
    const noVenv = fakePython([3, 12, 1], false)
    let caught: unknown
    try {
      findPython(['skbridge-no-such-python', old, noVenv])
    } catch (err) {
      caught = err
    }
    assert.ok(caught instanceof NoSuitablePythonError)
    assert.ok(caught instanceof PythonNotFoundError, 'keeps the python_not_found code for existing handlers')
    assert.equal(caught.code, 'python_not_found')
    assert.deepEqual(
      caught.tried.map((t) => t.command),
      ['skbridge-no-such-python', old, noVenv],
    )
    assert.match(caught.message, /skbridge-no-such-python: not found on PATH/)
    assert.match(caught.message, /Python 3\.8\.10 .* is older than 3\.10/)
    assert.match(caught.message, /python3-venv/)
    assert.match(caught.message, /SKBRIDGE_PYTHON/)
  })
})

describe('environmentStatus', () => {
  const version = packageInfo().version

  function layout(): { home: string; dir: string; python: string } {
    const home = tempDir('skbridge-home-')
    const dir = environmentDir(home, version)
    const python = venvPython(dir)
    mkdirSync(join(python, '..'), { recursive: true })
    writeFileSync(python, 'not really python')
    return { home, dir, python }
  }

  function mark(dir: string, python: string, server = version): void {
    const s = statSync(python)
    const marker = {
      server,
      python: { executable: '/usr/bin/python3', version: '3.11.7' },
      numpy: '2.0.0',
      scikit_learn: '1.9.1',
      locked: true,
      fingerprint: { size: s.size, mtimeMs: Math.round(s.mtimeMs) },
      created: new Date().toISOString(),
    }
    writeFileSync(join(dir, MARKER_FILE), JSON.stringify(marker))
  }

  it('is ready only with a marker for this version and the same python file', () => {
    const { home, dir, python } = layout()
    assert.deepEqual(environmentStatus({ SKBRIDGE_HOME: tempDir() }).reason, 'not created yet')

    assert.equal(environmentStatus({ SKBRIDGE_HOME: home }).ready, false)
    assert.match(environmentStatus({ SKBRIDGE_HOME: home }).reason ?? '', /no marker file/)

    mark(dir, python, '0.0.1')
    assert.match(environmentStatus({ SKBRIDGE_HOME: home }).reason ?? '', /holds skbridge 0\.0\.1/)

    mark(dir, python)
    const ok = environmentStatus({ SKBRIDGE_HOME: home })
    assert.equal(ok.ready, true, ok.reason)
    assert.equal(ok.python, python)

    // A replaced interpreter (different size or time) is noticed without running it.
    writeFileSync(python, 'a different file')
    assert.match(environmentStatus({ SKBRIDGE_HOME: home }).reason ?? '', /changed since it was set up/)
  })
})

describe('acquireLock', () => {
  it('makes a second taker wait until the first releases', async () => {
    const path = join(tempDir('skbridge-lock-'), 'x.lock')
    const order: string[] = []
    const first = await acquireLock(path, { timeoutMs: 10_000 })
    order.push('first acquired')
    let waited = false
    const second = acquireLock(path, { timeoutMs: 10_000, pollMs: 20, onWait: () => void (waited = true) }).then((lock) => {
      order.push('second acquired')
      return lock
    })
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(waited, true, 'the second taker saw the lock held')
    order.push('first releases')
    first.release()
    ;(await second).release()
    assert.deepEqual(order, ['first acquired', 'first releases', 'second acquired'])
    assert.equal(existsSync(path), false)
  })

  it('takes over a lock whose owner died', async () => {
    const path = join(tempDir('skbridge-lock-'), 'x.lock')
    mkdirSync(path)
    writeFileSync(join(path, 'owner.json'), JSON.stringify({ pid: deadPid(), host: hostname(), since: '' }))
    let waited = false
    const lock = await acquireLock(path, { timeoutMs: 5_000, onWait: () => void (waited = true) })
    assert.equal(waited, false)
    lock.release()
  })

  it('takes over an old lock directory that never got an owner, and times out on a live one', async () => {
    const path = join(tempDir('skbridge-lock-'), 'x.lock')
    mkdirSync(path)
    const old = new Date(Date.now() - 60_000)
    utimesSync(path, old, old)
    ;(await acquireLock(path, { timeoutMs: 5_000 })).release()

    mkdirSync(path)
    writeFileSync(join(path, 'owner.json'), JSON.stringify({ pid: process.pid, host: hostname(), since: 'now' }))
    await assert.rejects(acquireLock(path, { timeoutMs: 200, pollMs: 20 }), new RegExp(`held by pid ${process.pid}`))
  })
})
