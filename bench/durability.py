"""What ``--state-dir`` costs, how fast a restart restores, and a long crash run.

1. ``partial_fit`` calls per second on 1k x 32 float64 batches (k=8), over the bridge,
   without and with ``--state-dir`` (each call then writes the instance to disk with
   fsync before its reply), two servers in the same run; the ratio is the cost.
2. ``init`` and ``dispose`` round trips without and with ``--state-dir`` (init writes from
   a worker job; dispose deletes the file on the socket loop), medians.
3. Restoring 1,000 fitted instances: the time ``Server(...)`` takes to construct on a
   state directory holding them, against the same construction on an empty one.
4. The crash run of tests/bridge/crash.py with ``--kills`` SIGKILLs (default 20) over 200
   batches of 1k x 32: kills survived, acknowledged calls lost, calls applied twice.

Not part of the test run. Usage: ``python bench/durability.py [--quick] [--kills N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.endpoints import resolve_endpoint  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402
from bridge.server import Server  # noqa: E402
from tests.bridge import crash  # noqa: E402


def _calls_per_second(endpoint: str, batches: list[np.ndarray]) -> float:
    with Client(endpoint, timeout=120) as client:
        km = client.init("MiniBatchKMeans", n_clusters=8, random_state=0)
        client.call(km, "partial_fit", X=batches[0])  # warm up
        start = time.perf_counter()
        for i, X in enumerate(batches):
            client.call(km, "partial_fit", idempotency_key=f"b{i}", X=X)
        elapsed = time.perf_counter() - start
        client.dispose(km)
    return len(batches) / elapsed


def _lifecycle_ms(endpoint: str, rounds: int) -> tuple[float, float]:
    inits, disposes = [], []
    with Client(endpoint, timeout=120) as client:
        for i in range(rounds):
            start = time.perf_counter()
            client.init("MiniBatchKMeans", instance=f"life{i}", n_clusters=2)
            inits.append(time.perf_counter() - start)
            start = time.perf_counter()
            client.dispose(f"life{i}")
            disposes.append(time.perf_counter() - start)
    return statistics.median(inits) * 1e3, statistics.median(disposes) * 1e3


def throughput(n_calls: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(1000, 32)) for _ in range(n_calls)]
    with tempfile.TemporaryDirectory() as state:
        with spawn_server(workers=2) as plain, spawn_server(workers=2, state_dir=state) as durable:
            rates = {}
            lifecycle = {}
            # Alternate the two servers so machine noise hits both alike.
            for name, server in [("plain", plain), ("durable", durable)] * 2:
                rates.setdefault(name, []).append(_calls_per_second(server.endpoint, batches))
                lifecycle.setdefault(name, []).append(_lifecycle_ms(server.endpoint, rounds))
    base, durable_rate = max(rates["plain"]), max(rates["durable"])
    print(f"partial_fit 1k x 32, {n_calls} calls (best of 2)")
    print(f"  without --state-dir: {base:8.1f} calls/s")
    print(f"  with --state-dir:    {durable_rate:8.1f} calls/s  ratio {durable_rate / base:.2f}")
    for op, index in (("init", 0), ("dispose", 1)):
        plain_ms = min(ms[index] for ms in lifecycle["plain"])
        durable_ms = min(ms[index] for ms in lifecycle["durable"])
        print(
            f"  {op:8s} median round trip: {plain_ms:.3f} ms without, {durable_ms:.3f} ms "
            f"with --state-dir (ratio {durable_ms / plain_ms:.1f})"
        )


def restore(n_instances: int) -> None:
    X = np.random.default_rng(1).normal(size=(1000, 32))
    with tempfile.TemporaryDirectory() as state, tempfile.TemporaryDirectory() as empty:
        with spawn_server(workers=2, state_dir=state) as server:
            with Client(server.endpoint, timeout=120, session="owner") as client:
                for i in range(n_instances):
                    km = client.init("MiniBatchKMeans", instance=f"km{i}", n_clusters=8)
                    client.call(km, "partial_fit", X=X)
            server.process.kill()
            server.process.wait()
        times = {}
        for name, directory in (("empty", empty), ("full", state)):
            samples = []
            for _ in range(3):
                start = time.perf_counter()
                built = Server(resolve_endpoint(None), workers=1, state_dir=directory)
                samples.append(time.perf_counter() - start)
                restored = built.restored
                built.close()
            times[name] = (min(samples), restored)
    (empty_s, _), (full_s, restored) = times["empty"], times["full"]
    print(f"restore {n_instances} fitted instances (k=8, 32 features; best of 3)")
    print(f"  server start on an empty state dir: {empty_s * 1e3:8.1f} ms")
    print(
        f"  server start restoring {restored}:     {full_s * 1e3:8.1f} ms "
        f"({(full_s - empty_s) / max(restored, 1) * 1e3:.2f} ms per instance)"
    )


def crash_run(kills: int, n_batches: int) -> None:
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(1000, 32)) for _ in range(n_batches)]
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        report = crash.run(
            f"ipc://{directory}/sock", f"{directory}/state", batches, kills, seed=11, timeout=120
        )
        elapsed = time.perf_counter() - start
    print(f"crash run: {n_batches} partial_fit batches of 1k x 32, {kills} SIGKILLs")
    for line in report.lines():
        print(f"  {line}")
    for mismatch in report.mismatches:
        print(f"  MISMATCH {mismatch}")
    print(f"  ({elapsed:.0f} s, restarts included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and instances")
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    throughput(100 if args.quick else 400, 20 if args.quick else 100)
    restore(200 if args.quick else 1000)
    crash_run(args.kills, 200)


if __name__ == "__main__":
    main()
