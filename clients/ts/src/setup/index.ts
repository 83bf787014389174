/**
 * Zero-configuration set-up: the Python server carried by the npm package, installed on
 * first use into a private environment in the per-user cache.
 *
 * @module
 */

export {
  EnvironmentSetupError,
  type EnsureOptions,
  type EnvironmentMarker,
  type EnvironmentStatus,
  MARKER_FILE,
  type ReadyEnvironment,
  defaultPython,
  ensureEnvironment,
  environmentStatus,
  readMarker,
} from './environment.js'
export { type HeldLock, type LockOptions, type LockOwner, acquireLock, isAlive } from './lock.js'
export { type BundledServer, type PackageInfo, bundledServer, cacheHome, environmentDir, packageInfo, venvPython } from './paths.js'
export { type FoundPython, MIN_PYTHON, NoSuitablePythonError, PYTHON_CANDIDATES, type PythonCandidateFailure, findPython, probePython } from './python.js'
