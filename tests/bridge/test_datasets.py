"""Server-resident datasets: upload once, use by handle from any instance of the session."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from bridge import errors
from bridge.client import Client
from estimators import MiniBatchKMeans

from .conftest import scaled

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3_000, 6))


@pytest.mark.parametrize("kind", ["dense", "csr", "float32", "columns"])
def test_fit_and_predict_on_a_handle_equal_sending_the_data(ipc_client, kind):
    data: object = X
    if kind == "csr":
        data = sparse.random(3_000, 40, density=0.1, format="csr", random_state=0)
    elif kind == "float32":
        data = X.astype(np.float32)
    elif kind == "columns":
        pd = pytest.importorskip("pandas")
        data = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    handle = ipc_client.dataset(data)
    listed = {d["dataset"]: d for d in ipc_client.datasets()}[handle.id]
    assert listed["owner"] == ipc_client.session and listed["nbytes"] > 0
    assert listed["kind"] == ("csr" if kind == "csr" else "ndarray")
    ours = [ipc_client.init("MiniBatchKMeans", n_clusters=k, random_state=0) for k in (3, 5)]
    for km, k in zip(ours, (3, 5), strict=True):
        ipc_client.call(km, "fit", X=handle)
        local = MiniBatchKMeans(n_clusters=k, random_state=0).fit(data)
        assert np.array_equal(ipc_client.get(km, "cluster_centers_"), local.cluster_centers_)
        assert np.array_equal(ipc_client.call(km, "predict", X=handle), local.predict(data))
        assert ipc_client.call(km, "score", X=handle) == local.score(data)
        ipc_client.dispose(km)
    ipc_client.dispose(handle)
    assert handle.id not in {d["dataset"] for d in ipc_client.datasets()}


def test_handles_belong_to_their_session(ipc_server):
    with Client(ipc_server.endpoint, timeout=scaled(30)) as owner:
        handle = owner.dataset(X)
        with Client(ipc_server.endpoint, timeout=scaled(30)) as other:
            km = other.init("MiniBatchKMeans", n_clusters=2)
            with pytest.raises(errors.UnknownInstance, match="unknown dataset"):
                other.call(km, "fit", X=handle)
            with pytest.raises(errors.UnknownInstance):
                other.dispose(handle)
            other.dispose(km)
        owner.dispose(handle)
        km = owner.init("MiniBatchKMeans", n_clusters=2)
        with pytest.raises(errors.UnknownInstance, match="unknown dataset"):
            owner.call(km, "fit", X=handle)  # released
        owner.dispose(km)


def test_bad_uploads_and_duplicates(ipc_client):
    handle = ipc_client.dataset(X, name="dup-ds")
    with pytest.raises(errors.DuplicateInstance):
        ipc_client.dataset(X, name="dup-ds")
    ipc_client.dispose(handle)
    with pytest.raises(errors.ProtocolError):
        ipc_client.request("dataset", dataset="bad", data={"no": "array"})
    bad = sparse.csr_matrix(X[:3])
    bad.indices[0] = 99  # out of range column: caught by the structure check
    with pytest.raises(errors.ProtocolError):
        ipc_client.dataset(bad, name="bad-csr")
    assert "bad-csr" not in {d["dataset"] for d in ipc_client.datasets()}
    assert ipc_client.stats()["datasets"] == len(ipc_client.datasets())


def test_a_dataset_counts_against_the_memory_limit():
    from bridge.launcher import spawn_server

    args = ["--max-memory-bytes", str(1 << 20)]
    with spawn_server(workers=1, timeout=scaled(60), extra_args=args) as server:
        with Client(server.endpoint, timeout=scaled(30)) as client:
            small = client.dataset(X[:100])
            with pytest.raises(errors.ResourceExhausted, match="max_memory_bytes"):
                client.dataset(np.zeros((1000, 200)))
            assert client.stats()["bytes_held"] == X[:100].nbytes
            client.dispose(small)
            assert client.stats()["bytes_held"] == 0
