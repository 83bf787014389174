/**
 * skbridge: scikit-learn estimators for TypeScript over a ZeroMQ bridge with binary arrays.
 * A drop-in for scikit-learn-ts: `import * as sklearn from 'skbridge'`.
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

export * from './arrays.js'
export * from './bridge.js'
export * from './errors.js'
export { Estimator, type EstimatorContract, type ReturnKind } from './estimator.js'
export { type ArrayKind, type CsrRef, type NdArrayRef, FrameSink, decodeValue, encodeMap, encodeValue, frameView } from './frames.js'
export * from './generated/types.js'
export { MiniBatchKMeans } from './MiniBatchKMeans.js'
export { type ReadyLine, ServerProcess, type SpawnOptions, spawnServer } from './server.js'
export * from './setup/index.js'
export { type CallOptions, PROTOCOL_VERSION, type Reply, Transport, type TransportOptions } from './transport.js'
