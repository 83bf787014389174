"""skbridge's own estimators, written in NumPy and usable without the bridge."""

from ._minibatch_kmeans import MiniBatchKMeans

__all__ = ["MiniBatchKMeans"]
