/**
 * The `skbridge` command of the npm package: `setup`, `doctor`, `serve`.
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { constants } from 'node:os'

// Through the package index, so the estimator's module may move without touching this file.
import { MiniBatchKMeans, PROTOCOL_VERSION, createPythonBridge } from '../index.js'
import { ensureEnvironment, environmentStatus } from './environment.js'
import { cacheHome, packageInfo } from './paths.js'
import { PYTHON_CANDIDATES, findPython } from './python.js'

const USAGE = `Usage: skbridge <command> [options]

Commands:
  setup [--force] [--python PATH]   create the private Python environment now (for CI images
                                    and containers); --force rebuilds it, --python names the
                                    base interpreter (default: python3, then python)
  doctor                            show what skbridge finds and run a small test fit
  serve [flags]                     run the bundled server; flags are those of the Python
                                    \`skbridge serve\`: --endpoint URL, --workers N, --debug,
                                    --allow-remote (see \`skbridge serve --help\`)
  help                              this text

Environment: SKBRIDGE_PYTHON (use this interpreter, install nothing), SKBRIDGE_HOME
(where environments live; default: the user cache directory).`

function err(line: string): void {
  process.stderr.write(`${line}\n`)
}

async function setup(args: string[]): Promise<number> {
  let force = false
  let python: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--force') force = true
    else if (a === '--python' && i + 1 < args.length) python = args[++i]
    else if (a?.startsWith('--python=')) python = a.slice('--python='.length)
    else {
      err(`skbridge setup: unknown argument ${JSON.stringify(a)}\n\n${USAGE}`)
      return 2
    }
  }
  if (process.env.SKBRIDGE_PYTHON) {
    err(`[skbridge] note: SKBRIDGE_PYTHON=${process.env.SKBRIDGE_PYTHON} is set, so createPythonBridge() will use that interpreter, not this environment`)
  }
  const ready = await ensureEnvironment({ force, ...(python ? { pythonCandidates: [python] } : {}) })
  const m = ready.marker
  err(`[skbridge] ${ready.created ? 'set up' : 'already set up'}: ${ready.dir}`)
  err(`[skbridge] server ${m.server}, Python ${m.python.version}, numpy ${m.numpy}, scikit-learn ${m.scikit_learn}${m.locked ? '' : ' (newest allowed versions, not the lock)'}`)
  process.stdout.write(`${ready.python}\n`)
  return 0
}

async function doctor(): Promise<number> {
  const row = (name: string, value: string): void => void process.stdout.write(`${name.padEnd(16)}${value}\n`)
  const pkg = packageInfo()
  row('node', process.version)
  row('skbridge (npm)', `${pkg.version} at ${pkg.root}`)
  row('protocol', String(PROTOCOL_VERSION))
  let python: string
  const own = process.env.SKBRIDGE_PYTHON
  if (own) {
    row('python', `SKBRIDGE_PYTHON=${own} (your environment; skbridge installs nothing)`)
    python = own
  } else {
    try {
      const base = findPython(PYTHON_CANDIDATES)
      row('base python', `${base.command} -> ${base.executable} (${base.version.join('.')})`)
    } catch (e) {
      row('base python', 'NONE')
      err(e instanceof Error ? e.message : String(e))
    }
    row('cache home', cacheHome())
    const status = environmentStatus()
    row('environment', `${status.dir} (${status.ready ? 'ready' : status.reason ?? 'not ready'})`)
    if (!status.ready) err('[skbridge] setting it up now')
    try {
      python = (await ensureEnvironment()).python
    } catch (e) {
      err(e instanceof Error ? e.message : String(e))
      return 1
    }
  }
  const started = Date.now()
  let py
  try {
    py = await createPythonBridge({ python, serverOutput: 'ignore' })
  } catch (e) {
    err(`server: could not start: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
  let ok = true
  try {
    const info = await py.info()
    row('server', `${info.server} (protocol ${info.protocol}), started in ${Date.now() - started} ms`)
    row('python', info.python)
    row('numpy', info.numpy)
    row('scikit-learn', info.scikit_learn)
    if (info.server !== pkg.version) {
      ok = false
      err(`[skbridge] the server is ${info.server} but the npm package is ${pkg.version}: install the matching server (pip install ${pkg.root}/python/skbridge-${pkg.version}-py3-none-any.whl)`)
    }
    const fitStart = Date.now()
    const model = new MiniBatchKMeans({ n_clusters: 2, random_state: 0, n_init: 1 })
    await model.init(py)
    const X = [[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]]
    await model.fit({ X })
    const labels = await model.predict({ X })
    await model.dispose()
    const split = labels[0] === labels[1] && labels[1] === labels[2] && labels[3] === labels[4] && labels[4] === labels[5] && labels[0] !== labels[3]
    row('test fit', `MiniBatchKMeans on 6 points: labels ${JSON.stringify(labels)} ${split ? 'OK' : 'WRONG'} (${Date.now() - fitStart} ms)`)
    ok &&= split
  } finally {
    await py.disconnect()
  }
  return ok ? 0 : 1
}

async function serve(args: string[]): Promise<number> {
  const python = process.env.SKBRIDGE_PYTHON ?? (await ensureEnvironment()).python
  // stdout is inherited: the server's ready line is the first thing on it, as with the Python CLI.
  const child = spawn(python, ['-m', 'bridge', 'serve', ...args], { stdio: 'inherit' })
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal)
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward)
  return new Promise((resolve) => {
    child.once('error', (e) => {
      err(`skbridge serve: could not run ${python}: ${e.message}`)
      resolve(1)
    })
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)))
  })
}

/**
 * Runs the `skbridge` command line with `argv` (without `node` and the script) and
 * resolves with the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['doctor'])
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'setup':
        return await setup(rest)
      case 'doctor':
        return await doctor()
      case 'serve':
        return await serve(rest)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`)
        return command === undefined ? 2 : 0
      case '--version':
        process.stdout.write(`${packageInfo().version}\n`)
        return 0
      default:
        err(`skbridge: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
        return 2
    }
  } catch (e) {
    err(e instanceof Error ? e.message : String(e))
    return 1
  }
}
