"""The estimator classes this server offers, each paired with its wire contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from estimators import MiniBatchKMeans
from schemas import MINIBATCH_KMEANS, ClassContract

__all__ = ["CLASSES", "Offered"]

# Methods that (re)build a MiniBatchKMeans's fitted state.
_FITTING = frozenset({"fit", "partial_fit", "fit_predict", "fit_transform"})


class Offered(NamedTuple):
    cls: type[Any]
    contract: ClassContract
    # (estimator, method, validated kwargs) -> bytes the call will allocate beyond its
    # input, so a call that cannot fit in the memory budget is refused before it starts.
    working_bytes: Callable[[Any, str, dict[str, Any]], int] | None = None


def _kmeans_working_bytes(estimator: Any, method: str, kwargs: dict[str, Any]) -> int:
    """An upper estimate of what a MiniBatchKMeans call allocates.

    Fitting holds a few k x n_features float arrays (centers, their previous values,
    candidates of the initialisation, distances of a batch to every center): measured
    at about five times the centers for a wide sparse fit, the worst case; every call
    over X holds per-row labels and distances, and a dense float copy of X when X is not
    already a C-ordered float array.
    """
    X = kwargs.get("X")
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        return 0
    n_samples, n_features = int(shape[0]), int(shape[1])
    dtype = getattr(X, "dtype", None)
    itemsize = 4 if str(dtype) == "float32" else 8
    total = n_samples * (4 + 8)
    if method in _FITTING:
        total += 5 * int(estimator.n_clusters) * n_features * itemsize
    if not hasattr(X, "nnz"):
        flags = getattr(X, "flags", None)
        if (
            dtype is None
            or str(dtype) not in ("float32", "float64")
            or not (flags is not None and flags.c_contiguous)
        ):
            total += n_samples * n_features * itemsize
    return total


# Wire class name -> implementation and contract. Only names listed here can be created.
CLASSES: dict[str, Offered] = {
    MINIBATCH_KMEANS.name: Offered(MiniBatchKMeans, MINIBATCH_KMEANS, _kmeans_working_bytes),
}
