"""Soak: many client processes working many instances at once, every result checked.

Each client process owns ``--instances`` instances and, until ``--seconds`` pass, picks
calls at random (seeded): ``fit``, ``partial_fit``, ``predict``, ``transform`` and ``get``
of fitted attributes. It applies every call to an in-process twin of each instance too and
compares the two results bit for bit. The server is started here (or given with
``--endpoint``); all traffic stays on this machine.

Prints requests, errors, wrong results and latency percentiles over all clients, and the
server's RSS before, at its peak and after every instance is disposed.

Usage: ``python bench/soak.py [--clients 8] [--instances 10] [--seconds 60] [--json]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.launcher import rss_bytes as rss  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402
from estimators import MiniBatchKMeans  # noqa: E402

ATTRIBUTES = ("cluster_centers_", "n_steps_", "inertia_", "n_features_in_")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


def client_main(endpoint: str, seed: int, instances: int, seconds: float, out: Any) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 16))
    latencies: list[float] = []
    errors = wrong = 0
    with Client(endpoint, timeout=120) as client:
        ids, twins = [], []
        for i in range(instances):
            options = {"n_clusters": int(rng.integers(2, 6)), "random_state": seed * 100 + i,
                       "batch_size": int(rng.integers(32, 256)), "max_iter": 20}  # fmt: skip
            ids.append(client.init("MiniBatchKMeans", **options))
            twins.append(MiniBatchKMeans(**options))
        fitted = [False] * instances
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            i = int(rng.integers(instances))
            X = rng.normal(size=(int(rng.integers(200, 3_000)), d))
            kind = rng.choice(["fit", "partial_fit", "predict", "transform", "get"])
            if not fitted[i] and kind in ("predict", "transform", "get"):
                kind = "fit"
            t = time.perf_counter()
            try:
                if kind in ("fit", "partial_fit"):
                    client.call(ids[i], kind, X=X)
                    getattr(twins[i], kind)(X)
                    fitted[i] = True
                    ok = _same(client.get(ids[i], "cluster_centers_"), twins[i].cluster_centers_)
                elif kind == "get":
                    name = ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))]
                    ok = _same(client.get(ids[i], name), getattr(twins[i], name))
                else:
                    ok = _same(client.call(ids[i], kind, X=X), getattr(twins[i], kind)(X))
            except Exception as exc:  # counted, reported, never fatal to the soak
                print(f"client {seed}: {kind} failed: {exc!r}", file=sys.stderr)
                errors += 1
                continue
            latencies.append(time.perf_counter() - t)
            wrong += not ok
        for instance in ids:
            client.dispose(instance)
    out.put({"requests": len(latencies), "errors": errors, "wrong": wrong, "lat": latencies})


def run(endpoint: str, pid: int | None, clients: int, instances: int, seconds: float) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    peak = [rss(pid) if pid else 0]
    before = peak[0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss(pid)) if pid else 0

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    procs = [
        ctx.Process(target=client_main, args=(endpoint, seed, instances, seconds, out))
        for seed in range(1, clients + 1)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for proc in procs:
        proc.join(60)
    stop.set()
    watcher.join()
    time.sleep(3)  # the server gives idle memory back after 2 s without messages
    lat = sorted(x for r in results for x in r["lat"])
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    return {
        "clients": clients,
        "instances_per_client": instances,
        "seconds": seconds,
        "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "wrong": sum(r["wrong"] for r in results),
        "p50_ms": pick(0.5) * 1000,
        "p99_ms": pick(0.99) * 1000,
        "rss_before": before,
        "rss_peak": peak[0],
        "rss_after": rss(pid) if pid else 0,
        "crashed": any(proc.exitcode != 0 for proc in procs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with spawn_server(workers=2, timeout=120) as server:
        summary = run(server.endpoint, server.pid, args.clients, args.instances, args.seconds)
        summary["server_alive"] = server.process.poll() is None
    if args.json:
        print(json.dumps(summary))
        return
    mib = 1 << 20
    print(f"soak: {args.clients} clients x {args.instances} instances, {args.seconds:g} s")
    print(f"requests {summary['requests']}, errors {summary['errors']}, "
          f"wrong results {summary['wrong']}, server alive {summary['server_alive']}")  # fmt: skip
    print(f"latency p50 {summary['p50_ms']:.2f} ms, p99 {summary['p99_ms']:.2f} ms")
    print(f"server RSS: before {summary['rss_before'] / mib:.1f} MiB, peak "
          f"{summary['rss_peak'] / mib:.1f} MiB, after disposing everything "
          f"{summary['rss_after'] / mib:.1f} MiB "
          f"({summary['rss_after'] / summary['rss_before']:.2f}x of before)")  # fmt: skip


if __name__ == "__main__":
    main()
