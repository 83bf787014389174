"""Our MiniBatchKMeans against sklearn.cluster.MiniBatchKMeans, run side by side.

For the same data and integer random_state the two must take the same number of steps,
give the same labels, and agree on centers and inertia: the kernels add in scikit-learn's
order, so results are bit-identical in practice; the tolerances (1e-12 relative in float64,
1e-6 in float32) only leave room for a BLAS that rounds a dot product differently.

All of them need the scikit-learn the test extra pins: releases before it drew
mini-batches uniformly (``randint``) rather than by weight, so the same seed gives other
batches there. scripts/test-floor leaves them out (marker ``sklearn_latest``).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as Reference

from estimators import MiniBatchKMeans

from .conftest import as_input

pytestmark = pytest.mark.sklearn_latest

DTYPES = [np.float64, np.float32]
CONTAINERS = ["dense", "csr"]


def rtol_for(dtype):
    return 1e-12 if dtype == np.float64 else 1e-6


def assert_same_fit(ours, ref, dtype):
    assert ours.n_steps_ == ref.n_steps_
    assert getattr(ours, "n_iter_", None) == getattr(ref, "n_iter_", None)
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == dtype
    scale = np.abs(ref.cluster_centers_).max()
    np.testing.assert_allclose(
        ours.cluster_centers_, ref.cluster_centers_, rtol=0, atol=rtol_for(dtype) * scale
    )
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=rtol_for(dtype))
    if hasattr(ref, "labels_"):
        assert ours.labels_.dtype == ref.labels_.dtype
        np.testing.assert_array_equal(ours.labels_, ref.labels_)


def fit_both(X, sample_weight=None, **opts):
    ours = MiniBatchKMeans(**opts).fit(X, sample_weight=sample_weight)
    ref = Reference(**opts).fit(X, sample_weight=sample_weight)
    return ours, ref


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("init", ["k-means++", "random", "array", "callable"])
def test_fit_matches_sklearn_for_every_init(blobs, dtype, container, init):
    X = as_input(blobs, dtype, container)
    if init == "array":
        init = np.asarray(
            X[[0, 500, 1000, 1500, 2000, 2500]].todense()
            if sp.issparse(X)
            else X[[0, 500, 1000, 1500, 2000, 2500]]
        )
    elif init == "callable":

        def init(data, k, random_state):
            rows = random_state.permutation(data.shape[0])[:k]
            return data[rows].toarray() if sp.issparse(data) else data[rows]

    ours, ref = fit_both(X, n_clusters=6, init=init, batch_size=200, random_state=3)
    assert_same_fit(ours, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
def test_sample_weight_matches_sklearn(blobs, dtype, container):
    X = as_input(blobs, dtype, container)
    weight = np.random.RandomState(1).uniform(0.1, 3.0, size=X.shape[0])
    ours, ref = fit_both(X, sample_weight=weight, n_clusters=6, batch_size=256, random_state=5)
    assert_same_fit(ours, ref, dtype)


@pytest.mark.parametrize("seed", range(4))
def test_many_seeds_match(blobs, seed):
    ours, ref = fit_both(blobs, n_clusters=9, batch_size=64, random_state=seed, n_init=3)
    assert_same_fit(ours, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_tol_stopping_matches(blobs, dtype):
    X = blobs.astype(dtype)
    ours, ref = fit_both(
        X, n_clusters=6, tol=1e-3, max_no_improvement=None, random_state=0, batch_size=100
    )
    assert_same_fit(ours, ref, dtype)
    # Stopped early on the center-change criterion, not by running out of steps.
    assert ours.n_steps_ < (100 * X.shape[0]) // 100


def test_no_improvement_stopping_matches(blobs):
    for patience in (1, 3, 20):
        ours, ref = fit_both(
            blobs, n_clusters=6, max_no_improvement=patience, random_state=2, batch_size=50
        )
        assert_same_fit(ours, ref, np.float64)


def test_without_early_stopping_runs_all_steps(blobs):
    ours, ref = fit_both(
        blobs[:500],
        n_clusters=4,
        max_no_improvement=None,
        max_iter=3,
        batch_size=100,
        random_state=1,
    )
    assert_same_fit(ours, ref, np.float64)
    assert ours.n_steps_ == (3 * 500) // 100


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
def test_heavy_reassignment_matches(blobs, dtype, container, capsys):
    X = as_input(blobs, dtype, container)
    opts = dict(n_clusters=40, batch_size=30, reassignment_ratio=0.9, random_state=4, verbose=1)
    ours = MiniBatchKMeans(**opts).fit(X)
    ours_out = capsys.readouterr().out
    ref = Reference(**opts).fit(X)
    ref_out = capsys.readouterr().out
    assert_same_fit(ours, ref, dtype)
    assert "Reassigning" in ours_out
    if dtype == np.float64:
        assert ours_out == ref_out


def test_compute_labels_false_matches(blobs):
    ours, ref = fit_both(blobs, n_clusters=6, compute_labels=False, random_state=0)
    assert not hasattr(ours, "labels_")
    assert_same_fit(ours, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
def test_partial_fit_sequence_matches(blobs, dtype, container):
    X = as_input(blobs, dtype, container)
    weight = np.random.RandomState(2).uniform(0.5, 2.0, size=X.shape[0])
    ours = MiniBatchKMeans(n_clusters=6, random_state=8)
    ref = Reference(n_clusters=6, random_state=8)
    for start in range(0, X.shape[0], 250):
        rows = slice(start, start + 250)
        ours.partial_fit(X[rows], sample_weight=weight[rows])
        ref.partial_fit(X[rows], sample_weight=weight[rows])
        assert ours.n_steps_ == ref.n_steps_
    assert_same_fit(ours, ref, dtype)


def test_partial_fit_with_reassignment_matches(blobs):
    ours = MiniBatchKMeans(n_clusters=30, random_state=0, reassignment_ratio=0.5)
    ref = Reference(n_clusters=30, random_state=0, reassignment_ratio=0.5)
    for start in range(0, 3000, 100):
        ours.partial_fit(blobs[start : start + 100])
        ref.partial_fit(blobs[start : start + 100])
    assert_same_fit(ours, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
def test_inference_methods_match(blobs, dtype, container):
    X = as_input(blobs, dtype, container)
    ours, ref = fit_both(X, n_clusters=6, random_state=0)
    new = X[:400]
    np.testing.assert_array_equal(ours.predict(new), ref.predict(new))
    assert ours.predict(new).dtype == np.int32
    tr, tr_ref = ours.transform(new), ref.transform(new)
    assert tr.dtype == tr_ref.dtype == dtype
    np.testing.assert_allclose(tr, tr_ref, rtol=rtol_for(dtype) * 10)
    np.testing.assert_allclose(ours.score(new), ref.score(new), rtol=rtol_for(dtype))
    weight = np.linspace(0.5, 2, new.shape[0])
    np.testing.assert_allclose(
        ours.score(new, sample_weight=weight),
        ref.score(new, sample_weight=weight),
        rtol=rtol_for(dtype),
    )


def test_fit_predict_and_fit_transform_match(blobs):
    opts = dict(n_clusters=5, random_state=11)
    np.testing.assert_array_equal(
        MiniBatchKMeans(**opts).fit_predict(blobs), Reference(**opts).fit_predict(blobs)
    )
    np.testing.assert_allclose(
        MiniBatchKMeans(**opts).fit_transform(blobs),
        Reference(**opts).fit_transform(blobs),
        rtol=1e-9,
    )


@pytest.mark.parametrize("n_init", [2, 5])
def test_several_inits_pick_the_same_candidate(blobs, n_init):
    ours, ref = fit_both(blobs, n_clusters=7, n_init=n_init, init="random", random_state=9)
    assert_same_fit(ours, ref, np.float64)


def test_init_size_subsampling_matches(blobs):
    for init_size in (20, 100, 5000):
        ours, ref = fit_both(blobs, n_clusters=6, init_size=init_size, random_state=1)
        assert_same_fit(ours, ref, np.float64)


def test_input_kinds_are_converted_like_sklearn(blobs):
    ints = np.rint(blobs * 10).astype(np.int64)
    fortran = np.asfortranarray(blobs)
    coo = sp.coo_matrix(blobs)
    for X in (ints, fortran, coo, blobs.tolist()):
        ours, ref = fit_both(X, n_clusters=4, random_state=0)
        assert_same_fit(ours, ref, np.float64)


def test_verbose_output_matches(blobs, capsys):
    opts = dict(
        n_clusters=4, random_state=0, verbose=1, batch_size=300, n_init=2, init="random", tol=1e-4
    )
    MiniBatchKMeans(**opts).fit(blobs)
    ours = capsys.readouterr().out
    Reference(**opts).fit(blobs)
    ref = capsys.readouterr().out
    assert "Minibatch step" in ours and "Inertia for init" in ours
    assert ours == ref


def test_single_step_fit_without_labels_reports_an_inertia(blobs):
    # One step (batch = all rows, max_iter=1): scikit-learn raises a TypeError here.
    X = blobs[:200]
    model = MiniBatchKMeans(
        n_clusters=3, batch_size=200, max_iter=1, compute_labels=False, random_state=0
    ).fit(X)
    assert model.n_steps_ == 1
    direct = ((X - model.cluster_centers_[model.predict(X)]) ** 2).sum()
    assert 0 < model.inertia_ < 10 * direct
