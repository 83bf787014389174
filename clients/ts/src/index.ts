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
export {
  type BridgeOptions,
  type InstanceInfo,
  type PingResult,
  PythonBridge,
  type ServerInfo,
  createPythonBridge,
} from './bridge.js'
export { Dataset, type DatasetInfo, type DatasetInput, type DatasetOptions } from './dataset.js'
export * from './errors.js'
export * from './generated/classes.js'
export * from './generated/errors.js'
export type * from './generated/types.js'
export { PROTOCOL_VERSION } from './generated/protocol.js'
export type { CallOptions } from './transport.js'
