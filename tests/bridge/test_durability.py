"""--state-dir and idempotency keys: instances survive SIGKILL, calls apply exactly once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from bridge import errors
from bridge.client import Client
from bridge.launcher import spawn_server
from estimators import MiniBatchKMeans, dump_model

from . import crash
from .conftest import in_process_server, scaled


def _spawn(tmp_path: Path, state: Path):
    return spawn_server(
        f"ipc://{tmp_path}/sock", workers=2, state_dir=str(state), timeout=scaled(60)
    )


def test_crash_kills_lose_no_acknowledged_call_and_apply_none_twice(tmp_path):
    rng = np.random.default_rng(7)
    batches = [rng.normal(size=(500, 16)) for _ in range(200)]
    report = crash.run(
        f"ipc://{tmp_path}/sock", str(tmp_path / "state"), batches, 5, seed=3, timeout=scaled(60)
    )
    print("\n".join(report.lines()))
    assert report.kills == 5
    assert report.acknowledged_lost == 0
    assert report.applied_twice == 0
    assert report.mismatches == []
    assert report.final_model_equal


def test_restart_restores_ids_owners_options_and_fitted_state(tmp_path):
    state = tmp_path / "state"
    X = np.random.default_rng(0).normal(size=(300, 4))
    server = _spawn(tmp_path, state)
    with Client(server.endpoint, timeout=scaled(30), session="owner-1", renew=False) as client:
        fitted = client.init("MiniBatchKMeans", instance="fitted", n_clusters=3, random_state=1)
        client.call(fitted, "fit", X=X)
        client.call(fitted, "set_output", transform="default")
        client.init("MiniBatchKMeans", instance="fresh", n_clusters=5, tol=0.5)
        client.init("MiniBatchKMeans", instance="gone", n_clusters=2)
        client.dispose("gone")
        centers = client.get(fitted, "cluster_centers_")
    server.process.kill()
    server.process.wait()
    assert len(list(state.glob("*.skm"))) == 2

    reference = MiniBatchKMeans(n_clusters=3, random_state=1).fit(X)
    with _spawn(tmp_path, state) as server:
        with Client(server.endpoint, timeout=scaled(30), session="owner-1") as client:
            listing = {entry["instance"]: entry for entry in client.instances()}
            assert set(listing) == {"fitted", "fresh"}
            assert listing["fitted"]["owner"] == listing["fresh"]["owner"] == "owner-1"
            assert listing["fitted"]["fitted"] and not listing["fresh"]["fitted"]
            assert np.array_equal(client.get("fitted", "cluster_centers_"), centers)
            assert np.array_equal(client.call("fitted", "transform", X=X), reference.transform(X))
            with pytest.raises(errors.UnknownInstance):
                client.get("gone", "n_features_in_")
            # Options came back too: n_clusters=5 shapes the fit of the fresh instance.
            client.call("fresh", "fit", X=X)
            assert client.get("fresh", "cluster_centers_").shape == (5, 4)


def test_unreadable_state_files_are_moved_aside_and_the_others_restored(tmp_path):
    state = tmp_path / "state"
    X = np.random.default_rng(0).normal(size=(100, 3))
    server = _spawn(tmp_path, state)
    with Client(server.endpoint, timeout=scaled(30), renew=False) as client:
        for name in ("a", "b"):
            client.call(client.init("MiniBatchKMeans", instance=name, n_clusters=2), "fit", X=X)
    server.process.kill()
    server.process.wait()
    files = sorted(state.glob("*.skm"))
    victim = files[0]
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated
    (state / "garbage.skm").write_bytes(b"PK\x03\x04 not really a zip")
    # A valid model, but not a state file: no instance id in its extra.
    (state / "foreign.skm").write_bytes(dump_model(MiniBatchKMeans(n_clusters=2)))
    (state / ".half-written.skm.1.tmp").write_bytes(b"partial")

    with _spawn(tmp_path, state) as server:
        with Client(server.endpoint, timeout=scaled(30)) as client:
            listed = [entry["instance"] for entry in client.instances()]
            assert len(listed) == 1 and listed[0] in ("a", "b")
            assert client.get(listed[0], "cluster_centers_").shape == (2, 3)
            assert client.ping()["pong"]
    rejected = sorted(path.name.split(".skm")[0] for path in (state / "rejected").iterdir())
    assert rejected == sorted([victim.stem, "foreign", "garbage"])
    assert not list(state.glob("*.tmp"))


def test_a_failed_state_write_is_reported_instead_of_success(tmp_path):
    with in_process_server(state_dir=str(tmp_path / "state")) as (server, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=2)

            def full_disk(filename: str, data: bytes) -> None:
                raise OSError(28, "No space left on device")

            server.store._replace = full_disk
            with pytest.raises(errors.ResourceExhausted, match="state directory"):
                client.call(km, "fit", X=np.random.default_rng(0).normal(size=(50, 2)))
            assert client.ping()["pong"]


def test_state_files_are_private_and_dispose_deletes_them(tmp_path):
    state = tmp_path / "state"
    with in_process_server(state_dir=str(state)) as (_, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=2)
            [path] = state.glob("*.skm")
            assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            client.dispose(km)
            assert not list(state.glob("*.skm"))


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "state-dir"])
def test_a_repeated_key_gets_the_recorded_reply(tmp_path, durable):
    options = {"state_dir": str(tmp_path / "state")} if durable else {}
    X = np.random.default_rng(0).normal(size=(200, 3))
    with in_process_server(**options) as (_, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
            assert client.call(km, "partial_fit", idempotency_key="k1", X=X) == km
            assert client.call(km, "partial_fit", idempotency_key="k1", X=X) == km
            assert client.get(km, "n_steps_") == 1
            labels = client.call(km, "fit_predict", idempotency_key="fp", X=X)
            assert np.array_equal(client.call(km, "fit_predict", idempotency_key="fp", X=X), labels)
            distances = client.call(km, "fit_transform", idempotency_key="ft", X=X)
            again = client.call(km, "fit_transform", idempotency_key="ft", X=X)
            assert np.array_equal(again, distances)
            steps = client.get(km, "n_steps_")
            client.call(km, "fit_transform", idempotency_key="ft", X=X)
            assert client.get(km, "n_steps_") == steps  # not fitted a second time
            with pytest.raises(errors.ProtocolError, match="was used for 'partial_fit'"):
                client.call(km, "fit", idempotency_key="k1", X=X)
            with pytest.raises(errors.ProtocolError, match="idempotency_key"):
                client.call(km, "partial_fit", idempotency_key="no spaces", X=X)
            # Keys are per instance: the same key on another instance is a new call.
            other = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
            client.call(other, "partial_fit", idempotency_key="k1", X=X)
            assert client.get(other, "n_steps_") == 1


def test_only_the_last_64_keys_are_remembered():
    X = np.random.default_rng(0).normal(size=(50, 2))
    with in_process_server() as (_, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=2, random_state=0)
            for i in range(65):
                client.call(km, "partial_fit", idempotency_key=f"k{i}", X=X)
            client.call(km, "partial_fit", idempotency_key="k64", X=X)  # remembered
            assert client.get(km, "n_steps_") == 65
            client.call(km, "partial_fit", idempotency_key="k0", X=X)  # forgotten: runs
            assert client.get(km, "n_steps_") == 66
