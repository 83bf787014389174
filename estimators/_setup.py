"""Set-up of a MiniBatchKMeans fit: input checks, data-dependent sizes, initial centers.

Follows scikit-learn's MiniBatchKMeans (BSD-3-Clause) where results or messages depend
on it: how n_init, init_size and the tolerance are settled, the warnings about them
(kept word for word), the draws that pick initial candidates and the choice among them.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ._distances import row_sq_norms
from ._seeding import kmeans_plusplus
from ._threads import effective_threads


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


class FitSetup:
    """Mixin for MiniBatchKMeans: everything a fit settles before its first step."""

    def _resolve_sizes(self, X) -> None:
        """Settle the options that depend on the data: _tol, _n_init, _batch_size, _init_size."""
        n_samples, k = X.shape[0], self.n_clusters
        if n_samples < k:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
        self._tol = _variance_tolerance(X, self.tol)
        self._n_parts = effective_threads()
        self._n_init = self._resolve_n_init()
        self._batch_size = min(self.batch_size, n_samples)
        self._init_size = min(self._resolve_init_size(), n_samples)

    def _resolve_n_init(self) -> int:
        explicit = _is_array_init(self.init)
        if self.n_init != "auto":
            runs = self.n_init
        elif explicit or (isinstance(self.init, str) and self.init == "k-means++"):
            runs = 1
        else:  # 'random' or a callable: cheap, noisy starts, so take the best of three
            runs = 3
        if explicit and runs != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={runs}.",
                RuntimeWarning,
                stacklevel=4,
            )
            runs = 1
        return runs

    def _resolve_init_size(self) -> int:
        k = self.n_clusters
        if self.init_size is None:
            # Three batches' worth of rows; three rows per center if that is too few.
            return 3 * self._batch_size if 3 * self._batch_size >= k else 3 * k
        if self.init_size < k:
            warnings.warn(
                f"init_size={self.init_size} should be larger than n_clusters={k}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=4,
            )
            return 3 * k
        return self.init_size

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
            centers = kmeans_plusplus(X, self.n_clusters, row_sq_norms(X), sample_weight, rng)
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

    def _validate_X(self, X, reset: bool, x_sq=None):
        """X checked and converted as scikit-learn's ``validate_data`` does. ``x_sq``:
        the row norms of X if already made, which also show that a plain X is finite."""
        if type(X) is np.ndarray and X.ndim == 2 and X.dtype in (np.float64, np.float32):
            X = np.ascontiguousarray(X)  # what check_array does with order="C"
        if self._plain_valid(X, reset, x_sq):
            if reset:
                self.n_features_in_ = X.shape[1]
                self.__dict__.pop("feature_names_in_", None)
            return X
        return validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
            reset=reset,
        )

    def _plain_valid(self, X, reset: bool, x_sq=None) -> bool:
        """True for a finite, C-ordered, non-empty 2-D float32/float64 ndarray that
        validate_data would return unchanged (its generic checks cost ~1 ms a call): the
        common case. Anything else, errors included, goes through validate_data.
        """
        if not (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in (np.float64, np.float32)
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] > 0
        ):
            return False
        if not reset and (
            getattr(self, "n_features_in_", None) != X.shape[1]
            or hasattr(self, "feature_names_in_")
        ):
            return False
        if get_config()["assume_finite"]:
            return True
        with np.errstate(over="ignore", invalid="ignore"):
            # Finite norms mean finite values (an overflowing square falls through).
            if x_sq is not None and np.isfinite(x_sq.sum()):
                return True
            return bool(np.isfinite(X.sum()))

    def _best_initial_centers(self, X, sample_weight, init, rng):
        """The best of ``_n_init`` candidate center sets, judged on one random subset."""
        judge_rows = rng.randint(0, X.shape[0], self._init_size)
        # With one candidate and nothing to print, its inertia would decide nothing.
        judged = self._n_init > 1 or self.verbose
        if judged:
            X_judge = X[judge_rows]
            w_judge = sample_weight[judge_rows]
        best, best_inertia = None, None
        for attempt in range(1, self._n_init + 1):
            if self.verbose:
                print(f"Init {attempt}/{self._n_init} with method {init}")
            candidate = self._initial_centers(X, init, rng, sample_weight)
            if not judged:
                return candidate
            _, inertia = self._labels_inertia(X_judge, w_judge, candidate)
            if self.verbose:
                print(f"Inertia for init {attempt}/{self._n_init}: {inertia}")
            if best is None or inertia < best_inertia:
                best, best_inertia = candidate, inertia
        return best
