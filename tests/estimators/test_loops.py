"""The three mini-batch loops of ``fit`` against scikit-learn, and the bounded loop's
error bounds.

``fit`` picks a loop: dense float64 data without verbose output uses batch inertias
from the norm expansion with error bounds (``_bounded``); other dense fits with large
steps measure each step's exact inertia on a second thread while the next step runs,
undoing that step when the previous one was the last (``_overlap``); the rest run one
step after another. Each must stop at scikit-learn's step with scikit-learn's results.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as Reference
from sklearn.datasets import make_blobs

import estimators._bounded as bounded
import estimators._kernels as K
import estimators._kernels as kernels
import estimators._minibatch_kmeans as mbk
from estimators import MiniBatchKMeans, progress_callback
from estimators._stopping import EarlyStopping
from estimators._threads import STEP_SURE_CELLS, PoolTrial, single_blas_thread

from .conftest import StopFit, stop_at_step

# 80 features x 1024 rows per batch: above the size from which steps overlap.
X64, _ = make_blobs(n_samples=6000, n_features=80, centers=5, cluster_std=4.0, random_state=3)
X64 += 50.0  # far from the origin, so the norm expansion cancels digits
OPTS = dict(n_clusters=5, batch_size=1024, max_no_improvement=3, random_state=0)


class Spy:
    """Counts the calls of a module function, passing them through."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        real = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def assert_same(ours, ref):
    assert ours.n_steps_ == ref.n_steps_
    np.testing.assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-12)


@pytest.mark.parametrize("pool_faster", [True, False])
def test_pool_trial_keeps_the_faster_way(pool_faster):
    pool = object()  # only compared by identity
    trial = PoolTrial(pool)
    used = []
    step = 0
    while not trial.decided:
        use = trial.pool_for(step)
        used.append(use)
        faster = (use is pool) == pool_faster
        trial.record(step, 1.0 if faster else 2.0)
        step += 1
    # Both ways tried equally often, alternating, then the faster one kept.
    assert used.count(pool) == used.count(None) == PoolTrial.TRIALS
    assert all(a is not b for a, b in zip(used, used[1:], strict=False))
    expected = pool if pool_faster else None
    assert all(trial.pool_for(s) is expected for s in range(step, step + 4))
    assert PoolTrial(None).pool_for(1) is None and PoolTrial(None).decided


@pytest.mark.parametrize("batch", [666, 1024])
def test_ranking_in_two_parts_equals_the_whole_one(batch):
    # With one BLAS thread, as in fits, a product cut at a multiple of 256 rows equals the
    # whole product to the bit; cut in the middle of 666 rows (333) it need not.
    rng = np.random.RandomState(1)  # data where the 333-row cut changes two rows' best
    X = rng.normal(size=(3000, 32)) + 5
    cs = K.Centers(rng.normal(size=(8, 32)) + 5)
    rows = rng.randint(0, 3000, batch)
    with single_blas_thread(), ThreadPoolExecutor(2) as pool:
        _, split_labels, split_best = bounded.label_rows(X, rows, cs, np.empty((batch, 32)), pool)
    with single_blas_thread():
        _, labels, best = bounded.label_rows(X, rows, cs, np.empty((batch, 32)))
    np.testing.assert_array_equal(split_labels, labels)
    np.testing.assert_array_equal(split_best, best)


@pytest.mark.sklearn_latest
def test_large_batches_sum_centers_on_two_threads(monkeypatch):
    # 512 rows x 640 features per batch: past STEP_SURE_CELLS, so each step's center sums
    # are split between two threads by centers; every center must still add its points
    # in batch order, or the centers would drift from scikit-learn's in the last bits.
    assert 512 * 640 >= STEP_SURE_CELLS
    X, _ = make_blobs(n_samples=3000, n_features=640, centers=4, random_state=2)
    opts = dict(n_clusters=4, batch_size=512, max_no_improvement=3, random_state=0)
    spy = Spy(monkeypatch, kernels, "_csr_matvecs")
    ours = MiniBatchKMeans(**opts).fit(X)
    ref = Reference(**opts).fit(X)
    assert spy.calls > ours.n_steps_  # some steps ran the kernel twice, once per group
    assert_same(ours, ref)


@pytest.mark.sklearn_latest
@pytest.mark.parametrize(
    "dtype, extra, loop",
    [
        (np.float64, {}, "descend_bounded"),
        ("csr", {}, "descend_bounded"),
        (np.float32, {}, "descend_overlapped"),
        (np.float64, {"compute_labels": False}, "descend_overlapped"),
    ],
    ids=["bounded-f64", "bounded-csr", "overlapped-f32", "overlapped-no-labels"],
)
def test_each_loop_stops_where_sklearn_does(monkeypatch, dtype, extra, loop):
    spy = Spy(monkeypatch, mbk, loop)
    X = sp.csr_matrix(X64) if dtype == "csr" else X64.astype(dtype)
    dtype = X.dtype
    ours_rng, ref_rng = np.random.RandomState(5), np.random.RandomState(5)
    ours = MiniBatchKMeans(**{**OPTS, **extra, "random_state": ours_rng}).fit(X)
    ref = Reference(**{**OPTS, **extra, "random_state": ref_rng}).fit(X)
    assert spy.calls == 1
    # Stopped early, so the overlapped loop undid the step it had taken ahead.
    assert ours.n_steps_ < 100 * 6000 // 1024
    assert ours.n_steps_ == ref.n_steps_
    np.testing.assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_allclose(
        ours.inertia_, ref.inertia_, rtol=1e-12 if dtype == np.float64 else 1e-6
    )
    if "compute_labels" not in extra:
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
    # The generator is left where scikit-learn leaves it: nothing drawn for the undone step.
    assert ours_rng.randint(1 << 30) == ref_rng.randint(1 << 30)


@pytest.mark.sklearn_latest
def test_an_uncertain_decision_replays_the_fit_with_exact_inertias(monkeypatch):
    # An absurd unit roundoff makes every bound huge: the first comparison is uncertain.
    monkeypatch.setattr(bounded, "UNIT_ROUNDOFF", 1.0)
    replay = Spy(monkeypatch, mbk, "descend_overlapped")
    events: list[dict] = []
    with progress_callback(events.append):
        ours = MiniBatchKMeans(**OPTS).fit(X64)
    assert replay.calls == 1
    assert_same(ours, Reference(**OPTS).fit(X64))
    # Listeners see each step once, in order, although the first ones ran twice.
    assert [e["step"] for e in events] == list(range(1, ours.n_steps_ + 1))


def test_bounds_hold_against_the_exact_batch_inertias(monkeypatch):
    seen: dict[str, list] = {"bounded": [], "exact": []}
    real = EarlyStopping.should_stop
    into = seen["bounded"]

    def record(self, step, batch_inertia, center_shift, error=None):
        into.append((batch_inertia, error))
        return real(self, step, batch_inertia, center_shift, error)

    monkeypatch.setattr(EarlyStopping, "should_stop", record)
    bounded_fit = MiniBatchKMeans(**OPTS).fit(X64)
    into = seen["exact"]
    monkeypatch.setattr(MiniBatchKMeans, "_bounded_loop_applies", lambda self, dtype: False)
    exact_fit = MiniBatchKMeans(**OPTS).fit(X64)

    assert bounded_fit.n_steps_ == exact_fit.n_steps_ == len(seen["bounded"])
    for (approx, error), (exact, none) in zip(seen["bounded"], seen["exact"], strict=True):
        assert none is None
        assert abs(approx - exact) <= error
        # Tight enough to decide: far below the differences between smoothed averages.
        assert error < 1e-9 * exact
    assert any(
        approx != exact
        for (approx, _), (exact, _) in zip(seen["bounded"], seen["exact"], strict=True)
    )


def test_an_exception_from_the_hook_ends_an_overlapped_fit_cleanly():
    X = X64.astype(np.float32)
    with progress_callback(stop_at_step(3)), pytest.raises(StopFit):
        MiniBatchKMeans(**OPTS).fit(X)
    # The helper thread is free again: the next fit runs to the end.
    assert MiniBatchKMeans(**OPTS).fit(X).n_steps_ > 3


@pytest.mark.sklearn_latest
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow in both, as in sklearn
def test_huge_finite_values_are_accepted_although_their_squares_overflow():
    # The row norms double as the finiteness check; overflowing to inf must not refuse
    # finite data, which scikit-learn accepts.
    X = X64[:300] * 1e160
    ours = MiniBatchKMeans(n_clusters=3, random_state=0).fit(X)
    ref = Reference(n_clusters=3, random_state=0).fit(X)
    assert np.isfinite(ours.cluster_centers_).all()
    assert ours.n_steps_ == ref.n_steps_
