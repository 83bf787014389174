/**
 * skbridge: scikit-learn estimators for TypeScript over a ZeroMQ bridge with binary arrays.
 * A drop-in for scikit-learn-ts: `import * as sklearn from 'skbridge'`.
 *
 * The public surface is the scikit-learn-ts one (`createPythonBridge`, the estimator
 * classes and their option types), the array types and the errors. Estimator classes and
 * server error classes are generated from the contract.
 *
 * @example
 * ```ts
 * import * as sklearn from 'skbridge'
 *
 * const py = await sklearn.createPythonBridge()
 * const model = new sklearn.MiniBatchKMeans({ n_clusters: 3, random_state: 0 })
 * await model.init(py)
 * await model.fit({ X })
 * const labels = await model.predict({ X })
 * await model.dispose()
 * await py.disconnect()
 * ```
 *
 * @packageDocumentation
 */

export type {
  CsrMatrix,
  DType,
  MatrixData,
  MatrixInput,
  MatrixResult,
  NdArray,
  NdArrayLike,
  ResultMode,
  TypedArray,
  VectorData,
  VectorInput,
  VectorResult,
} from './array-types.js'
export { PythonBridge, createPythonBridge } from './bridge.js'
export type { BridgeOptions, HeartbeatOptions, InstanceInfo, PingResult, ServerInfo } from './bridge-types.js'
export type { CallOptions, MethodCallOptions, ProgressCallOptions, ProgressEvent } from './call-options.js'
export type { ClientKey } from './curve.js'
export { Dataset, type DatasetInfo, type DatasetInput, type DatasetOptions } from './dataset.js'
export * from './errors.js'
export * from './generated/classes.js'
export * from './generated/errors.js'
export type * from './generated/types.js'
export { PROTOCOL_VERSION } from './generated/protocol.js'
export type { ServerLimits } from './limits.js'
export { EnvironmentSetupError, defaultPython, ensureEnvironment, type EnsureOptions, type ReadyEnvironment } from './setup/environment.js'
export { NoSuitablePythonError } from './setup/python.js'
