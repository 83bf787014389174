"""What progress reporting costs: the same 100k x 32 fit with and without it, one run.

Rows (median of ``--repeats`` interleaved runs each):

- in process: ``fit`` plain, and inside ``estimators.progress_callback`` with a no-op
  callback (the hook's own cost);
- over the bridge: ``fit`` without a callback (nothing extra travels) and with
  ``progress=`` (interim messages at up to ~20 per second).

Ratios are against the plain row of the same kind. Long fits (tol=0, many steps) are used
so the fit is many steps long, as a fit someone watches a progress bar for would be.

Usage: ``python bench/progress.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402
from estimators import MiniBatchKMeans, progress_callback  # noqa: E402

OPTIONS = {"n_clusters": 8, "random_state": 0, "max_iter": 10, "tol": 0.0,
           "max_no_improvement": None, "batch_size": 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    X, _ = make_blobs(n_samples=100_000, n_features=32, centers=8, random_state=0)
    times: dict[str, list[float]] = {k: [] for k in ("plain", "hook", "bridge", "progress")}
    events = 0

    def count(event: dict) -> None:
        nonlocal events
        events += 1

    with spawn_server(workers=2) as server, Client(server.endpoint, timeout=600) as client:
        km = client.init("MiniBatchKMeans", **OPTIONS)
        for _ in range(args.repeats):
            t = time.perf_counter()
            MiniBatchKMeans(**OPTIONS).fit(X)
            times["plain"].append(time.perf_counter() - t)
            t = time.perf_counter()
            with progress_callback(lambda event: None):
                MiniBatchKMeans(**OPTIONS).fit(X)
            times["hook"].append(time.perf_counter() - t)
            t = time.perf_counter()
            client.call(km, "fit", X=X)
            times["bridge"].append(time.perf_counter() - t)
            events = 0
            t = time.perf_counter()
            client.call(km, "fit", X=X, progress=count)
            times["progress"].append(time.perf_counter() - t)
        steps = client.get(km, "n_steps_")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"fit 100k x 32, k=8, {steps} steps; median of {args.repeats}")
    print(f"{'row':44} {'time':>9} {'ratio':>7}")
    rows = [
        ("in process, no hook", "plain", "plain"),
        ("in process, no-op progress hook", "hook", "plain"),
        ("bridge, no callback (nothing extra sent)", "bridge", "bridge"),
        (f"bridge, progress= ({events} messages)", "progress", "bridge"),
    ]
    for label, key, base in rows:
        print(f"{label:44} {med[key] * 1000:7.1f} ms {med[key] / med[base]:6.3f}x")
    spread = np.ptp(times["bridge"]) / med["bridge"]
    print(f"run-to-run spread of the bridge row: {spread:.1%} of its median")


if __name__ == "__main__":
    main()
