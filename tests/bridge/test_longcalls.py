"""Long calls: progress messages, cancellation (client, timeout, expired lease)."""

from __future__ import annotations

import time

import msgpack
import numpy as np
import pytest
import zmq

from bridge import errors
from bridge.client import Client, RequestTimeout
from bridge.launcher import spawn_server

from .conftest import scaled, wait_until

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20_000, 8))
# Thousands of steps: long enough to cancel in the middle on any machine.
ENDLESS = {"max_iter": 100_000, "tol": 0.0, "max_no_improvement": None, "batch_size": 64}


def test_progress_events_in_order_and_the_last_is_n_steps(ipc_client):
    km = ipc_client.init("MiniBatchKMeans", n_clusters=4, random_state=0, max_iter=20)
    events: list[dict] = []
    ipc_client.call(km, "fit", X=X, progress=events.append)
    steps = [event["step"] for event in events]
    assert steps and steps == sorted(set(steps)) and steps[0] == 1
    assert steps[-1] == ipc_client.get(km, "n_steps_")
    last = events[-1]
    assert last["steps"] == 20 * 20_000 // 1024
    assert set(last) == {"step", "steps", "batch_inertia", "ewa_inertia", "epoch", "elapsed"}
    assert last["ewa_inertia"] is not None and last["batch_inertia"] > 0
    assert last["epoch"] == pytest.approx(last["step"] * 1024 / 20_000)
    elapsed = [event["elapsed"] for event in events]
    assert elapsed == sorted(elapsed)
    # partial_fit reports its single step.
    single: list[dict] = []
    ipc_client.call(km, "partial_fit", X=X[:256], progress=single.append)
    assert [event["step"] for event in single] == [1] and single[0]["steps"] == 1
    ipc_client.dispose(km)


def test_no_interim_messages_without_a_callback(ipc_server):
    with Client(ipc_server.endpoint, timeout=scaled(30)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0, max_iter=5)
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(ipc_server.endpoint)
        try:
            header = {"v": 1, "id": 1, "op": "call", "instance": km, "method": "fit",
                      "session": client.session,
                      "params": {"X": {"$type": "ndarray", "frame": 0, "dtype": "float64",
                                       "shape": list(X.shape)}}}  # fmt: skip
            sock.send_multipart([msgpack.packb(header), X])
            assert sock.poll(int(scaled(60) * 1000))
            reply = msgpack.unpackb(sock.recv_multipart()[0])
            assert reply["ok"] is True
            assert not sock.poll(int(scaled(0.2) * 1000)), "an unrequested message arrived"
        finally:
            sock.close()
        client.dispose(km)


def test_cancel_a_running_fit_restores_the_instance(ipc_client):
    km = ipc_client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **ENDLESS)
    ipc_client.call(km, "partial_fit", X=X[:500])
    before = ipc_client.get(km, "cluster_centers_")
    steps_before = ipc_client.get(km, "n_steps_")
    events: list[dict] = []
    rid = ipc_client.submit_call(km, "fit", X=X, progress=events.append)
    wait_until(lambda: events or _drain(ipc_client), 30, "the fit to report progress")
    assert ipc_client.cancel(rid)["state"] == "stopping"
    t0 = time.monotonic()
    with pytest.raises(errors.Cancelled):
        ipc_client.result(rid)
    assert ipc_client.get(km, "n_steps_") == steps_before
    took = 1000 * (time.monotonic() - t0)
    print(f"cancelled fit replied and the next call ran {took:.1f} ms after the cancel")
    assert np.array_equal(ipc_client.get(km, "cluster_centers_"), before)
    assert ipc_client.stats()["jobs_running"] == 0
    ipc_client.dispose(km)


def test_cancel_reply_and_queued_call(ipc_server):
    with Client(ipc_server.endpoint, timeout=scaled(60)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **ENDLESS)
        events: list[dict] = []
        running = client.submit_call(km, "fit", X=X, progress=events.append)
        queued = client.submit_call(km, "partial_fit", X=X[:100])
        assert client.cancel(queued)["state"] == "dropped"
        with pytest.raises(errors.Cancelled):
            client.result(queued)
        # Let the running fit report once, then stop it.
        wait_until(lambda: events or _drain(client), 30, "progress")
        assert client.cancel(running)["state"] == "stopping"
        with pytest.raises(errors.Cancelled) as info:
            client.result(running)
        assert info.value.code == "cancelled"
        assert client.cancel(running)["state"] == "unknown"
        with pytest.raises(errors.NotFitted):
            client.get(km, "cluster_centers_")  # the cancelled first fit left nothing
        client.dispose(km)


def _drain(client: Client) -> bool:
    """Receive pending messages (progress callbacks run inside receives)."""
    try:
        client.next_completed(timeout=0.01)
    except RequestTimeout:
        pass
    return False


def test_timeout_cancels_the_work(ipc_client):
    km = ipc_client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **ENDLESS)
    with pytest.raises(RequestTimeout):
        ipc_client.call(km, "fit", X=X, timeout=scaled(0.3))
    # The worker is free again, so a short call on the same instance is answered.
    with pytest.raises(errors.NotFitted):
        ipc_client.get(km, "cluster_centers_")
    wait_until(lambda: ipc_client.stats()["jobs_running"] == 0, 10, "the fit to stop")
    ipc_client.dispose(km)


def test_an_expired_lease_cancels_running_work():
    with spawn_server(workers=1, timeout=scaled(60), extra_args=["--lease-seconds", "1"]) as srv:
        silent = Client(srv.endpoint, timeout=scaled(30), renew=False)
        with Client(srv.endpoint, timeout=scaled(30)) as watcher:
            km = silent.init("MiniBatchKMeans", n_clusters=4, random_state=0, **ENDLESS)
            silent.submit_call(km, "fit", X=X)
            wait_until(lambda: watcher.stats()["jobs_running"] == 1, 10, "the fit to start")
            wait_until(lambda: watcher.stats()["jobs_running"] == 0, 15, "the lease to expire")
            assert watcher.stats()["reaped_instances"] == 1
            # The only worker is free: another client's fit runs.
            mine = watcher.init("MiniBatchKMeans", n_clusters=2, random_state=0)
            watcher.call(mine, "fit", X=X[:200])
        silent.close()
