"""MiniBatchKMeans written in NumPy, a drop-in for ``sklearn.cluster.MiniBatchKMeans``.

Follows scikit-learn's MiniBatchKMeans (BSD-3-Clause) step by step where results depend
on it: the order in which the random state is consumed, how n_init, init_size and the
batch size are settled, the choice among initial candidates, the rule that moves
under-used centers onto random batch points (reassignment), and the warning and verbose
texts, kept word for word. That makes results match scikit-learn's for the same integer
``random_state``. Options are checked by ``_params``; input checks, sizes and initial
centers are settled in ``_setup``; the numerical work is in ``_kernels``. The speed comes from
sampling batches in O(batch) instead of O(n) (``_sampling``) and from doing each step
with a handful of vectorised calls.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _kernels as K
from ._bounded import descend_bounded
from ._distances import row_sq_norms, sq_distances
from ._kmeans_io import KMeansIO
from ._overlap import descend_overlapped
from ._params import (
    ARRAY_LIKE,
    BOOLEAN,
    CALLABLE,
    NONE,
    RANDOM_STATE,
    VERBOSE,
    Interval,
    OneOf,
    check_params,
    check_sample_weight,
)
from ._progress import Reporter
from ._sampling import BatchSampler
from ._setup import FitSetup
from ._stopping import EarlyStopping, UncertainStop
from ._threads import block_pool, single_blas_thread, step_pool

# Rows below which a whole-data pass runs on the calling thread (thread hand-off costs more).
PARALLEL_MIN_ROWS = 20_000


class MiniBatchKMeans(
    KMeansIO,
    FitSetup,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
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
        "n_clusters": [Interval(Integral, 1, None, "left")],
        "init": [OneOf({"k-means++", "random"}), CALLABLE, ARRAY_LIKE],
        "n_init": [OneOf({"auto"}), Interval(Integral, 1, None, "left")],
        "max_iter": [Interval(Integral, 1, None, "left")],
        "tol": [Interval(Real, 0, None, "left")],
        "verbose": [VERBOSE],
        "random_state": [RANDOM_STATE],
        "batch_size": [Interval(Integral, 1, None, "left")],
        "compute_labels": [BOOLEAN],
        "max_no_improvement": [Interval(Integral, 0, None, "left"), NONE],
        "init_size": [Interval(Integral, 1, None, "left"), NONE],
        "reassignment_ratio": [Interval(Real, 0, None, "left")],
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

    # ---------------------------------------------------------------- the mini-batch step

    def _step(self, X, sample_weight, centers, centers_new, rng, unit_weight=False) -> float:
        """One mini-batch update on the batch X; returns the batch inertia measured
        before the update. ``unit_weight`` says every weight is 1 (no multiplying by it).
        """
        # Decided before the update, on the counts as they stand (empty centers included).
        reassign = self._due_for_reassignment()
        cs = K.Centers(centers)
        labels = K.assign(X, cs)
        terms = K.sq_dist_to_assigned(X, cs, labels)
        K.minibatch_update(X, sample_weight, centers, centers_new, self._center_weight, labels)
        if reassign and self.reassignment_ratio > 0:
            self._reassign(X, centers_new, rng)
        if not unit_weight:
            terms *= sample_weight
        return K.ordered_sum(terms, self._n_parts)

    def _dense_step(self, X, rows, ones, centers, centers_new, rng) -> float:
        """``_step`` on the batch ``X[rows]`` of a dense X, without gathering it whole:
        the batch is labelled and measured in cached row groups (``label_batch``) and
        the update reads its rows from X. Unit weights; the same result as ``_step``.
        """
        reassign = self._due_for_reassignment()
        cs = K.Centers(centers)
        labels, terms = K.label_batch(X, rows, cs)
        K.minibatch_update(X, ones, centers, centers_new, self._center_weight, labels, rows=rows)
        if reassign and self.reassignment_ratio > 0:
            self._reassign(X, centers_new, rng, rows)
        return K.ordered_sum(terms, self._n_parts)

    def _apply_batch(self, batch, ones, centers, centers_new, labels, reassign, rng, pool=None):
        """The update, and the reassignment when due, of a labelled unit-weight batch;
        returns the squared center shift (0 without ``tol``). ``pool``: see
        ``minibatch_update``."""
        K.minibatch_update(
            batch, ones, centers, centers_new, self._center_weight, labels, pool=pool
        )
        if reassign and self.reassignment_ratio > 0:
            self._reassign(batch, centers_new, rng)
        return np.sum((centers_new - centers) ** 2) if self._tol > 0.0 else 0

    def _reset_center_weights(self, dtype) -> None:
        self._center_weight = np.zeros(self.n_clusters, dtype=dtype)  # weight seen per center
        self._since_reassign = 0  # samples processed since the last reassignment check

    def _due_for_reassignment(self) -> bool:
        """Reassign after every 10 * n_clusters samples, or at once if a center is empty."""
        self._since_reassign += self._batch_size
        due = self._since_reassign >= 10 * self.n_clusters or not self._center_weight.all()
        if due:
            self._since_reassign = 0
        return due

    def _reassign(self, X, centers_new, rng, rows=None) -> None:
        """Move centers with too little accumulated weight onto random batch points.

        The batch is X, or ``X[rows]`` when ``rows`` is given.
        """
        counts = self._center_weight
        batch = X.shape[0] if rows is None else rows.shape[0]
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
            picked = X[chosen] if rows is None else X.take(rows[chosen], axis=0)
            centers_new[lonely] = picked.toarray() if sp.issparse(picked) else picked
        # Not reset to zero, or they would be reassigned again at once.
        counts[lonely] = counts[~lonely].min()

    def _validate_params(self) -> None:
        """Check the options against ``_parameter_constraints`` with our own checker
        (scikit-learn's private one does not know our constraint types)."""
        check_params(self, self._parameter_constraints)

    # ----------------------------------------------------------------------- public API

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
        self._validate_params()
        x_sq = self._plain_row_norms(X)
        X = self._validate_X(X, reset=True, x_sq=x_sq)
        self._resolve_sizes(X)
        rng = check_random_state(self.random_state)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        # One BLAS thread throughout: the products are small or split into blocks by us,
        # and BLAS threads left spinning after a call slow down whatever runs next
        # (measured: a scikit-learn fit run right after ours took 1.5-2x longer).
        with single_blas_thread():
            centers = self._best_initial_centers(X, sample_weight, self._checked_init(X), rng)
            self._reset_center_weights(X.dtype)
            # Row norms for the bounded loop and the final labelling pass, made once.
            if x_sq is None and self._bounded_loop_applies(X.dtype):
                x_sq = self._row_norms(X)
            centers, steps, stopper = self._descend(X, sample_weight, centers, rng, x_sq)

        n_samples = X.shape[0]
        self.cluster_centers_ = centers
        self._n_features_out = self.n_clusters
        self.n_steps_ = steps
        self.n_iter_ = int(np.ceil(steps * self._batch_size / n_samples))
        if self.compute_labels:
            self.labels_, self.inertia_ = self._labels_inertia(
                X, sample_weight, centers, expansion=True, x_sq=x_sq
            )
        else:
            # No labelling pass: report the smoothed mean batch inertia, scaled to the
            # data. A one-step fit has no smoothed value yet; scikit-learn then fails with
            # a TypeError, we report that single step's mean instead.
            mean = stopper.smoothed if stopper.smoothed is not None else stopper.first_mean
            self.inertia_ = mean * np.sum(sample_weight)
        return self

    def _bounded_loop_applies(self, dtype) -> bool:
        """Whether ``fit`` may use the loop with bounded approximate inertias: float64
        data, and no output that shows the exact batch inertias (verbose lines,
        ``inertia_`` from the smoothed inertia when labels are not computed)."""
        return dtype == np.float64 and not self.verbose and self.compute_labels

    def _plain_row_norms(self, X):
        """Row norms of a plain C-ordered float64 array that the bounded loop will use,
        made before validation so that they double as its finiteness check (one pass
        over X instead of two); None for other input."""
        plain = (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == np.float64
            and X.flags.c_contiguous
            and X.size > 0
        )
        return self._row_norms(X) if plain and self._bounded_loop_applies(X.dtype) else None

    @staticmethod
    def _row_norms(X):
        return row_sq_norms(X, block_pool() if X.shape[0] >= PARALLEL_MIN_ROWS else None)

    def _descend(self, X, sample_weight, centers, rng, x_sq=None):
        """The mini-batch loop; returns (centers, steps taken, the EarlyStopping used).

        With ``x_sq`` (row norms of a float64 X) the batch inertias come from the
        norm expansion with error bounds (``_bounded``); a stopping decision the bounds
        cannot settle sends the fit back to its start, to run with exact inertias.
        """
        n_samples = X.shape[0]
        batch_size = self._batch_size
        n_steps = (self.max_iter * n_samples) // batch_size
        sampler = BatchSampler(sample_weight / np.sum(sample_weight))
        reporter = Reporter(n_steps, batch_size / n_samples)
        dense = not sp.issparse(X)
        pool = step_pool(batch_size, X.shape[1], self.n_clusters) if dense else None
        if x_sq is not None:
            start = centers.copy(), rng.get_state()
            stopper = self._stopper(n_steps, n_samples)
            try:
                centers, step = descend_bounded(
                    self, X, x_sq, centers, rng, sampler, stopper, reporter, n_steps, pool
                )
                return centers, step, stopper
            except UncertainStop:
                centers = start[0]
                rng.set_state(start[1])
                self._reset_center_weights(X.dtype)
                reporter.resume_after_last()
        stopper = self._stopper(n_steps, n_samples)
        # Verbose fits print while they step: no step may be taken ahead and undone.
        if pool is not None and not self.verbose:
            centers, step = descend_overlapped(
                self, X, centers, rng, sampler, stopper, reporter, n_steps, pool
            )
            return centers, step, stopper
        # Batches are drawn by weight, so each drawn row then counts once.
        ones = np.ones(batch_size, dtype=X.dtype)
        spare = np.empty_like(centers)
        step = 0
        while step < n_steps:
            rows = sampler.draw(batch_size, rng)
            if dense:
                inertia = self._dense_step(X, rows, ones, centers, spare, rng)
            else:
                inertia = self._step(X[rows], ones, centers, spare, rng, unit_weight=True)
            shift = np.sum((spare - centers) ** 2) if self._tol > 0.0 else 0
            centers, spare = spare, centers
            step += 1
            stop = stopper.should_stop(step - 1, inertia, shift)
            if reporter.active:
                reporter.step(step, inertia / batch_size, stopper.smoothed)
            if stop:
                break
        return centers, step, stopper

    def _stopper(self, n_steps: int, n_samples: int) -> EarlyStopping:
        return EarlyStopping(
            batch_size=self._batch_size,
            n_samples=n_samples,
            n_steps=n_steps,
            center_tol=self._tol,
            patience=self.max_no_improvement,
            verbose=bool(self.verbose),
        )

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
        if first_call:  # later calls keep the options the first one checked
            self._validate_params()
        X = self._validate_X(X, reset=first_call)
        if not hasattr(self, "_rng"):
            self._rng = check_random_state(self.random_state)
        rng = self._rng
        sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        self.n_steps_ = getattr(self, "n_steps_", 0)

        if first_call:
            self._resolve_sizes(X)
            self.cluster_centers_ = self._initial_centers(
                X, self._checked_init(X), rng, sample_weight
            )
            self._reset_center_weights(X.dtype)

        reporter = Reporter(1, 1.0)
        with single_blas_thread():
            inertia = self._step(
                X, sample_weight, self.cluster_centers_, self.cluster_centers_, rng
            )
        if reporter.active:
            reporter.step(1, inertia / X.shape[0], None)

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
        sq = sq_distances(X, self.cluster_centers_)
        if X is self.cluster_centers_:
            # Each center's distance to itself is exactly 0, as in scikit-learn, which
            # zeroes the diagonal when both sides are the same array; the norm expansion
            # leaves a rounding residue there.
            np.fill_diagonal(sq, 0)
        return np.sqrt(sq, out=sq)

    def score(self, X, y=None, sample_weight=None):
        """Negative inertia of X under the fitted centers (higher is better)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        _, inertia = self._labels_inertia(X, sample_weight, self.cluster_centers_)
        return -inertia

    def _labels_inertia(
        self, X, sample_weight, centers, return_inertia=True, expansion=False, x_sq=None
    ):
        """Whole-data labels and inertia, blocks in parallel with one BLAS thread each.

        ``expansion`` trades the last bit of the inertia for speed (see the kernel); used
        for the final pass of ``fit``, whose inertia steers nothing.
        """
        pool = block_pool() if X.shape[0] >= PARALLEL_MIN_ROWS else None
        # One BLAS thread per block, and also without blocks (see fit).
        with single_blas_thread():
            return K.labels_inertia(
                X,
                sample_weight,
                centers,
                return_inertia,
                n_parts=self._n_parts,
                pool=pool,
                expansion=expansion,
                x_sq=x_sq,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
