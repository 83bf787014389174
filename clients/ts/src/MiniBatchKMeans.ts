/**
 * Mini-Batch K-Means, with the API of scikit-learn-ts's `MiniBatchKMeans`.
 *
 * @module
 */

import type { ResultMode } from './arrays.js'
import { Estimator } from './estimator.js'
import {
  type MiniBatchKMeansAttributes,
  MiniBatchKMeansContract,
  type MiniBatchKMeansFitParams,
  type MiniBatchKMeansFitPredictParams,
  type MiniBatchKMeansFitTransformParams,
  type MiniBatchKMeansGetFeatureNamesOutParams,
  type MiniBatchKMeansGetMetadataRoutingParams,
  type MiniBatchKMeansOptions,
  type MiniBatchKMeansPartialFitParams,
  type MiniBatchKMeansPredictParams,
  type MiniBatchKMeansResults,
  type MiniBatchKMeansScoreParams,
  type MiniBatchKMeansSetFitRequestParams,
  type MiniBatchKMeansSetOutputParams,
  type MiniBatchKMeansSetPartialFitRequestParams,
  type MiniBatchKMeansSetScoreRequestParams,
  type MiniBatchKMeansTransformParams,
} from './generated/types.js'
import type { CallOptions } from './transport.js'

/**
 * Mini-Batch K-Means clustering, computed by scikit-learn-compatible code in a Python
 * server process. Arrays travel as raw binary frames.
 *
 * Every method takes its parameters as one object (as in scikit-learn-ts) and, optionally,
 * a second {@link CallOptions} object with a `timeout` and an `AbortSignal`.
 *
 * `M` is the result mode of the bridge: leave it out for plain `number[][]` results; write
 * `new MiniBatchKMeans<'ndarray'>()` to use a bridge made with `{ ndarray: true }`.
 *
 * @example
 * ```ts
 * import * as sklearn from 'skbridge'
 *
 * const py = await sklearn.createPythonBridge()
 * const model = new sklearn.MiniBatchKMeans({ n_clusters: 2, random_state: 0 })
 * await model.init(py)
 * await model.fit({ X: [[0, 0], [0, 1], [9, 9], [9, 8]] })
 * const labels = await model.predict({ X: [[0, 0.5], [9, 8.5]] }) // e.g. [1, 0]
 * await model.dispose()
 * await py.disconnect()
 * ```
 */
export class MiniBatchKMeans<M extends ResultMode = 'plain'> extends Estimator<MiniBatchKMeansOptions, M> {
  /**
   * Creates the estimator locally; nothing reaches Python until {@link MiniBatchKMeans.init}.
   *
   * @example
   * ```ts
   * const model = new MiniBatchKMeans({ n_clusters: 3, batch_size: 256, random_state: 42 })
   * ```
   */
  constructor(opts?: MiniBatchKMeansOptions) {
    super(MiniBatchKMeansContract, opts)
  }

  /**
   * Learns the centroids from X, one random mini-batch at a time. Resolves to the model.
   *
   * @example
   * ```ts
   * await model.fit({ X: [[1, 2], [1, 4], [10, 2], [10, 4]] })
   * ```
   */
  fit(opts: MiniBatchKMeansFitParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['fit']> {
    return this._call('fit', opts, options) as Promise<this>
  }

  /**
   * Fits, then returns the cluster index of each sample (same as `fit` then `predict`).
   *
   * @example
   * ```ts
   * const labels = await model.fit_predict({ X }) // number[]
   * ```
   */
  fit_predict(opts: MiniBatchKMeansFitPredictParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['fit_predict']> {
    return this._call('fit_predict', opts, options) as Promise<MiniBatchKMeansResults<M, this>['fit_predict']>
  }

  /**
   * Fits, then returns each sample's distance to every centroid (n_samples x n_clusters).
   *
   * @example
   * ```ts
   * const distances = await model.fit_transform({ X }) // number[][]
   * ```
   */
  fit_transform(opts: MiniBatchKMeansFitTransformParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['fit_transform']> {
    return this._call('fit_transform', opts, options) as Promise<MiniBatchKMeansResults<M, this>['fit_transform']>
  }

  /**
   * Names of the `transform` output columns (`minibatchkmeans0`, `minibatchkmeans1`, ...).
   *
   * @example
   * ```ts
   * const names = await model.get_feature_names_out() // ['minibatchkmeans0', ...]
   * ```
   */
  get_feature_names_out(
    opts: MiniBatchKMeansGetFeatureNamesOutParams = {},
    options?: CallOptions,
  ): Promise<MiniBatchKMeansResults<M, this>['get_feature_names_out']> {
    return this._call('get_feature_names_out', opts, options) as Promise<string[]>
  }

  /**
   * Which metadata (`sample_weight`) each method requests, as a plain object.
   *
   * @example
   * ```ts
   * const routing = await model.get_metadata_routing() // { fit: { sample_weight: null }, ... }
   * ```
   */
  get_metadata_routing(
    opts: MiniBatchKMeansGetMetadataRoutingParams = {},
    options?: CallOptions,
  ): Promise<MiniBatchKMeansResults<M, this>['get_metadata_routing']> {
    return this._call('get_metadata_routing', opts, options) as Promise<MiniBatchKMeansResults<M, this>['get_metadata_routing']>
  }

  /**
   * Updates the centroids with a single mini-batch. Resolves to the model.
   *
   * @example
   * ```ts
   * for (const batch of batches) await model.partial_fit({ X: batch })
   * ```
   */
  partial_fit(opts: MiniBatchKMeansPartialFitParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['partial_fit']> {
    return this._call('partial_fit', opts, options) as Promise<this>
  }

  /**
   * The index of the closest centroid for each sample.
   *
   * @example
   * ```ts
   * const labels = await model.predict({ X: [[0, 0], [12, 3]] }) // number[]
   * ```
   */
  predict(opts: MiniBatchKMeansPredictParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['predict']> {
    return this._call('predict', opts, options) as Promise<MiniBatchKMeansResults<M, this>['predict']>
  }

  /**
   * Opposite of the K-means objective on X (higher is better).
   *
   * @example
   * ```ts
   * const s = await model.score({ X }) // e.g. -12.5
   * ```
   */
  score(opts: MiniBatchKMeansScoreParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['score']> {
    return this._call('score', opts, options) as Promise<number>
  }

  /**
   * Sets how metadata routing passes `sample_weight` to `fit`. Resolves to the model.
   *
   * @example
   * ```ts
   * await model.set_fit_request({ sample_weight: true })
   * ```
   */
  set_fit_request(opts: MiniBatchKMeansSetFitRequestParams = {}, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['set_fit_request']> {
    return this._call('set_fit_request', opts, options) as Promise<this>
  }

  /**
   * Sets the container `transform` and `fit_transform` return (`'default'`, `'pandas'`,
   * `'polars'`; the table forms come back with `columns`). Resolves to the model.
   *
   * @example
   * ```ts
   * await model.set_output({ transform: 'pandas' })
   * ```
   */
  set_output(opts: MiniBatchKMeansSetOutputParams = {}, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['set_output']> {
    return this._call('set_output', opts, options) as Promise<this>
  }

  /**
   * Sets how metadata routing passes `sample_weight` to `partial_fit`. Resolves to the model.
   *
   * @example
   * ```ts
   * await model.set_partial_fit_request({ sample_weight: false })
   * ```
   */
  set_partial_fit_request(
    opts: MiniBatchKMeansSetPartialFitRequestParams = {},
    options?: CallOptions,
  ): Promise<MiniBatchKMeansResults<M, this>['set_partial_fit_request']> {
    return this._call('set_partial_fit_request', opts, options) as Promise<this>
  }

  /**
   * Sets how metadata routing passes `sample_weight` to `score`. Resolves to the model.
   *
   * @example
   * ```ts
   * await model.set_score_request({ sample_weight: true })
   * ```
   */
  set_score_request(opts: MiniBatchKMeansSetScoreRequestParams = {}, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['set_score_request']> {
    return this._call('set_score_request', opts, options) as Promise<this>
  }

  /**
   * Each sample's distance to every centroid (n_samples x n_clusters).
   *
   * @example
   * ```ts
   * const distances = await model.transform({ X }) // number[][]
   * ```
   */
  transform(opts: MiniBatchKMeansTransformParams, options?: CallOptions): Promise<MiniBatchKMeansResults<M, this>['transform']> {
    return this._call('transform', opts, options) as Promise<MiniBatchKMeansResults<M, this>['transform']>
  }

  /**
   * Coordinates of the cluster centers (n_clusters x n_features; float32 when fitted on float32).
   *
   * @example
   * ```ts
   * const centers = await model.cluster_centers_ // number[][]
   * ```
   */
  get cluster_centers_(): Promise<MiniBatchKMeansAttributes<M>['cluster_centers_']> {
    return this._get('cluster_centers_') as Promise<MiniBatchKMeansAttributes<M>['cluster_centers_']>
  }

  /**
   * Column names seen by `fit`; set only when X had `columns`.
   *
   * @example
   * ```ts
   * await model.fit({ X: { data, shape: [n, 2], columns: ['x', 'y'] } })
   * await model.feature_names_in_ // ['x', 'y']
   * ```
   */
  get feature_names_in_(): Promise<MiniBatchKMeansAttributes<M>['feature_names_in_']> {
    return this._get('feature_names_in_') as Promise<string[]>
  }

  /**
   * Total (weighted) squared distance from each training row to its nearest centroid.
   *
   * @example
   * ```ts
   * const inertia = await model.inertia_
   * ```
   */
  get inertia_(): Promise<MiniBatchKMeansAttributes<M>['inertia_']> {
    return this._get('inertia_') as Promise<number>
  }

  /**
   * Cluster index of each training sample (when `compute_labels` is true).
   *
   * @example
   * ```ts
   * const labels = await model.labels_ // number[]
   * ```
   */
  get labels_(): Promise<MiniBatchKMeansAttributes<M>['labels_']> {
    return this._get('labels_') as Promise<MiniBatchKMeansAttributes<M>['labels_']>
  }

  /**
   * Number of features seen during `fit`.
   *
   * @example
   * ```ts
   * await model.n_features_in_ // 2
   * ```
   */
  get n_features_in_(): Promise<MiniBatchKMeansAttributes<M>['n_features_in_']> {
    return this._get('n_features_in_') as Promise<number>
  }

  /**
   * Number of full passes over the data.
   *
   * @example
   * ```ts
   * await model.n_iter_
   * ```
   */
  get n_iter_(): Promise<MiniBatchKMeansAttributes<M>['n_iter_']> {
    return this._get('n_iter_') as Promise<number>
  }

  /**
   * Number of mini-batches processed.
   *
   * @example
   * ```ts
   * await model.n_steps_
   * ```
   */
  get n_steps_(): Promise<MiniBatchKMeansAttributes<M>['n_steps_']> {
    return this._get('n_steps_') as Promise<number>
  }
}
