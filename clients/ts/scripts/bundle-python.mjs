// prepack: puts the Python server into python/ so the npm tarball can start it alone.
//   python/skbridge-<version>-py3-none-any.whl  the server (bridge, estimators, schemas + contract.schema.json)
//   python/requirements.lock                    exact versions of its runtime dependencies, as tested
//   python/pyproject.toml                       the project metadata the wheel was built from
// Built with the checkout's .venv (bash scripts/python-env), or SKBRIDGE_PACK_PYTHON.
// Fails when package.json, pyproject.toml and bridge.__version__ disagree on the version.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const repo = resolve(pkgRoot, '../..')
const out = join(pkgRoot, 'python')

function fail(message) {
  process.stderr.write(`bundle-python: ${message}\n`)
  process.exit(1)
}

const npmVersion = JSON.parse(readFileSync(join(pkgRoot, 'package.json'), 'utf8')).version
const pyproject = readFileSync(join(repo, 'pyproject.toml'), 'utf8')
const projectTable = pyproject.split(/^\[/m).find((t) => t.startsWith('project]')) ?? ''
const pyVersion = /^version\s*=\s*"([^"]+)"/m.exec(projectTable)?.[1]
const serverVersion = /^__version__\s*=\s*"([^"]+)"/m.exec(readFileSync(join(repo, 'bridge/__init__.py'), 'utf8'))?.[1]
if (pyVersion !== npmVersion || serverVersion !== npmVersion) {
  fail(`versions differ: package.json ${npmVersion}, pyproject.toml ${pyVersion}, bridge.__version__ ${serverVersion}; they must be equal`)
}

const venvPython = process.platform === 'win32' ? join(repo, '.venv', 'Scripts', 'python.exe') : join(repo, '.venv', 'bin', 'python')
const python = process.env.SKBRIDGE_PACK_PYTHON || venvPython
if (!existsSync(python)) fail(`no Python at ${python}: run \`bash scripts/python-env\` at ${repo} first (or set SKBRIDGE_PACK_PYTHON)`)

const run = (args, opts = {}) => {
  try {
    return execFileSync(python, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  } catch (err) {
    fail(`${python} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`)
  }
}

// sdist first, then the wheel from the sdist: what a user building from PyPI would get.
const staging = mkdtempSync(join(tmpdir(), 'skbridge-bundle-'))
try {
  run(['-m', 'build', '--outdir', staging, repo])
  const wheelName = `skbridge-${npmVersion}-py3-none-any.whl`
  if (!readdirSync(staging).includes(wheelName)) fail(`python -m build did not produce ${wheelName}`)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out)
  copyFileSync(join(staging, wheelName), join(out, wheelName))
  writeFileSync(join(out, 'requirements.lock'), run([join(pkgRoot, 'scripts', 'freeze_runtime.py'), join(out, wheelName)]))
  copyFileSync(join(repo, 'pyproject.toml'), join(out, 'pyproject.toml'))
  process.stderr.write(`bundle-python: ${wheelName}, requirements.lock and pyproject.toml in ${out}\n`)
} finally {
  rmSync(staging, { recursive: true, force: true })
}
