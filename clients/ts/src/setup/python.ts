/**
 * Finding a Python interpreter that can host the skbridge server's environment.
 *
 * @module
 */

import { spawnSync } from 'node:child_process'

import { PythonNotFoundError } from '../errors.js'

/**
 * The oldest Python the server supports (pyproject's `requires-python`).
 *
 * @example
 * ```ts
 * console.log(`needs Python >= ${MIN_PYTHON.join('.')}`)
 * ```
 */
export const MIN_PYTHON: readonly [number, number] = [3, 10]

/**
 * Commands tried, in order, when no interpreter is named.
 *
 * @example
 * ```ts
 * findPython(PYTHON_CANDIDATES)
 * ```
 */
export const PYTHON_CANDIDATES: readonly string[] = ['python3', 'python']

/** Prints what the probe needs as one JSON line; `venv` and `ensurepip` make the private environment. */
const PROBE = [
  'import json, sys',
  'def has(name):',
  '    try:',
  '        __import__(name)',
  '        return True',
  '    except Exception:',
  '        return False',
  'print(json.dumps({"version": list(sys.version_info[:3]), "executable": sys.executable, "venv": has("venv") and has("ensurepip")}))',
].join('\n')

/**
 * A Python interpreter that was run and answered.
 *
 * @example
 * ```ts
 * const found: FoundPython = { command: 'python3', executable: '/usr/bin/python3', version: [3, 11, 7] }
 * ```
 */
export interface FoundPython {
  /** What was run (`python3`, or the path given). */
  command: string
  /** `sys.executable`: the interpreter's absolute path. */
  executable: string
  /** `sys.version_info[:3]`. */
  version: [number, number, number]
}

/**
 * One interpreter that was tried and why it does not fit.
 *
 * @example
 * ```ts
 * const miss: PythonCandidateFailure = { command: 'python', reason: 'not found on PATH' }
 * ```
 */
export interface PythonCandidateFailure {
  command: string
  reason: string
}

/**
 * No usable Python was found to create skbridge's environment. `tried` lists each command
 * and the reason it was rejected; the message says how to fix it.
 *
 * @example
 * ```ts
 * try {
 *   await createPythonBridge()
 * } catch (err) {
 *   if (err instanceof NoSuitablePythonError) console.error(err.tried)
 * }
 * ```
 */
export class NoSuitablePythonError extends PythonNotFoundError {
  /** Every command tried, with the reason it was rejected. */
  readonly tried: PythonCandidateFailure[]
  constructor(tried: PythonCandidateFailure[]) {
    super(tried.map((t) => t.command).join(', '))
    this.tried = tried
    const lines = tried.map((t) => `  ${t.command}: ${t.reason}`).join('\n')
    this.message =
      `skbridge runs its server in Python >= ${MIN_PYTHON.join('.')} and found none that fits:\n${lines}\n` +
      `Install Python ${MIN_PYTHON.join('.')} or newer (python.org or your package manager; on Debian/Ubuntu ` +
      'also python3-venv) so that `python3` is on PATH, or name an interpreter with ' +
      '`npx skbridge setup --python /path/to/python3`. To use your own environment instead ' +
      '(with skbridge installed into it), set SKBRIDGE_PYTHON or pass { python } to createPythonBridge().'
  }
}

/**
 * Runs one candidate interpreter; returns what it is, or why it cannot be used.
 *
 * @example
 * ```ts
 * const r = probePython('/usr/bin/python3.12')
 * if ('reason' in r) console.error(r.reason)
 * ```
 */
export function probePython(command: string, env: Readonly<Record<string, string | undefined>> = process.env): FoundPython | PythonCandidateFailure {
  const run = spawnSync(command, ['-c', PROBE], { encoding: 'utf8', timeout: 30_000, env, windowsHide: true })
  if (run.error) {
    const code = (run.error as NodeJS.ErrnoException).code
    return { command, reason: code === 'ENOENT' ? 'not found on PATH' : `could not be run (${run.error.message})` }
  }
  if (run.status !== 0) {
    const said = (run.stderr || run.stdout || '').trim().split('\n').slice(-1)[0] ?? ''
    return { command, reason: `exited with code ${String(run.status)}${said ? `: ${said}` : ''}` }
  }
  let parsed: { version?: unknown; executable?: unknown; venv?: unknown }
  try {
    parsed = JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] ?? '') as typeof parsed
  } catch {
    return { command, reason: `did not answer like Python (printed ${JSON.stringify(run.stdout.slice(0, 80))})` }
  }
  const v = parsed.version
  if (!Array.isArray(v) || v.length < 3 || !v.every((x) => typeof x === 'number') || typeof parsed.executable !== 'string') {
    return { command, reason: 'did not answer like Python' }
  }
  const version: [number, number, number] = [v[0] as number, v[1] as number, v[2] as number]
  const where = `Python ${version.join('.')} (${parsed.executable})`
  if (version[0] < MIN_PYTHON[0] || (version[0] === MIN_PYTHON[0] && version[1] < MIN_PYTHON[1])) {
    return { command, reason: `${where} is older than ${MIN_PYTHON.join('.')}` }
  }
  if (parsed.venv !== true) {
    return { command, reason: `${where} cannot create virtual environments (its venv/ensurepip modules are missing; on Debian/Ubuntu: apt install python3-venv)` }
  }
  return { command, executable: parsed.executable, version }
}

/**
 * Finds a Python >= 3.10 that can create virtual environments, trying `candidates` in order
 * (default `python3`, then `python`) and running each to read its version.
 *
 * Throws {@link NoSuitablePythonError} naming every command tried and why it was rejected.
 *
 * @example
 * ```ts
 * const { executable, version } = findPython()
 * console.log(`Python ${version.join('.')} at ${executable}`)
 * ```
 */
export function findPython(candidates: readonly string[] = PYTHON_CANDIDATES, env: Readonly<Record<string, string | undefined>> = process.env): FoundPython {
  const tried: PythonCandidateFailure[] = []
  for (const command of candidates) {
    const result = probePython(command, env)
    if ('executable' in result) return result
    tried.push(result)
  }
  throw new NoSuitablePythonError(tried)
}
