"""CURVE authentication and encryption, per-key isolation, shutdown rights, endpoints."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bridge import errors
from bridge.auth import create_keys
from bridge.client import BridgeDisconnected, Client, RequestTimeout
from bridge.endpoints import resolve_endpoint
from bridge.launcher import ServerProcess, spawn_server

from .conftest import scaled

ROOT = Path(__file__).resolve().parents[2]
Forbidden = errors.error_class("forbidden")
X = np.random.default_rng(0).normal(size=(100, 3))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("keys")
    server_public, server_secret = create_keys(str(root / "server"), "server")
    pairs = {}
    for directory, name in [
        ("clients", "alice"),
        ("clients", "bob"),
        ("admins", "admin"),
        ("strangers", "mallory"),
    ]:
        pairs[name] = create_keys(str(root / directory), name)
    return SimpleNamespace(
        root=root, server_public=server_public, server_secret=server_secret, **pairs
    )


def curve_args(keys: SimpleNamespace) -> list[str]:
    """The flags of a CURVE server with the test keys and their clients and admins."""
    return [
        "--curve-secret-key",
        keys.server_secret,
        "--curve-authorized-keys",
        str(keys.root / "clients"),
        "--admin-keys",
        str(keys.root / "admins"),
    ]


@pytest.fixture(scope="module")
def curve_server(keys: SimpleNamespace) -> Iterator[ServerProcess]:
    args = curve_args(keys)
    with spawn_server("tcp://127.0.0.1:0", workers=2, timeout=scaled(60), extra_args=args) as s:
        yield s


def connect(server: ServerProcess, keys: SimpleNamespace, name: str, **options) -> Client:
    options.setdefault("timeout", scaled(30))
    return Client(
        server.endpoint, server_key=keys.server_public, client_key=getattr(keys, name)[1], **options
    )


def test_an_authorised_key_is_served(curve_server, keys):
    with connect(curve_server, keys, "alice") as alice:
        km = alice.init("MiniBatchKMeans", n_clusters=2, random_state=0)
        alice.call(km, "fit", X=X)
        assert alice.get(km, "cluster_centers_").shape == (2, 3)
        alice.dispose(km)


@pytest.mark.parametrize("who", ["unknown key", "wrong server key", "plaintext"])
def test_others_get_no_reply_at_all(curve_server, keys, who):
    if who == "unknown key":
        client = connect(curve_server, keys, "mallory", timeout=scaled(1))
    elif who == "wrong server key":
        client = Client(
            curve_server.endpoint,
            timeout=scaled(1),
            server_key=keys.mallory[0],  # not the server's public key
            client_key=keys.alice[1],
        )
    else:
        client = Client(curve_server.endpoint, timeout=scaled(1))
    # Nothing comes back: the call times out, or the client's heartbeat connection is
    # refused by the handshake first and it reports the server unreachable. Waiting
    # first lets the handshake fail, so the request finds no connection to queue on: its
    # send must time out too, not block.
    time.sleep(scaled(0.5))
    with client, pytest.raises((RequestTimeout, BridgeDisconnected)):
        client.ping()
    # Meanwhile the server serves its clients.
    with connect(curve_server, keys, "alice") as alice:
        assert alice.ping()["pong"]


def test_a_key_cannot_reach_another_keys_instances(curve_server, keys):
    with connect(curve_server, keys, "alice") as alice, connect(curve_server, keys, "bob") as bob:
        km = alice.init("MiniBatchKMeans", n_clusters=2, random_state=0)
        alice.call(km, "fit", X=X)
        assert km not in {entry["instance"] for entry in bob.instances()}
        for attempt in (
            lambda: bob.get(km, "cluster_centers_"),
            lambda: bob.call(km, "fit", X=X),
            lambda: bob.call(km, "predict", X=X),
            lambda: bob.save(km),
            lambda: bob.dispose(km),
        ):
            with pytest.raises(errors.UnknownInstance):
                attempt()
        # Same id, other key: a duplicate is still a duplicate (ids are server-wide).
        with pytest.raises(errors.DuplicateInstance):
            bob.init("MiniBatchKMeans", instance=km, n_clusters=2)
        # Another session of the same key shares alice's instances.
        with connect(curve_server, keys, "alice", session="alice-second") as again:
            assert km in {entry["instance"] for entry in again.instances()}
            assert again.get(km, "cluster_centers_").shape == (2, 3)
        assert alice.get(km, "n_features_in_") == 3
        alice.dispose(km)


def test_shutdown_needs_an_admin_key_or_the_token(keys):
    args = curve_args(keys)
    with spawn_server("tcp://127.0.0.1:0", workers=1, timeout=scaled(60), extra_args=args) as s:
        with connect(s, keys, "bob") as bob:
            with pytest.raises(Forbidden):
                bob.shutdown()
            with pytest.raises(Forbidden):
                bob.shutdown(token="a guess")
            assert bob.ping()["pong"]
        with connect(s, keys, "admin") as admin:
            admin.shutdown()
        assert s.process.wait(scaled(30)) == 0
    with spawn_server("tcp://127.0.0.1:0", workers=1, timeout=scaled(60), extra_args=args) as s:
        with connect(s, keys, "bob") as bob:
            bob.shutdown(token=s.shutdown_token)
        assert s.process.wait(scaled(30)) == 0


def test_without_curve_the_launcher_token_guards_shutdown():
    with spawn_server(workers=1, timeout=scaled(60)) as server:
        with Client(server.endpoint, timeout=scaled(30)) as client:
            with pytest.raises(Forbidden):
                client.shutdown()
            client.shutdown(token=server.shutdown_token)
        assert server.process.wait(scaled(30)) == 0


def _serve(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bridge", "serve", *args],
        capture_output=True,
        env=env,
        timeout=scaled(60),
    )


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:0", "tcp://[::]:0", "ipc://@skbridge-x"])
def test_reachable_endpoints_need_keys(endpoint):
    done = _serve("--endpoint", endpoint)
    assert done.returncode == 2 and done.stdout == b""
    assert b"skbridge keys" in done.stderr and b"--insecure" in done.stderr
    with pytest.raises(ValueError, match="skbridge keys"):
        resolve_endpoint(endpoint)
    assert resolve_endpoint(endpoint, curve=True).url == endpoint
    assert resolve_endpoint(endpoint, allow_remote=True).url == endpoint


def test_half_a_curve_configuration_is_refused(keys):
    done = _serve("--curve-secret-key", keys.server_secret)
    assert done.returncode == 2 and b"go together" in done.stderr
    done = _serve(
        "--curve-secret-key", keys.server_public, "--curve-authorized-keys", str(keys.root)
    )
    assert done.returncode == 2 and b"no secret key" in done.stderr


def test_the_default_ipc_directory_is_private():
    endpoint = resolve_endpoint(None)
    try:
        assert endpoint.private_dir is not None
        assert stat.S_IMODE(os.stat(endpoint.private_dir).st_mode) == 0o700
    finally:
        endpoint.cleanup()
    with spawn_server(workers=1, timeout=scaled(60)) as server:
        directory = os.path.dirname(server.endpoint[len("ipc://") :])
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_keys_command_writes_a_pair_and_never_overwrites(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "bridge", "keys", str(tmp_path / "k"), "--name", "me"]
    done = subprocess.run(command, capture_output=True, env=env, timeout=scaled(60))
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    assert stat.S_IMODE(os.stat(written["secret"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o700
    assert Path(written["public"]).read_text().count("secret-key") == 0
    again = subprocess.run(command, capture_output=True, env=env, timeout=scaled(60))
    assert again.returncode == 1 and b"not overwriting" in again.stderr
