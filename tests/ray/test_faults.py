"""Faults of the Ray backend: a killed actor is a typed ``instance_lost`` (restored from
``--state-dir`` when set), a restarted gateway finds its actors again, and all of Ray's
traffic stays on loopback. Also: the default backend never imports Ray."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import ray

from bridge.client import Client
from bridge.errors import error_class
from bridge.launcher import spawn_server
from tests.bridge.conftest import scaled, wait_until
from tests.bridge.test_methods import OPTIONS, assert_same, make_data
from tests.ray.cluster import node_pids
from tests.ray.conftest import ray_flags

pytestmark = pytest.mark.ray

InstanceLost = error_class("instance_lost")


@pytest.fixture(scope="module")
def driver(ray_cluster: Any) -> Iterator[None]:
    """This process connected to the cluster, to find and kill actors."""
    ray.init(address=ray_cluster.address, namespace="tests", logging_level="WARNING")
    yield
    ray.shutdown()


def actor_pid(instance: str) -> int:
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["name"].startswith(f"{instance}@"):
            handle = ray.get_actor(entry["name"], namespace=entry["namespace"])
            return ray.get(handle.describe.remote())["pid"]
    raise AssertionError(f"no actor for {instance}")


def test_killed_actor_is_a_typed_error(ray_client, driver):
    X = make_data("float64", "dense")
    instance = ray_client.init("MiniBatchKMeans", **OPTIONS)
    ray_client.call(instance, "fit", X=X)
    os.kill(actor_pid(instance), signal.SIGKILL)
    for _ in range(2):  # no state directory: it stays lost, every call says so
        with pytest.raises(InstanceLost, match="dispose it and create it again"):
            ray_client.call(instance, "predict", X=X)
    ray_client.dispose(instance)


def test_restore_from_state_dir_and_gateway_restart(ray_cluster, driver, tmp_path):
    X = make_data("float64", "dense")
    flags = ray_flags(ray_cluster, "--ray-namespace", "faults")
    state = str(tmp_path)
    with spawn_server(state_dir=state, timeout=scaled(120), extra_args=flags) as server:
        with Client(server.endpoint, timeout=scaled(120), session="keeper") as client:
            instance = client.init("MiniBatchKMeans", **OPTIONS)
            client.call(instance, "fit", X=X)
            expected = client.call(instance, "predict", X=X)
            pid = actor_pid(instance)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(InstanceLost, match="restored from the state directory"):
                client.call(instance, "predict", X=X)
            assert actor_pid(instance) != pid
            assert_same(client.call(instance, "predict", X=X), expected)
        # The gateway dies without a word; its actors live on.
        server.process.kill()
        server.process.wait()
    with spawn_server(state_dir=state, timeout=scaled(120), extra_args=flags) as server:
        with Client(server.endpoint, timeout=scaled(120), session="keeper") as client:
            listing = client.instances()
            assert [item["instance"] for item in listing] == [instance]
            assert listing[0]["fitted"] and listing[0]["node_ip"] == "127.0.0.1"
            assert_same(client.call(instance, "predict", X=X), expected)
            client.dispose(instance)


def _descendants(roots: set[int]) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def test_ray_traffic_stays_on_loopback(ray_cluster, ray_server, ray_client):
    ray_client.init("MiniBatchKMeans", **OPTIONS)  # an actor exists and talks
    ours = _descendants(node_pids(ray_cluster) | {ray_server.process.pid})
    lines = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True, check=True).stdout
    checked = 0
    for line in lines.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if not pids & ours:
            continue
        local, peer = line.split()[3:5]
        for address in (local, peer):
            host = address.rsplit(":", 1)[0].strip("[]")
            assert host in ("127.0.0.1", "::ffff:127.0.0.1"), line
        checked += 1
    assert checked > 0, "no connection of the cluster's processes was seen"


def test_default_backend_does_not_import_ray():
    code = (
        "import sys, bridge.cli, bridge.server, bridge.operations, bridge.registry\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lost_node_is_a_typed_error_and_a_new_node_takes_the_instance(
    ray_cluster, driver, tmp_path
):
    """A whole node goes away (its raylet and every worker on it): calls on its instance
    say ``instance_lost``; once a node that can hold it joins, the instance is restored
    there from ``--state-dir`` with its fitted state."""
    from tests.ray.cluster import LOOPBACK, OBJECT_STORE_BYTES

    X = make_data("float64", "dense")
    node_args = {"num_cpus": 1, "node_ip_address": LOOPBACK,
                 "object_store_memory": OBJECT_STORE_BYTES, "resources": {"spare": 1}}  # fmt: skip
    spare = ray_cluster.add_node(**node_args)
    flags = ray_flags(ray_cluster, "--ray-namespace", "lost", "--ray-resources", '{"spare": 0.1}')
    try:
        with spawn_server(state_dir=str(tmp_path), timeout=scaled(120), extra_args=flags) as server:
            with Client(server.endpoint, timeout=scaled(120)) as client:
                instance = client.init("MiniBatchKMeans", **OPTIONS)
                client.call(instance, "fit", X=X)
                expected = client.call(instance, "predict", X=X)
                [listed] = client.instances()
                assert listed["node"] == spare.node_id
                ray_cluster.remove_node(spare)
                spare = None
                with pytest.raises(InstanceLost, match="no live node offers spare=0.1"):
                    client.call(instance, "predict", X=X)
                spare = ray_cluster.add_node(**node_args)
                with pytest.raises(InstanceLost, match="restored from the state directory"):
                    client.call(instance, "predict", X=X)
                assert_same(client.call(instance, "predict", X=X), expected)
                [listed] = client.instances()
                assert listed["node"] == spare.node_id
                client.dispose(instance)
    finally:
        if spare is not None:
            ray_cluster.remove_node(spare)


def test_an_expired_lease_frees_the_instance_and_its_actor(ray_cluster, driver):
    """Leases work the same on Ray: a silent session's instance is reaped by the gateway
    and its actor stops, while a live client's instance (renewed) stays."""
    # Longer than an actor's start (1-2 s here), which the first renewal waits for.
    flags = ray_flags(ray_cluster, "--ray-namespace", "leases", "--lease-seconds", "6")
    X = make_data("float64", "dense")

    def actors() -> set[str]:
        return {
            entry["name"].split("@")[0]
            for entry in ray.util.list_named_actors(all_namespaces=True)
            if entry["namespace"] == "leases"
        }

    with spawn_server(timeout=scaled(120), extra_args=flags) as server:
        with Client(server.endpoint, timeout=scaled(120)) as live:
            kept = live.init("MiniBatchKMeans", **OPTIONS)
            silent = Client(server.endpoint, timeout=scaled(120), renew=False)
            try:
                lost = silent.init("MiniBatchKMeans", **OPTIONS)
                silent.call(lost, "fit", X=X)
                assert {kept, lost} <= actors()
            finally:
                silent.close()
            wait_until(lambda: lost not in actors(), 30, "the silent session's actor to stop")
            assert [item["instance"] for item in live.instances()] == [kept]
            assert kept in actors()
            live.dispose(kept)
