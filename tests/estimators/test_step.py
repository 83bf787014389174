"""One mini-batch step on its own: the checks scikit-learn's suite makes on its private
step function (see NOT_APPLICABLE in test_sklearn_suite.py), made on ours."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from estimators import MiniBatchKMeans
from estimators import _kernels as K

TRUE_CENTERS = np.array(
    [[0.0, 5.0, 0.0, 0.0, 0.0], [1.0, 1.0, 4.0, 0.0, 0.0], [1.0, 0.0, 0.0, 5.0, 1.0]]
)
X, TRUE_LABELS = make_blobs(n_samples=100, centers=TRUE_CENTERS, cluster_std=1.0, random_state=42)


def step(data, centers, ratio, seed=0):
    """Run one step of a fresh estimator from ``centers``; returns (inertia, new centers)."""
    model = MiniBatchKMeans(n_clusters=centers.shape[0], reassignment_ratio=ratio)
    model._batch_size = data.shape[0]
    model._n_parts = 1
    model._reset_center_weights(centers.dtype)
    new = np.empty_like(centers)
    weight = np.ones(data.shape[0])
    inertia = model._step(data, weight, centers.copy(), new, np.random.RandomState(seed))
    return inertia, new


def inertia_of(data, centers):
    return K.labels_inertia(data, np.ones(data.shape[0]), centers)


def test_dense_and_sparse_steps_agree():
    start = TRUE_CENTERS + np.random.RandomState(42).normal(size=TRUE_CENTERS.shape)
    batch = X[:10]
    before, moved = step(batch, start, ratio=0.0)
    before_csr, moved_csr = step(sp.csr_matrix(batch), start, ratio=0.0)
    labels, after = inertia_of(batch, moved)
    labels_csr, after_csr = inertia_of(sp.csr_matrix(batch), moved_csr)
    assert 0 < after < before
    assert 0 < after_csr < before_csr
    np.testing.assert_array_equal(labels, labels_csr)
    np.testing.assert_allclose(moved, moved_csr)
    np.testing.assert_allclose(before, before_csr)
    np.testing.assert_allclose(after, after_csr)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_reassignment_ratio_extremes(container):
    data = container(X)
    perfect = np.array([X[TRUE_LABELS == i].mean(axis=0) for i in range(3)])
    _, best = inertia_of(data, perfect)
    # Ratio 1: every center lighter than the heaviest one jumps to a random point.
    _, jumped = step(data, perfect, ratio=1.0)
    assert inertia_of(data, jumped)[1] > best
    # A tiny ratio moves nothing: the centers stay at the means they already are.
    _, kept = step(data, perfect, ratio=1e-15)
    np.testing.assert_allclose(kept, perfect)
