"""What the Ray backend costs against the in-process one, measured side by side in one run.

Both servers run at once on this machine: the in-process ``skbridge serve`` and a
``skbridge serve --backend ray`` on a local two-node Ray cluster (one CPU each, loopback
only, see tests/ray/cluster.py). Three measurements, each printed with its ratio
(Ray / in-process):

1. Small call: ``predict`` of 10 rows on a fitted instance, p50 and p99 over many calls.
2. One fit of make_blobs n=100k d=32 k=8 (X transfer included), median of ``--repeats``.
3. Eight instances fitting at once (n=100k d=32 each, one client, all submitted before
   any reply is read): wall time. The in-process server runs them on its worker threads
   in one process; the Ray backend on the actors spread over the two nodes.

On a machine with fewer cores than nodes x 1 CPU the "nodes" share cores, so the third
row shows the overhead of the spread, not the speed-up a real cluster gives; see
docs/SCALING.md for the model that takes it from here.

Not part of the test run. Usage: ``python bench/scale.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.client import Client  # noqa: E402
from bridge.launcher import rss_bytes, spawn_server  # noqa: E402
from tests.ray.cluster import local_cluster  # noqa: E402

MiB = 1 << 20

OPTIONS = {"n_clusters": 8, "random_state": 0, "batch_size": 1024, "n_init": 1, "max_iter": 20}


def small_calls(client: Client, instance: str, rows: np.ndarray, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.call(instance, "predict", X=rows)
        times.append(time.perf_counter() - start)
    return times


def one_fit(client: Client, X: np.ndarray, repeats: int) -> float:
    instance = client.init("MiniBatchKMeans", **OPTIONS)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.call(instance, "fit", X=X)
        times.append(time.perf_counter() - start)
    client.dispose(instance)
    return statistics.median(times)


def actor_rss_mib() -> list[float]:
    """Resident memory of every instance actor process on this machine (Ray sets their
    title to ``ray::<actor class>``)."""
    sizes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(b"ray::_Placed"):
                    sizes.append(rss_bytes(int(pid)) / MiB)
        except OSError:
            continue  # ended meanwhile
    return sizes


def concurrent_fits(client: Client, data: list[np.ndarray]) -> tuple[float, set[str], list[float]]:
    ids = [client.init("MiniBatchKMeans", **OPTIONS) for _ in data]
    start = time.perf_counter()
    rids = [client.submit_call(i, "fit", X=X) for i, X in zip(ids, data, strict=True)]
    for rid in rids:
        client.result(rid)
    elapsed = time.perf_counter() - start
    nodes = {
        item.get("node", "this process") for item in client.instances() if item["instance"] in ids
    }
    rss = actor_rss_mib()
    for instance in ids:
        client.dispose(instance)
    return elapsed, nodes, rss


def measure(endpoint: str, args: argparse.Namespace, data: list[np.ndarray]) -> dict:
    with Client(endpoint, timeout=600) as client:
        instance = client.init("MiniBatchKMeans", **OPTIONS)
        client.call(instance, "fit", X=data[0][:5000])
        small_calls(client, instance, data[0][:10], 20)  # warm up
        times = small_calls(client, instance, data[0][:10], args.calls)
        fit = one_fit(client, data[0], args.repeats)
        wall, nodes, rss = concurrent_fits(client, data[: args.instances])
        return {
            "p50": statistics.median(times),
            "p99": float(np.quantile(times, 0.99)),
            "fit": fit,
            "eight": wall,
            "nodes": len(nodes),
            "actor_rss": rss,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    parser.add_argument("--instances", type=int, default=8)
    args = parser.parse_args()
    args.calls = 100 if args.quick else 500
    args.repeats = 1 if args.quick else 3
    data = [
        make_blobs(100_000, 32, centers=8, random_state=seed)[0] for seed in range(args.instances)
    ]
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    with local_cluster(nodes=2) as cluster:
        flags = ["--backend", "ray", "--ray-address", cluster.address, "--ray-namespace", "bench"]
        with (
            spawn_server(timeout=300) as local,
            spawn_server(timeout=300, extra_args=flags) as on_ray,
        ):
            base = measure(local.endpoint, args, data)
            ray_ = measure(on_ray.endpoint, args, data)
    print(f"{'measure':38} {'in-process':>12} {'ray':>12} {'ratio':>7}")
    rows = [
        ("small call p50 (predict 10 rows), ms", "p50", 1e3),
        ("small call p99, ms", "p99", 1e3),
        ("fit 100k x 32, s", "fit", 1),
        (f"{args.instances} concurrent fits 100k x 32, s", "eight", 1),
    ]
    for label, key, scale in rows:
        b, r = base[key] * scale, ray_[key] * scale
        print(f"{label:38} {b:12.3f} {r:12.3f} {r / b:7.2f}")
    print(f"nodes holding the {args.instances} instances: ray {ray_['nodes']}")
    if ray_["actor_rss"]:
        sizes = ray_["actor_rss"]
        print(
            f"actor processes with a fitted instance: {len(sizes)}, RSS median "
            f"{statistics.median(sizes):.0f} MiB (range {min(sizes):.0f}-{max(sizes):.0f})"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
