import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs


@pytest.fixture(scope="session")
def blobs():
    """Well-separated clusters: 3000 x 5, 6 centers, float64."""
    X, _ = make_blobs(n_samples=3000, n_features=5, centers=6, cluster_std=1.5, random_state=7)
    return X


def as_input(X, dtype, container):
    """The same data in the requested dtype and container (dense array or CSR)."""
    X = X.astype(dtype)
    if container == "csr":
        # Zero out a share of entries so the sparse path really sees sparse rows.
        X = X * (np.random.RandomState(0).rand(*X.shape) > 0.3)
        return sp.csr_matrix(X)
    return X


class StopFit(Exception):
    """Raised by ``stop_at_step``'s hook."""


def stop_at_step(step: int):
    """A progress hook that raises ``StopFit`` at ``step``, as a cancel would."""

    def hook(event: dict) -> None:
        if event["step"] == step:
            raise StopFit

    return hook
