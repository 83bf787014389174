"""Leases, reaping of vanished clients, stats, metrics and JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest

from bridge import errors
from bridge.client import Client
from bridge.launcher import ServerProcess, spawn_server

from .conftest import scaled, wait_until

LEASE = 1.0


@pytest.fixture(scope="module")
def leased() -> Iterator[ServerProcess]:
    args = ["--lease-seconds", str(LEASE), "--metrics-port", "0"]
    with spawn_server(workers=2, timeout=scaled(60), extra_args=args) as server:
        yield server


def listed(client: Client) -> set[str]:
    return {entry["instance"] for entry in client.instances()}


def test_a_silent_session_loses_its_instances(leased):
    with Client(leased.endpoint, timeout=scaled(30)) as watcher:
        reaped_before = watcher.stats()["reaped_instances"]
        silent = Client(leased.endpoint, timeout=scaled(30), renew=False)
        try:
            km = silent.init("MiniBatchKMeans", n_clusters=2)
            entry = next(e for e in watcher.instances() if e["instance"] == km)
            assert entry["owner"] == silent.session
            assert 0 < entry["lease_expires"] - time.time() <= LEASE + 0.5
            wait_until(lambda: km not in listed(watcher), 10, "the lease to expire")
            assert watcher.stats()["reaped_instances"] == reaped_before + 1
            with pytest.raises(errors.UnknownInstance):
                silent.get(km, "n_features_in_")
        finally:
            silent.close()


def test_a_live_client_keeps_its_instances_through_a_fit_longer_than_the_lease(leased):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 16))
    # Many steps on purpose: the fit must outlast the lease several times over.
    slow = {"max_iter": 200, "tol": 0.0, "max_no_improvement": None, "batch_size": 256}
    with Client(leased.endpoint, timeout=scaled(300)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **slow)
        started = time.monotonic()
        client.call(km, "fit", X=X)
        took = time.monotonic() - started
        assert took > 2 * LEASE, f"the fit took {took:.2f} s; make it longer for this test"
        # Idle for longer than the lease too: the background renewal keeps it.
        time.sleep(2 * LEASE)
        assert km in listed(client)
        assert client.get(km, "n_steps_") == 200 * 20_000 // 256 + (20_000 * 200 % 256 > 0)
        client.dispose(km)


_VICTIM = textwrap.dedent(
    """
    import sys
    import numpy as np
    from bridge.client import Client
    client = Client(sys.argv[1], timeout=120)
    X = np.random.default_rng(0).normal(size=(2_000, 8))
    ids = []
    for i in range(int(sys.argv[2])):
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=i)
        client.call(km, "fit", X=X)
        ids.append(km)
    slow = client.init("MiniBatchKMeans", n_clusters=3, max_iter=100000, tol=0.0,
                       max_no_improvement=None, batch_size=64)
    client.submit("call", instance=slow, method="fit", params={"X": X})
    print(" ".join(ids + [slow]), flush=True)
    import time
    time.sleep(600)
    """
)


def test_a_client_killed_mid_fit_is_reaped_and_others_are_served(leased):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    victim = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, leased.endpoint, "100"],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert victim.stdout is not None
        ids = victim.stdout.readline().decode().split()
        assert len(ids) == 101
        with Client(leased.endpoint, timeout=scaled(30)) as other:
            assert set(ids) <= listed(other)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = time.monotonic()
            # Served while the dead client's fit still runs and after.
            km = other.init("MiniBatchKMeans", n_clusters=2, random_state=0)
            other.call(km, "fit", X=np.random.default_rng(1).normal(size=(500, 4)))
            wait_until(lambda: not set(ids) & listed(other), 15, "the reaping")
            print(f"reaped {len(ids)} instances {time.monotonic() - killed:.2f} s after SIGKILL")
            assert other.get(km, "n_features_in_") == 4
            other.dispose(km)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_stats_and_prometheus_metrics(leased):
    with Client(leased.endpoint, timeout=scaled(30)) as client:
        before = client.stats()
        client.ping()
        with pytest.raises(errors.UnknownInstance):
            client.get("nobody", "n_iter_")
        after = client.stats()
        assert after["requests"]["ping"] == before["requests"].get("ping", 0) + 1
        unknown = after["errors"].get("unknown_instance", 0)
        assert unknown == before["errors"].get("unknown_instance", 0) + 1
        assert after["latency_seconds"]["p50"] > 0
        for gauge in ("instances", "sessions", "bytes_held", "jobs_queued", "jobs_running"):
            assert isinstance(after[gauge], int)
    url = leased.ready["metrics"]
    assert url.startswith("http://127.0.0.1:")
    text = urllib.request.urlopen(url, timeout=scaled(10)).read().decode()
    assert 'skbridge_requests_total{op="ping"}' in text
    assert 'skbridge_errors_total{code="unknown_instance"}' in text
    assert "skbridge_request_latency_seconds_bucket" in text
    assert "skbridge_bytes_held" in text


def test_json_logs(tmp_path):
    log = tmp_path / "server.log"
    with open(log, "wb") as stderr:
        server = spawn_server(
            workers=1, timeout=scaled(60), stderr=stderr, extra_args=["--log-format", "json"]
        )
        with server, Client(server.endpoint, timeout=scaled(30)) as client:
            client.ping()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    assert any("serving on" in entry["message"] for entry in lines)
