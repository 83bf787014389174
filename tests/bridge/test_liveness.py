"""The Python client notices a dead or frozen server and reconnects after a restart."""

from __future__ import annotations

import os
import signal
import socket
import time

import numpy as np
import pytest

from bridge import errors
from bridge.client import BridgeDisconnected, Client
from bridge.launcher import spawn_server

from .conftest import scaled

X = np.random.default_rng(0).normal(size=(20_000, 8))
ENDLESS = {"max_iter": 100_000, "tol": 0.0, "max_no_improvement": None, "batch_size": 64}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_frozen_server_fails_pending_calls_within_the_heartbeat_timeout():
    with spawn_server(workers=1, timeout=scaled(60)) as server:
        client = Client(server.endpoint, timeout=None, heartbeat=0.5, heartbeat_timeout=1.5)
        try:
            km = client.init("MiniBatchKMeans", n_clusters=3, **ENDLESS)
            rid = client.submit_call(km, "fit", X=X)
            os.kill(server.pid, signal.SIGSTOP)
            t0 = time.monotonic()
            try:
                with pytest.raises(BridgeDisconnected):
                    client.result(rid)  # no timeout of its own: only liveness ends it
                took = time.monotonic() - t0
                print(f"frozen server noticed after {took:.2f} s (heartbeat timeout 1.5 s)")
                assert took < scaled(10)
            finally:
                os.kill(server.pid, signal.SIGCONT)
        finally:
            client.close()


def test_the_same_client_works_after_the_server_restarts_on_its_endpoint():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    server = spawn_server(endpoint, workers=1, timeout=scaled(60))
    client = Client(endpoint, timeout=scaled(30), heartbeat=0.5, heartbeat_timeout=1.5)
    try:
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
        client.call(km, "fit", X=X[:500])
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait()
        server = spawn_server(endpoint, workers=1, timeout=scaled(60))
        # New calls on the same client object reach the new server...
        assert client.ping()["pong"]
        # ...which does not know the old instance...
        with pytest.raises(errors.UnknownInstance):
            client.get(km, "n_features_in_")
        # ...and serves new ones.
        km2 = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
        client.call(km2, "fit", X=X[:500])
        assert client.get(km2, "n_features_in_") == 8
    finally:
        client.close()
        server.stop()


def test_heartbeats_cost_small_calls_nothing_visible(ipc_server):
    """With heartbeats on, a quick call never looks at the monitor (it only does so on
    waits longer than the heartbeat interval) and a long wait still gets its reply."""
    with Client(ipc_server.endpoint, timeout=scaled(60), heartbeat=0.2) as client:
        for _ in range(50):
            assert client.ping()["pong"]
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0, max_iter=300)
        client.call(km, "fit", X=X)  # longer than several heartbeat intervals
        assert client.get(km, "n_steps_") > 0
        client.dispose(km)


def test_close_ends_the_watchdog_thread_at_once(ipc_server):
    """close() wakes the watchdog's poll: with a 60 s heartbeat its thread would otherwise
    sleep past close()'s 5 s join and outlive the client."""
    client = Client(ipc_server.endpoint, timeout=scaled(60), heartbeat=60)
    thread = client._watchdog._thread
    assert client.ping()["pong"]
    assert thread.is_alive()
    client.close()
    assert not thread.is_alive()
