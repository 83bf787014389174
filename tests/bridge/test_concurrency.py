"""Liveness and ordering: ping during a fit, per-instance FIFO, parallel instances,
pipelining and many clients. Ordering is asserted by which reply arrives first, never by
wall-clock thresholds."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bridge.client import Client
from bridge.errors import UnknownInstance
from estimators import MiniBatchKMeans

from .conftest import scaled


def blobs(seed: int, n: int = 400, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(3, d))
    return centers[rng.integers(0, 3, n)] + rng.normal(size=(n, d))


# A fit that runs every step: no early stopping, many passes over a large array.
SLOW = {
    "n_clusters": 8,
    "random_state": 0,
    "batch_size": 256,
    "max_iter": 20,
    "max_no_improvement": None,
    "tol": 0.0,
}


def test_ping_is_answered_while_a_fit_runs(ipc_client):
    X = np.random.default_rng(0).normal(size=(20_000, 16))
    km = ipc_client.init("MiniBatchKMeans", **SLOW)
    fit_id = ipc_client.submit("call", instance=km, method="fit", params={"X": X})
    ping_ids = [ipc_client.submit("ping") for _ in range(3)]
    arrivals = [ipc_client.next_completed() for _ in range(4)]
    assert arrivals == [*ping_ids, fit_id]
    assert ipc_client.result(fit_id) == {"instance": km}


def test_calls_on_one_instance_run_in_order_and_get_waits(ipc_client):
    km = ipc_client.init("MiniBatchKMeans", n_clusters=3, random_state=1, batch_size=50)
    batches = [blobs(seed) for seed in range(5)]
    ids = [
        ipc_client.submit("call", instance=km, method="partial_fit", params={"X": b})
        for b in batches
    ]
    get_id = ipc_client.submit("get", instance=km, attribute="cluster_centers_")
    dispose_id = ipc_client.submit("dispose", instance=km)
    late_id = ipc_client.submit("get", instance=km, attribute="n_steps_")
    # The dispose removed the id at once, so the request after it fails ...
    with pytest.raises(UnknownInstance):
        ipc_client.result(late_id)
    # ... while everything queued before it still ran, in order.
    est = MiniBatchKMeans(n_clusters=3, random_state=1, batch_size=50)
    for b in batches:
        est.partial_fit(b)
    assert np.array_equal(ipc_client.result(get_id), est.cluster_centers_)
    for rid in ids:
        assert ipc_client.result(rid) == {"instance": km}
    assert ipc_client.result(dispose_id) == {"instance": km}


def test_different_instances_run_concurrently(ipc_client):
    """A quick call on instance B completes while a long fit on A is still running."""
    X = np.random.default_rng(1).normal(size=(20_000, 16))
    slow = ipc_client.init("MiniBatchKMeans", **SLOW)
    quick = ipc_client.init("MiniBatchKMeans", n_clusters=2, random_state=0)
    slow_id = ipc_client.submit("call", instance=slow, method="fit", params={"X": X})
    quick_id = ipc_client.submit("call", instance=quick, method="fit", params={"X": blobs(3)})
    assert ipc_client.next_completed() == quick_id
    assert ipc_client.next_completed() == slow_id
    ipc_client.result(quick_id)
    ipc_client.result(slow_id)


def test_two_clients_get_their_own_results(server):
    data = {name: blobs(seed, n=3000, d=6) for seed, name in enumerate(["a", "b"])}
    results: dict[str, tuple] = {}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with Client(server.endpoint, timeout=scaled(60)) as client:
                km = client.init("MiniBatchKMeans", n_clusters=3, random_state=7)
                labels = client.call(km, "fit_predict", X=data[name])
                centers = client.get(km, "cluster_centers_")
                client.dispose(km)
                results[name] = (labels, centers)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in data]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(scaled(120))
    assert not failures, failures
    for name, X in data.items():
        est = MiniBatchKMeans(n_clusters=3, random_state=7)
        labels = est.fit_predict(X)
        assert np.array_equal(results[name][0], labels)
        assert np.array_equal(results[name][1], est.cluster_centers_)


def test_pipelined_requests_match_by_id(client):
    X = blobs(11)
    instances = [client.init("MiniBatchKMeans", n_clusters=3, random_state=i) for i in range(4)]
    fit_ids = [
        client.submit("call", instance=km, method="fit", params={"X": X}) for km in instances
    ]
    predict_ids = [
        client.submit("call", instance=km, method="predict", params={"X": X}) for km in instances
    ]
    ping_id = client.submit("ping")
    # Collect in reverse order: the client parks replies until they are asked for.
    for i in reversed(range(4)):
        expected = MiniBatchKMeans(n_clusters=3, random_state=i).fit(X).predict(X)
        assert np.array_equal(client.result(predict_ids[i]), expected)
    assert client.result(ping_id)["pong"]
    for rid, km in zip(fit_ids, instances, strict=True):
        assert client.result(rid) == {"instance": km}
        client.dispose(km)


def test_many_clients(ipc_server):
    clients = [Client(ipc_server.endpoint, timeout=scaled(60)) for _ in range(12)]
    try:
        X = blobs(5)
        ids = []
        for i, client in enumerate(clients):
            km = client.init("MiniBatchKMeans", n_clusters=2, random_state=i)
            ids.append(
                (
                    client,
                    km,
                    client.submit("call", instance=km, method="fit_predict", params={"X": X}),
                )
            )
        for i, (client, km, rid) in enumerate(ids):
            expected = MiniBatchKMeans(n_clusters=2, random_state=i).fit_predict(X)
            assert np.array_equal(client.result(rid), expected)
            client.dispose(km)
    finally:
        for client in clients:
            client.close()


def test_client_rejects_concurrent_use_from_two_threads(ipc_server):
    with Client(ipc_server.endpoint, timeout=scaled(30)) as client:
        client._guard.acquire()  # simulate another thread inside a call
        try:
            with pytest.raises(RuntimeError, match="one Client per thread"):
                client.ping()
        finally:
            client._guard.release()
        assert client.ping()["pong"]
