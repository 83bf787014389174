"""Starting and stopping servers: ready line, endpoints, signals, the shutdown op."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.client import Client
from bridge.endpoints import resolve_endpoint
from bridge.launcher import spawn_server

from .conftest import scaled

ROOT = Path(__file__).resolve().parents[2]


def ipc_dir(endpoint: str) -> Path:
    assert endpoint.startswith("ipc://")
    return Path(endpoint[len("ipc://") :]).parent


def popen(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_ready_line_and_private_ipc_directory():
    proc = popen("serve", "--workers", "1")
    try:
        ready = json.loads(proc.stdout.readline())
        assert set(ready) == {"event", "endpoint", "protocol", "pid"}
        assert ready["event"] == "ready" and ready["protocol"] == 1
        assert ready["pid"] == proc.pid
        directory = ipc_dir(ready["endpoint"])
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        with Client(ready["endpoint"], timeout=scaled(30)) as client:
            # verbose estimators print; none of it may reach stdout.
            km = client.init("MiniBatchKMeans", n_clusters=2, verbose=1, random_state=0)
            client.call(km, "fit", X=np.random.default_rng(0).normal(size=(200, 2)))
            client.shutdown()
        out, err = proc.communicate(timeout=scaled(30))
        assert proc.returncode == 0
        assert out == b""  # the ready line was the only stdout output
        assert b"shutdown requested" in err
        assert not directory.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server(signum):
    server = spawn_server(workers=1, timeout=scaled(60))
    directory = ipc_dir(server.endpoint)
    with Client(server.endpoint, timeout=scaled(30)) as client:
        assert client.ping()["pong"]
    server.process.send_signal(signum)
    assert server.process.wait(scaled(30)) == 0
    assert not directory.exists()


def test_sigterm_during_a_long_fit():
    server = spawn_server(workers=1, timeout=scaled(60))
    with Client(server.endpoint, timeout=scaled(30)) as client:
        km = client.init(
            "MiniBatchKMeans",
            n_clusters=8,
            max_iter=10_000,
            batch_size=64,
            max_no_improvement=None,
            random_state=0,
        )
        client.submit(
            "call",
            instance=km,
            method="fit",
            params={"X": np.random.default_rng(0).normal(size=(20_000, 8))},
        )
        assert client.ping()["pong"]  # the fit is queued or running
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(scaled(30)) == 0
    assert not ipc_dir(server.endpoint).exists()


def test_explicit_ipc_endpoint(tmp_path):
    path = tmp_path / "bridge.sock"
    with spawn_server(f"ipc://{path}", workers=1, timeout=scaled(60)) as server:
        assert server.endpoint == f"ipc://{path}"
        with Client(server.endpoint, timeout=scaled(30)) as client:
            assert client.ping()["pong"]
    assert not path.exists()


def test_refuses_non_loopback_without_allow_remote():
    proc = popen("serve", "--endpoint", "tcp://0.0.0.0:0")
    out, err = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 2
    assert out == b""
    assert b"--allow-remote" in err


@pytest.mark.parametrize(
    "args", [["serve", "--endpoint", "udp://x"], ["serve", "--workers", "0"], []]
)
def test_bad_command_lines(args):
    proc = popen(*args)
    out, _ = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 2
    assert out == b""


def test_console_script():
    script = Path(sys.executable).with_name("skbridge")
    if not script.exists():
        pytest.skip("skbridge is not installed in this environment (pip install -e .)")
    proc = subprocess.Popen(
        [str(script), "serve", "--endpoint", "tcp://127.0.0.1:0", "--workers", "1"],
        stdout=subprocess.PIPE,
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["endpoint"].startswith("tcp://127.0.0.1:")
        with Client(ready["endpoint"], timeout=scaled(30)) as client:
            assert client.info()["classes"] == ["MiniBatchKMeans"]
            client.shutdown()
        assert proc.wait(scaled(30)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    ("url", "allow_remote", "ok"),
    [
        ("tcp://127.0.0.1:5555", False, True),
        ("tcp://127.0.0.2:0", False, True),
        ("tcp://localhost:*", False, True),
        ("tcp://[::1]:0", False, True),
        ("tcp://0.0.0.0:5555", False, False),
        ("tcp://*:5555", False, False),
        ("tcp://192.168.1.10:5555", False, False),
        ("tcp://eth0:5555", False, False),
        ("tcp://0.0.0.0:5555", True, True),
        ("tcp://127.0.0.1:99999", False, False),
        ("tcp://127.0.0.1", False, False),
        ("ipc://", False, False),
        ("inproc://x", False, False),
    ],
)
def test_endpoint_rules(url, allow_remote, ok):
    if ok:
        assert resolve_endpoint(url, allow_remote=allow_remote).url == url
    else:
        with pytest.raises(ValueError):
            resolve_endpoint(url, allow_remote=allow_remote)


def test_private_endpoint_cleanup():
    endpoint = resolve_endpoint(None)
    directory = ipc_dir(endpoint.url)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    endpoint.cleanup()
    assert not directory.exists()
