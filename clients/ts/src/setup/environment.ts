/**
 * The private Python environment that runs the bundled server: created on first use in
 * the per-user cache, reused afterwards, rebuilt when found broken.
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { ServerStartError } from '../errors.js'
import { acquireLock } from './lock.js'
import { type BundledServer, type PackageInfo, bundledServer, cacheHome, environmentDir, packageInfo, venvPython } from './paths.js'
import { type FoundPython, PYTHON_CANDIDATES, findPython } from './python.js'

/**
 * Name of the file written last, once the environment has passed its import check.
 *
 * @example
 * ```ts
 * existsSync(join(dir, MARKER_FILE)) // true once the environment is ready
 * ```
 */
export const MARKER_FILE = 'skbridge-ready.json'

/** How many characters of a failed command's output go into the error. */
const OUTPUT_TAIL_CHARS = 6000

/**
 * The environment's health check: imports what a server imports at start. It also writes
 * those modules' bytecode, which pip is told not to do for every file it installs (that
 * took most of the set-up time, for thousands of modules the server never loads).
 */
const IMPORT_CHECK = [
  'import json, bridge, bridge.cli, bridge.server, estimators, schemas, numpy, scipy, sklearn, zmq, msgpack, pydantic, threadpoolctl',
  'print(json.dumps({"server": bridge.__version__, "numpy": numpy.__version__, "scikit_learn": sklearn.__version__}))',
].join('\n')

/**
 * The contents of the marker file: what was installed, and a fingerprint of the
 * environment's Python so a replaced or removed interpreter is noticed without running it.
 *
 * @example
 * ```ts
 * const m = readMarker(dir)
 * if (m) console.log(m.server, m.python.version)
 * ```
 */
export interface EnvironmentMarker {
  /** The skbridge version installed (equal to the npm package's). */
  server: string
  /** The interpreter the environment was made from. */
  python: { executable: string; version: string }
  numpy: string
  scikit_learn: string
  /** `true` when the locked dependency versions were installed, `false` after the fallback. */
  locked: boolean
  /** Size and modification time of the environment's Python, followed through links. */
  fingerprint: { size: number; mtimeMs: number }
  created: string
}

/**
 * Options of {@link ensureEnvironment}.
 *
 * @example
 * ```ts
 * await ensureEnvironment({ force: true, log: (line) => console.error(line) })
 * ```
 */
export interface EnsureOptions {
  /** Base interpreters to try, in order. Default `['python3', 'python']`. */
  pythonCandidates?: readonly string[]
  /** Rebuild even when the environment looks ready. */
  force?: boolean
  /** Where progress lines go. Default: this process's stderr. */
  log?: (line: string) => void
  /** Show pip's own output (its download bar). Default: when stderr is a terminal. */
  showPip?: boolean
  /** Milliseconds to wait for another process that is building the same environment. Default 30 minutes. */
  lockTimeoutMs?: number
  /** Environment variables (for `SKBRIDGE_HOME`, the cache directories, pip's settings). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * A ready environment.
 *
 * @example
 * ```ts
 * const { python } = await ensureEnvironment()
 * ```
 */
export interface ReadyEnvironment {
  /** The environment directory. */
  dir: string
  /** Its Python executable: pass it as `{ python }` or run `<python> -m bridge serve`. */
  python: string
  /** `true` when this call built it (first use or repair), `false` when it was reused. */
  created: boolean
  marker: EnvironmentMarker
}

/**
 * Setting up the environment failed. `stage` says which step, `output` holds the end of
 * that step's output (pip's messages).
 *
 * @example
 * ```ts
 * try {
 *   await ensureEnvironment()
 * } catch (err) {
 *   if (err instanceof EnvironmentSetupError) console.error(err.stage, err.output)
 * }
 * ```
 */
export class EnvironmentSetupError extends ServerStartError {
  /** The step that failed: `bundle`, `lock`, `venv`, `dependencies`, `server` or `check`. */
  readonly stage: string
  /** The end of the failed command's output. */
  readonly output: string
  constructor(stage: string, message: string, output = '') {
    super(output ? `${message}\n--- output (tail) ---\n${output}` : message, output)
    this.stage = stage
    this.output = output
  }
}

/**
 * What {@link environmentStatus} found.
 *
 * @example
 * ```ts
 * const s = environmentStatus()
 * if (!s.ready) console.log(`${s.dir}: ${s.reason}`)
 * ```
 */
export interface EnvironmentStatus {
  dir: string
  python: string
  ready: boolean
  /** Why it is not ready (absent when ready). */
  reason?: string
  marker?: EnvironmentMarker
}

/**
 * Reads the marker file of an environment, `undefined` when it is missing or unreadable.
 *
 * @example
 * ```ts
 * readMarker('/home/ada/.cache/skbridge/env-0.1.0')?.numpy
 * ```
 */
export function readMarker(dir: string): EnvironmentMarker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')) as EnvironmentMarker
  } catch {
    return undefined
  }
}

function fingerprint(python: string): { size: number; mtimeMs: number } | undefined {
  try {
    const s = statSync(python)
    return { size: s.size, mtimeMs: Math.round(s.mtimeMs) }
  } catch {
    return undefined
  }
}

/**
 * Checks, without running anything, whether this package's environment can be reused:
 * the marker exists and names this version, and the environment's Python is the file it
 * was built with.
 *
 * @example
 * ```ts
 * const { ready, dir, reason } = environmentStatus()
 * ```
 */
export function environmentStatus(env: Readonly<Record<string, string | undefined>> = process.env, pkg: PackageInfo = packageInfo()): EnvironmentStatus {
  const dir = environmentDir(cacheHome(env), pkg.version)
  const python = venvPython(dir)
  const marker = readMarker(dir)
  const base = { dir, python }
  if (!existsSync(dir)) return { ...base, ready: false, reason: 'not created yet' }
  if (!marker) return { ...base, ready: false, reason: 'incomplete (no marker file: an interrupted or failed set-up)' }
  if (marker.server !== pkg.version) return { ...base, ready: false, reason: `holds skbridge ${marker.server}, not ${pkg.version}`, marker }
  const now = fingerprint(python)
  if (!now) return { ...base, ready: false, reason: `its Python ${python} is missing (or its base interpreter was removed)`, marker }
  if (now.size !== marker.fingerprint.size || now.mtimeMs !== marker.fingerprint.mtimeMs) {
    return { ...base, ready: false, reason: `its Python ${python} changed since it was set up`, marker }
  }
  return { ...base, ready: true, marker }
}

/** Runs a command; resolves with its output, rejects with an {@link EnvironmentSetupError}. */
function run(stage: string, command: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; show: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env,
      // pip writes progress on stdout; keep this process's stdout clean by sending it to stderr.
      stdio: opts.show ? ['ignore', process.stderr, process.stderr] : ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    })
    let out = ''
    const keep = (chunk: Buffer): void => {
      out = (out + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.once('error', (err) => reject(new EnvironmentSetupError(stage, `Could not run ${command}: ${err.message}`)))
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out)
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`
        reject(new EnvironmentSetupError(stage, `${command} ${args.join(' ')} ${how}`, out.trim()))
      }
    })
  })
}

function lockedRequirements(lock: string): string[] {
  return readFileSync(lock, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
}

/** Creates the environment in `dir` from scratch; the caller holds the lock. */
async function build(dir: string, base: FoundPython, bundle: BundledServer, pkg: PackageInfo, log: (line: string) => void, show: boolean, env: Readonly<Record<string, string | undefined>>): Promise<EnvironmentMarker> {
  // A venv refuses `pip install --user`; a user-wide PIP_USER=1 must not leak in.
  const pipEnv: NodeJS.ProcessEnv = { ...env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' }
  delete pipEnv.PIP_USER
  delete pipEnv.PYTHONHOME
  const pip = ['-m', 'pip', 'install', '--no-compile', ...(show ? ['--progress-bar', 'on'] : ['--progress-bar', 'off'])]
  const python = venvPython(dir)

  rmSync(dir, { recursive: true, force: true })
  log(`[skbridge] creating a Python environment in ${dir} (Python ${base.version.join('.')}, ${base.executable})`)
  await run('venv', base.executable, ['-m', 'venv', dir], { env: pipEnv, show: false })

  const pins = lockedRequirements(bundle.lock)
  log(`[skbridge] installing ${pins.length} locked packages with pip: ${pins.join(' ')}`)
  let locked = true
  try {
    await run('dependencies', python, [...pip, '-r', bundle.lock], { env: pipEnv, show })
  } catch (err) {
    if (!(err instanceof EnvironmentSetupError)) throw err
    // Pins are tested on one Python; an older or newer one may have no wheels for them.
    locked = false
    log(`[skbridge] the locked versions do not install with Python ${base.version.join('.')} here:\n${err.output.split('\n').slice(-4).join('\n')}`)
    log("[skbridge] installing the newest versions allowed by skbridge's requirements instead")
    await run('dependencies', python, [...pip, bundle.wheel], { env: pipEnv, show })
  }

  log(`[skbridge] installing the skbridge server ${pkg.version}`)
  await run('server', python, [...pip, '--no-deps', '--force-reinstall', bundle.wheel], { env: pipEnv, show: false })

  log('[skbridge] checking the environment (first imports, compiling them)')
  const checkEnv: NodeJS.ProcessEnv = { ...pipEnv }
  delete checkEnv.PYTHONDONTWRITEBYTECODE
  const checked = await run('check', python, ['-c', IMPORT_CHECK], { env: checkEnv, show: false })
  const versions = JSON.parse(checked.trim().split('\n').slice(-1)[0] ?? '{}') as { server?: string; numpy?: string; scikit_learn?: string }
  if (versions.server !== pkg.version) {
    throw new EnvironmentSetupError('check', `The environment's server is version ${String(versions.server)}, the npm package ${pkg.version}`)
  }
  const print = fingerprint(python)
  if (!print) throw new EnvironmentSetupError('check', `${python} is missing after the set-up`)
  const marker: EnvironmentMarker = {
    server: pkg.version,
    python: { executable: base.executable, version: base.version.join('.') },
    numpy: versions.numpy ?? '',
    scikit_learn: versions.scikit_learn ?? '',
    locked,
    fingerprint: print,
    created: new Date().toISOString(),
  }
  // Written last and renamed into place, so a marker is only ever whole and only after success.
  const tmp = join(dir, `${MARKER_FILE}.${process.pid}.tmp`)
  writeFileSync(tmp, JSON.stringify(marker, null, 2))
  renameSync(tmp, join(dir, MARKER_FILE))
  return marker
}

/**
 * Makes sure this package's private Python environment exists and returns its Python.
 *
 * Reuses the environment when its marker file says it is ready (nothing is run). Otherwise
 * takes a lock (other processes doing the same wait, then reuse the result), finds a
 * Python >= 3.10, creates a virtual environment in `<cacheHome>/env-<version>`, installs
 * the locked dependency versions and then the bundled server wheel with pip, checks that
 * everything imports, and writes the marker. A broken or half-built environment is
 * removed and built again. Progress goes to stderr, a line per stage.
 *
 * @example
 * ```ts
 * const { python, created } = await ensureEnvironment()
 * const py = await createPythonBridge({ python })
 * ```
 */
export async function ensureEnvironment(options: EnsureOptions = {}): Promise<ReadyEnvironment> {
  const env = options.env ?? process.env
  const pkg = packageInfo()
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`))
  const show = options.showPip ?? process.stderr.isTTY === true

  const first = environmentStatus(env, pkg)
  if (first.ready && first.marker && !options.force) return { dir: first.dir, python: first.python, created: false, marker: first.marker }

  const bundle = bundledServer(pkg)
  if (!existsSync(bundle.wheel) || !existsSync(bundle.lock)) {
    throw new EnvironmentSetupError(
      'bundle',
      `This copy of skbridge carries no Python server (${bundle.wheel} or ${bundle.lock} is missing): ` +
        'a source checkout rather than the npm package. Run `bash scripts/python-env` at the checkout ' +
        'and set SKBRIDGE_PYTHON=.venv/bin/python, or build the package with `npm pack`.',
    )
  }
  try {
    mkdirSync(cacheHome(env), { recursive: true })
  } catch (err) {
    throw new EnvironmentSetupError(
      'venv',
      `Cannot create ${cacheHome(env)} for skbridge's Python environment (${(err as Error).message}). ` +
        'Set SKBRIDGE_HOME to a writable directory.',
    )
  }
  const lock = await acquireLock(`${first.dir}.lock`, {
    timeoutMs: options.lockTimeoutMs ?? 30 * 60_000,
    onWait: (owner) => log(`[skbridge] waiting for process ${owner ? owner.pid : '?'}, which is setting up ${first.dir}`),
  })
  try {
    // Whoever held the lock may have just finished the same work.
    const again = environmentStatus(env, pkg)
    if (again.ready && again.marker && !options.force) return { dir: again.dir, python: again.python, created: false, marker: again.marker }
    if (again.ready) log(`[skbridge] rebuilding ${again.dir} as asked`)
    else if (again.reason !== 'not created yet') log(`[skbridge] the environment ${again.dir} is ${again.reason}: rebuilding it`)
    const started = Date.now()
    const base = findPython(options.pythonCandidates ?? PYTHON_CANDIDATES, env)
    const marker = await build(again.dir, base, bundle, pkg, log, show, env)
    log(`[skbridge] environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${again.dir}`)
    return { dir: again.dir, python: again.python, created: true, marker }
  } finally {
    lock.release()
  }
}

/**
 * The Python that {@link createPythonBridge} starts when given no `python` option:
 * `SKBRIDGE_PYTHON` when set (nothing is installed then), else the private environment's,
 * set up first if needed by {@link ensureEnvironment}.
 *
 * @example
 * ```ts
 * const python = await defaultPython()
 * ```
 */
export async function defaultPython(env: Readonly<Record<string, string | undefined>> = process.env): Promise<string> {
  if (env.SKBRIDGE_PYTHON) return env.SKBRIDGE_PYTHON
  return (await ensureEnvironment({ env })).python
}
