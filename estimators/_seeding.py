"""Greedy k-means++ seeding.

Follows scikit-learn's greedy k-means++ (``sklearn.cluster.kmeans_plusplus``,
BSD-3-Clause) step by step, random draws included, so that the same random state picks
the same initial centers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._distances import DistancesTo


def kmeans_plusplus(X, n_clusters: int, x_sq_norms, sample_weight, rng, n_local_trials=None):
    """Greedy k-means++ seeding.

    X: (n, d) dense or CSR; x_sq_norms: (n,); sample_weight: (n,) dtype; rng: RandomState.
    Each new center is the best (lowest potential) of ``2 + log(k)`` candidates drawn with
    probability proportional to weight times squared distance to the nearest chosen center.
    The random draws are made in the same order and with the same calls as scikit-learn's
    ``kmeans_plusplus``. Returns centers (k, d) dense of X's dtype.
    """
    n_samples, n_features = X.shape
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    to_X = DistancesTo(X, x_sq_norms)
    first = rng.choice(n_samples, p=sample_weight / sample_weight.sum())
    centers[0] = _dense_row(X, first)
    closest = to_X(centers[0:1])[0]
    potential = closest @ sample_weight

    for c in range(1, n_clusters):
        targets = rng.uniform(size=n_local_trials) * potential
        candidates = np.searchsorted(np.cumsum(sample_weight * closest), targets)
        # Rounding in the cumulative sum can put a target just past the last bin.
        np.clip(candidates, None, closest.size - 1, out=candidates)
        cand_dist = to_X(_rows(X, candidates))
        np.minimum(closest, cand_dist, out=cand_dist)
        cand_pot = cand_dist @ sample_weight.reshape(-1, 1)
        best = int(np.argmin(cand_pot))
        potential = cand_pot[best]
        closest = cand_dist[best]
        centers[c] = _dense_row(X, candidates[best])
    return centers


def _rows(X, idx):
    return X[idx] if sp.issparse(X) else np.take(X, idx, axis=0)


def _dense_row(X, i):
    return X[[i]].toarray()[0] if sp.issparse(X) else X[i]
