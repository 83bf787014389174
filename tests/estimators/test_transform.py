"""Distances to the centers (transform) against scikit-learn's, on the same centers.

Both estimators are given identical centers, so this holds for every scikit-learn the
project supports, whatever batches a fit would draw.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as Reference

from estimators import MiniBatchKMeans

from .conftest import as_input


def same_centers(X):
    ours = MiniBatchKMeans(n_clusters=6, random_state=0).fit(X)
    ref = Reference(n_clusters=6, random_state=0).fit(X)
    ref.cluster_centers_ = ours.cluster_centers_.copy()
    return ours, ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("container", ["dense", "csr"])
def test_distance_of_a_center_to_itself_is_exactly_zero(blobs, dtype, container):
    ours, ref = same_centers(as_input(blobs, dtype, container))
    own = ours.transform(ours.cluster_centers_)
    expected = ref.transform(ref.cluster_centers_)
    assert own.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(np.diag(expected), 0)
    np.testing.assert_array_equal(own, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("container", ["dense", "csr"])
def test_other_arrays_get_the_same_distances(blobs, dtype, container):
    """A copy or a CSR form of the centers is another array: no shortcut, in both."""
    X = as_input(blobs, dtype, container)
    ours, ref = same_centers(X)
    for make in (np.copy, sp.csr_matrix):
        np.testing.assert_array_equal(
            ours.transform(make(ours.cluster_centers_)), ref.transform(make(ref.cluster_centers_))
        )
    np.testing.assert_array_equal(ours.transform(X[:300]), ref.transform(X[:300]))
