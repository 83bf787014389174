"""The kernels on their own: the sampler's equivalence with RandomState.choice, the
ordered sum, and whole-data passes that give the same answer for any block size."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

from estimators import _kernels as K
from estimators._sampling import BatchSampler


@pytest.mark.parametrize("n", [1, 7, 1000, 20_011])
@pytest.mark.parametrize("weights", ["uniform", "skewed", "zeros_inside", "one_heavy"])
def test_sampler_draws_what_choice_draws(n, weights):
    w = {
        "uniform": np.ones(n),
        "skewed": np.random.RandomState(1).pareto(1.0, n) + 1e-3,
        "zeros_inside": np.where(np.arange(n) % 3 == 0, 0.0, 1.0) if n > 1 else np.ones(n),
        # Half the mass on one row: wide guide cells, the search fallback.
        "one_heavy": np.r_[float(n), np.ones(n - 1)],
    }[weights]
    p = w / w.sum()
    sampler = BatchSampler(p)
    ours, ref = np.random.RandomState(5), np.random.RandomState(5)
    # Enough draws to pass from plain searches to the guide table.
    sampler.GUIDE_MIN_ROWS = 0  # exercise the guide table at every size
    for _ in range(3 + n // (32 * 257)):
        np.testing.assert_array_equal(sampler.draw(257, ours), ref.choice(n, 257, p=p))
    assert sampler._guide is not None
    # Both generators are left in the same state.
    assert ours.randint(1 << 30) == ref.randint(1 << 30)


def test_sampler_rejects_what_choice_rejects():
    for p, message in [
        (np.array([0.5, np.nan, 0.5]), "probabilities contain NaN"),
        (np.array([1.5, -0.5]), "probabilities are not non-negative"),
        (np.array([0.2, 0.2]), "probabilities do not sum to 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            BatchSampler(p)
        with pytest.raises(ValueError, match=message):
            np.random.RandomState(0).choice(p.size, 3, p=p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ordered_sum_adds_left_to_right_per_part(dtype):
    terms = (np.random.RandomState(0).rand(10_001) * 1e3).astype(dtype)
    for parts in (1, 2, 3):
        bounds = np.array_split(np.arange(terms.size), parts)
        expected = dtype(0)
        for chunk in bounds:
            acc = dtype(0)
            for v in terms[chunk]:
                acc = dtype(acc + v)
            expected = dtype(expected + acc)
        assert K.ordered_sum(terms, parts) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_labels_inertia_independent_of_blocks_and_threads(monkeypatch, dtype, sparse):
    rng = np.random.RandomState(0)
    X = rng.rand(5000, 7).astype(dtype)
    if sparse:
        X = sp.csr_matrix(X * (X > 0.4))
    centers = rng.rand(12, 7).astype(dtype)
    w = rng.rand(5000).astype(dtype)
    whole = K.labels_inertia(X, w, centers)
    monkeypatch.setattr(K, "BLOCK_CELLS", 12 * 300)  # 300-row blocks
    with ThreadPoolExecutor(3) as pool:
        blocked = K.labels_inertia(X, w, centers, pool=pool)
    np.testing.assert_array_equal(whole[0], blocked[0])
    assert whole[1] == blocked[1]
    # And the labels are the nearest centers.
    dense = X.toarray() if sparse else X
    d2 = ((dense[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(whole[0], d2.argmin(1))
    np.testing.assert_allclose(whole[1], (d2.min(1) * w).sum(), rtol=1e-4)


def test_minibatch_update_is_a_running_mean():
    rng = np.random.RandomState(3)
    X = rng.rand(40, 4)
    centers = rng.rand(3, 4)
    counts = np.array([2.0, 0.0, 5.0])
    labels = np.r_[np.zeros(10), np.full(30, 2)].astype(np.int32)
    new = np.empty_like(centers)
    w = np.ones(40)
    K.minibatch_update(X, w, centers, new, counts, labels)
    np.testing.assert_allclose(new[0], (centers[0] * 2 + X[:10].sum(0)) / 12)
    np.testing.assert_array_equal(new[1], centers[1])  # no points: unchanged
    np.testing.assert_allclose(new[2], (centers[2] * 5 + X[10:].sum(0)) / 35)
    np.testing.assert_array_equal(counts, [12.0, 0.0, 35.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_without_the_raw_kernel_is_still_exact(monkeypatch, dtype):
    """The public-scipy fallback of the center update adds in the same order."""
    from estimators import MiniBatchKMeans

    X = np.random.RandomState(0).rand(2000, 6).astype(dtype)
    opts = dict(n_clusters=5, batch_size=100, random_state=0)
    assert K._csr_matvecs is not None  # the raw kernel is there on every supported scipy
    raw = MiniBatchKMeans(**opts).fit(X)
    monkeypatch.setattr(K, "_csr_matvecs", None)
    public = MiniBatchKMeans(**opts).fit(X)
    assert public.n_steps_ == raw.n_steps_
    np.testing.assert_array_equal(public.cluster_centers_, raw.cluster_centers_)
    np.testing.assert_array_equal(public.labels_, raw.labels_)


def test_single_blas_thread_limits_and_restores():
    from threadpoolctl import threadpool_info

    from estimators._threads import single_blas_thread

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with single_blas_thread():
        assert blas_threads() and all(n == 1 for n in blas_threads())
    assert blas_threads() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_row_norms_add_entry_by_entry(dtype):
    from estimators._distances import row_sq_norms

    rng = np.random.RandomState(4)
    dense = rng.rand(300, 200) * (rng.rand(300, 200) < rng.rand(300, 1))  # uneven rows
    X = sp.csr_matrix(dense.astype(dtype))
    expected = np.zeros(300, dtype=dtype)
    for i in range(300):
        for v in X.data[X.indptr[i] : X.indptr[i + 1]]:
            expected[i] = dtype(expected[i] + v * v)
    got = row_sq_norms(X)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(row_sq_norms(dense), (dense**2).sum(1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_prepared_distances_equal_the_plain_ones(dtype, sparse):
    from estimators._distances import DistancesTo, sq_distances

    rng = np.random.RandomState(2)
    B = rng.rand(400, 300) * (rng.rand(400, 300) < 0.2)
    A = rng.rand(7, 300) * (rng.rand(7, 300) < 0.2)
    B, A = B.astype(dtype), A.astype(dtype)
    if sparse:
        B = sp.csr_matrix(B)
    prepared = DistancesTo(B)
    for rows in (sp.csr_matrix(A) if sparse else A, A):
        got = prepared(rows)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, sq_distances(rows, B))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("unit", [True, False])
def test_sparse_update_adds_like_the_dense_kernel(dtype, unit):
    rng = np.random.RandomState(6)
    batch = (rng.rand(500, 300) * (rng.rand(500, 300) < 0.1)).astype(dtype)
    centers = rng.rand(9, 300).astype(dtype)
    labels = rng.randint(0, 8, 500).astype(np.int32)  # center 8 receives nothing
    w = np.ones(500) if unit else rng.uniform(0.5, 2, 500)
    results = []
    for X in (batch, sp.csr_matrix(batch)):
        new = np.empty_like(centers)
        sums = np.arange(9, dtype=dtype)
        K.minibatch_update(X, w.astype(dtype), centers, new, sums, labels)
        results.append((new, sums))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][0][8], centers[8])
