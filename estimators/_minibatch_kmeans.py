"""MiniBatchKMeans written in NumPy, a drop-in for ``sklearn.cluster.MiniBatchKMeans``.

The estimator validates input and options with scikit-learn's own utilities (so errors and
warnings read the same), then runs the kernels in ``_kernels``. It consumes the random
state in scikit-learn's order, which makes results match for the same integer
``random_state``; the speed comes from sampling batches in O(batch log n) instead of O(n),
and from doing the per-step work with a handful of vectorised calls.
"""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _kernels as K
from ._threads import block_pool, effective_threads, single_blas_thread

# Multiply-adds per step (batch x features x clusters) above which BLAS may use threads.
HEAVY_STEP_FLOPS = 1 << 21

# Rows below which a whole-data pass runs on the calling thread (thread hand-off costs more).
PARALLEL_MIN_ROWS = 20_000


def _is_array_init(init) -> bool:
    return not isinstance(init, str) and not callable(init) and np.ndim(init) > 0


def _variance_tolerance(X, tol: float) -> float:
    """``tol`` scaled by the mean per-feature variance, as scikit-learn defines it."""
    if tol == 0:
        return 0
    if sp.issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        sq_mean = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        variances = sq_mean - mean**2
    else:
        variances = np.var(X, axis=0)
    return np.mean(variances) * tol


class MiniBatchKMeans(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Mini-batch k-means clustering.

    Same constructor, methods, attributes and results as
    ``sklearn.cluster.MiniBatchKMeans``; see its documentation for the meaning of each
    option. Fitted attributes: ``cluster_centers_``, ``labels_``, ``inertia_``,
    ``n_iter_``, ``n_steps_``, ``n_features_in_`` and ``feature_names_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import MiniBatchKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 0], [4, 4],
    ...               [4, 5], [0, 1], [2, 2], [3, 2], [5, 5], [1, -1]])
    >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, batch_size=6, max_iter=10).fit(X)
    >>> km.predict([[0, 0], [4, 4]]).tolist()
    [1, 0]
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "compute_labels": ["boolean"],
        "max_no_improvement": [Interval(Integral, 0, None, closed="left"), None],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "reassignment_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio

    # ------------------------------------------------------------------ set-up helpers

    def _resolve_sizes(self, X) -> None:
        """Derive the data-dependent settings (_tol, _n_init, _batch_size, _init_size)."""
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        self._tol = _variance_tolerance(X, self.tol)

        if self.n_init == "auto":
            if _is_array_init(self.init):
                self._n_init = 1
            else:
                self._n_init = 3 if (callable(self.init) or self.init == "random") else 1
        else:
            self._n_init = self.n_init
        if _is_array_init(self.init) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{self.__class__.__name__} instead of n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

        self._batch_size = min(self.batch_size, n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * self._batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters={self.n_clusters}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            init_size = 3 * self.n_clusters
        self._init_size = min(init_size, n_samples)

    def _check_center_shape(self, X, centers) -> None:
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of features of the data {X.shape[1]}."
            )

    def _checked_init(self, X):
        """The ``init`` option, with an explicit array converted and shape-checked."""
        init = self.init
        if _is_array_init(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._check_center_shape(X, init)
        return init

    def _initial_centers(self, X, init, rng, sample_weight):
        """One candidate set of initial centers, drawn from an ``_init_size`` subset of X."""
        n_samples = X.shape[0]
        if self._init_size < n_samples:
            picked = rng.randint(0, n_samples, self._init_size)
            X = X[picked]
            sample_weight = sample_weight[picked]
            n_samples = X.shape[0]
        if isinstance(init, str) and init == "k-means++":
            centers = K.kmeans_plusplus(X, self.n_clusters, K.row_sq_norms(X), sample_weight, rng)
        elif isinstance(init, str) and init == "random":
            seeds = rng.choice(
                n_samples,
                size=self.n_clusters,
                replace=False,
                p=sample_weight / sample_weight.sum(),
            )
            centers = X[seeds]
        elif callable(init):
            centers = init(X, self.n_clusters, random_state=rng)
            centers = check_array(centers, dtype=X.dtype, copy=False, order="C")
            self._check_center_shape(X, centers)
        else:
            centers = init
        if sp.issparse(centers):
            centers = centers.toarray()
        return np.ascontiguousarray(centers)

    def _validate_X(self, X, reset: bool):
        return validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
            reset=reset,
        )

    # ---------------------------------------------------------------- the mini-batch step

    def _step(
        self, X, sample_weight, centers, centers_new, rng, scratch=False, unit_weight=False
    ) -> float:
        """One mini-batch update; returns the batch inertia measured before the update.

        With ``scratch`` the dense batch X belongs to the caller's loop and may be
        overwritten; ``unit_weight`` says every weight is 1 (multiplying by it is skipped).
        """
        # Decided before the update, on the counts as they stand (empty centers included).
        reassign = self._due_for_reassignment()
        cs = K.Centers(centers)
        labels = K.assign(X, cs)
        # In place only when the old centers survive the update (centers_new is apart).
        in_place = scratch and centers_new is not centers
        if not in_place:
            terms = K.sq_dist_to_assigned(X, cs, labels)
        K.minibatch_update(X, sample_weight, centers, centers_new, self._counts, labels)
        if reassign and self.reassignment_ratio > 0:
            self._reassign(X, centers_new, rng)
        if in_place:
            # The batch is not needed any more: measure the inertia in its rows.
            terms = K.sq_dist_to_assigned(X, cs, labels, overwrite=True)
        if not unit_weight:
            terms *= sample_weight
        return K.ordered_sum(terms, self._n_parts)

    def _due_for_reassignment(self) -> bool:
        """Reassign after every 10 * n_clusters samples, or at once if a center is empty."""
        self._n_since_last_reassign += self._batch_size
        if (self._counts == 0).any() or self._n_since_last_reassign >= 10 * self.n_clusters:
            self._n_since_last_reassign = 0
            return True
        return False

    def _reassign(self, X, centers_new, rng) -> None:
        """Move centers with too little accumulated weight onto random batch points."""
        counts = self._counts
        batch = X.shape[0]
        lonely = counts < self.reassignment_ratio * counts.max()
        n_moves = np.count_nonzero(lonely)
        if not n_moves:
            return
        # Reassign at most half a batch worth of centers, keeping the heaviest ones.
        if n_moves > 0.5 * batch:
            lonely[counts.argsort()[int(0.5 * batch) :]] = False
            n_moves = np.count_nonzero(lonely)
        if n_moves:
            chosen = rng.choice(batch, replace=False, size=n_moves)
            if self.verbose:
                print(f"[MiniBatchKMeans] Reassigning {n_moves} cluster centers.")
            rows = X[chosen]
            centers_new[lonely] = rows.toarray() if sp.issparse(rows) else rows
        # Not reset to zero, or they would be reassigned again at once.
        counts[lonely] = counts[~lonely].min()

    def _converged(self, step, n_steps, n_samples, centers_sq_diff, batch_inertia) -> bool:
        """Early stopping on small center moves (tol) or a stalled smoothed inertia."""
        batch_inertia /= self._batch_size
        step += 1
        # The first batch measures the initial centers, not progress: skip it.
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        if self._ewa_inertia is None:
            self._ewa_inertia = batch_inertia
        else:
            alpha = min(self._batch_size * 2.0 / (n_samples + 1), 1)
            self._ewa_inertia = self._ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.verbose:
            print(
                f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                f"{batch_inertia}, ewa inertia: {self._ewa_inertia}"
            )
        if self._tol > 0.0 and centers_sq_diff <= self._tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self._ewa_inertia_min is None or self._ewa_inertia < self._ewa_inertia_min:
            self._no_improvement = 0
            self._ewa_inertia_min = self._ewa_inertia
        else:
            self._no_improvement += 1
        if self.max_no_improvement is not None and self._no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False

    # ----------------------------------------------------------------------- public API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute cluster centers from mini-batches drawn from X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 is kept as float32, other types become float64.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights; batches are drawn with probability proportional to them.

        Returns
        -------
        self : MiniBatchKMeans
        """
        X = self._validate_X(X, reset=True)
        self._resolve_sizes(X)
        self._n_parts = effective_threads()
        rng = check_random_state(self.random_state)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        n_samples = X.shape[0]
        init = self._checked_init(X)

        # A fixed validation subset judges the n_init candidate initialisations.
        valid_idx = rng.randint(0, n_samples, self._init_size)
        X_valid = X[valid_idx]
        w_valid = sample_weight[valid_idx]

        best_inertia = None
        for attempt in range(self._n_init):
            if self.verbose:
                print(f"Init {attempt + 1}/{self._n_init} with method {init}")
            candidate = self._initial_centers(X, init, rng, sample_weight)
            _, inertia = self._labels_inertia(X_valid, w_valid, candidate)
            if self.verbose:
                print(f"Inertia for init {attempt + 1}/{self._n_init}: {inertia}")
            if best_inertia is None or inertia < best_inertia:
                centers, best_inertia = candidate, inertia
        centers_new = np.empty_like(centers)

        self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
        self._ewa_inertia = None
        self._ewa_inertia_min = None
        self._no_improvement = 0
        self._n_since_last_reassign = 0

        total_weight = np.sum(sample_weight)
        n_steps = (self.max_iter * n_samples) // self._batch_size
        sampler = K.BatchSampler(sample_weight / total_weight)
        # Batches are drawn by weight, so each drawn row counts once.
        batch_size = self._batch_size
        unit_weight = np.ones(batch_size, dtype=X.dtype)
        dense = not sp.issparse(X)

        # Per-step products only pay for BLAS threads when they are large.
        heavy = batch_size * X.shape[1] * self.n_clusters >= HEAVY_STEP_FLOPS
        with contextlib.nullcontext() if heavy else single_blas_thread():
            for i in range(n_steps):
                idx = sampler.draw(batch_size, rng)
                # take() without out=: numpy's out= path is several times slower.
                batch = X.take(idx, axis=0) if dense else X[idx]
                batch_inertia = self._step(
                    batch, unit_weight, centers, centers_new, rng, scratch=dense, unit_weight=True
                )
                if self._tol > 0.0:
                    centers_sq_diff = np.sum((centers_new - centers) ** 2)
                else:
                    centers_sq_diff = 0
                centers, centers_new = centers_new, centers
                if self._converged(i, n_steps, n_samples, centers_sq_diff, batch_inertia):
                    break

        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.n_steps_ = i + 1
        self.n_iter_ = int(np.ceil(((i + 1) * self._batch_size) / n_samples))
        if self.compute_labels:
            self.labels_, self.inertia_ = self._labels_inertia(
                X, sample_weight, centers, expansion=True
            )
        else:
            self.inertia_ = self._ewa_inertia * total_weight
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centers with one mini-batch X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One batch of training data.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of this batch.

        Returns
        -------
        self : MiniBatchKMeans
        """
        first_call = not hasattr(self, "cluster_centers_")
        X = self._validate_X(X, reset=first_call)
        if not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        rng = self._random_state
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        self.n_steps_ = getattr(self, "n_steps_", 0)

        if first_call:
            self._resolve_sizes(X)
            self._n_parts = effective_threads()
            init = self._checked_init(X)
            self.cluster_centers_ = self._initial_centers(X, init, rng, sample_weight)
            self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
            self._n_since_last_reassign = 0

        centers = self.cluster_centers_
        self._step(X, sample_weight, centers, centers, rng)

        if self.compute_labels:
            self.labels_, self.inertia_ = self._labels_inertia(
                X, sample_weight, self.cluster_centers_
            )
        self.n_steps_ += 1
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit on X, then return the cluster index of each sample (``labels_``)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit on X, then return the distance of each sample to each center."""
        self.fit(X, sample_weight=sample_weight)
        return self._distances(self._validate_X(X, reset=False))

    def predict(self, X):
        """Index of the nearest center for each sample of X, as int32."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        ones = np.ones(X.shape[0], dtype=X.dtype)
        return self._labels_inertia(X, ones, self.cluster_centers_, return_inertia=False)

    def transform(self, X):
        """Euclidean distance of each sample of X to each center, shape (n_samples, k)."""
        check_is_fitted(self)
        return self._distances(self._validate_X(X, reset=False))

    def _distances(self, X):
        return np.sqrt(K.sq_distances(X, self.cluster_centers_))

    def score(self, X, y=None, sample_weight=None):
        """Negative inertia of X under the fitted centers (higher is better)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        _, inertia = self._labels_inertia(X, sample_weight, self.cluster_centers_)
        return -inertia

    def _labels_inertia(self, X, sample_weight, centers, return_inertia=True, expansion=False):
        """Whole-data labels and inertia, blocks in parallel with one BLAS thread each.

        ``expansion`` trades the last bit of the inertia for speed (see the kernel); used
        for the final pass of ``fit``, whose inertia steers nothing.
        """
        pool = block_pool() if X.shape[0] >= PARALLEL_MIN_ROWS else None
        with single_blas_thread():
            return K.labels_inertia(
                X,
                sample_weight,
                centers,
                return_inertia,
                n_parts=effective_threads(),
                pool=pool,
                expansion=expansion,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
