"""A local two-node Ray cluster kept on loopback, for the Ray tests, the TypeScript suite's
Ray test and ``bench/scale.py``.

Ray replaces 127.0.0.1 by the host's interface address unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set, so :data:`RAY_ENV` goes into this process
and into every gateway it starts; the dashboard and usage statistics stay off.

Run as a script (``python -m tests.ray.cluster [serve flags...]``) it starts the cluster
and a Ray-backed ``skbridge serve`` on it, prints the server's ready line (with the
cluster's address added) and stops both when its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
# Per node: the machine has 2 cores and a shared memory budget.
OBJECT_STORE_BYTES = 300 * 2**20
LOOPBACK = "127.0.0.1"

os.environ.update(RAY_ENV)


@contextlib.contextmanager
def local_cluster(nodes: int = 2) -> Iterator[Any]:
    """A started ``ray.cluster_utils.Cluster`` of ``nodes`` one-CPU nodes on loopback."""
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": LOOPBACK, "object_store_memory": OBJECT_STORE_BYTES}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def node_pids(cluster: Any) -> set[int]:
    """The processes of the cluster's nodes (raylets, GCS, object stores...)."""
    pids: set[int] = set()
    for node in cluster.list_all_nodes():
        for infos in node.all_processes.values():
            pids.update(info.process.pid for info in infos)
    return pids


def gateway_args(address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bridge", "serve", "--backend", "ray",
            "--ray-address", address, *extra]  # fmt: skip


def main() -> int:
    # Only the ready line goes to stdout; Ray's processes inherit stderr instead, so the
    # reader sees the end of stdout right after that line.
    ready_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with local_cluster() as cluster:
        server = subprocess.Popen(
            gateway_args(cluster.address, *sys.argv[1:]),
            stdout=subprocess.PIPE,
            env={**os.environ, **RAY_ENV},
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            if not line:
                return 1
            ready = json.loads(line) | {"ray_address": cluster.address}
            ready_out.write(json.dumps(ready) + "\n")
            ready_out.close()
            sys.stdin.read()  # until the parent closes it (or exits)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
