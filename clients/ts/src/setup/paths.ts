/**
 * Where things are: this npm package, the Python server it carries, and the per-user cache
 * directory that holds the private Python environments.
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The installed `skbridge` npm package: its root directory and version.
 *
 * @example
 * ```ts
 * const { root, version } = packageInfo()
 * ```
 */
export interface PackageInfo {
  /** Directory holding the package's `package.json`. */
  root: string
  /** The package version; the bundled Python server has the same one. */
  version: string
}

let cachedPackage: PackageInfo | undefined

/**
 * Finds this package's root by walking up from this module to the `package.json` named
 * `skbridge` (the compiled module sits at different depths in `dist/` and in test builds).
 *
 * @example
 * ```ts
 * console.log(packageInfo().version) // '0.1.0'
 * ```
 */
export function packageInfo(): PackageInfo {
  if (cachedPackage) return cachedPackage
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; version?: unknown }
      if (parsed.name === 'skbridge' && typeof parsed.version === 'string') {
        cachedPackage = { root: dir, version: parsed.version }
        return cachedPackage
      }
    }
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new Error(`Cannot find the skbridge package.json above ${fileURLToPath(import.meta.url)}`)
}

/**
 * The Python payload packed into the npm package (`python/` next to `package.json`):
 * the server wheel and the lock of tested dependency versions.
 *
 * @example
 * ```ts
 * const { wheel, lock } = bundledServer()
 * ```
 */
export interface BundledServer {
  /** The `python/` directory. */
  dir: string
  /** Path of `skbridge-<version>-py3-none-any.whl` (may not exist in a source checkout). */
  wheel: string
  /** Path of `requirements.lock`: exact versions of the server's dependencies. */
  lock: string
}

/**
 * Paths of the Python server carried by this package.
 *
 * @example
 * ```ts
 * if (!existsSync(bundledServer().wheel)) console.log('a source checkout: run npm pack')
 * ```
 */
export function bundledServer(pkg: PackageInfo = packageInfo()): BundledServer {
  const dir = join(pkg.root, 'python')
  return { dir, wheel: join(dir, `skbridge-${pkg.version}-py3-none-any.whl`), lock: join(dir, 'requirements.lock') }
}

/**
 * The per-user directory holding skbridge's Python environments: `SKBRIDGE_HOME` when set,
 * else the platform's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
 * `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows) followed by `skbridge`.
 *
 * @example
 * ```ts
 * cacheHome({ HOME: '/home/ada' }, 'linux', '/home/ada') // '/home/ada/.cache/skbridge'
 * ```
 */
export function cacheHome(
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: string = process.platform,
  home: string = homedir(),
): string {
  const own = env.SKBRIDGE_HOME
  if (own) return own
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'skbridge')
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'skbridge')
  // The XDG spec says to ignore relative values.
  const xdg = env.XDG_CACHE_HOME
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.cache'), 'skbridge')
}

/**
 * The environment directory for one package version: `<cacheHome>/env-<version>`.
 *
 * @example
 * ```ts
 * environmentDir('/home/ada/.cache/skbridge', '0.1.0') // '/home/ada/.cache/skbridge/env-0.1.0'
 * ```
 */
export function environmentDir(home: string, version: string): string {
  return join(home, `env-${version.replace(/[^\w.+-]/g, '_')}`)
}

/**
 * The Python executable inside a virtual environment.
 *
 * @example
 * ```ts
 * venvPython('/home/ada/.cache/skbridge/env-0.1.0') // '.../env-0.1.0/bin/python'
 * ```
 */
export function venvPython(envDir: string, platform: string = process.platform): string {
  return platform === 'win32' ? join(envDir, 'Scripts', 'python.exe') : join(envDir, 'bin', 'python')
}
