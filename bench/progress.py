"""What progress reporting costs: the same 100k x 32 fit with and without it, one run.

Rows (median of ``--repeats`` interleaved runs each):

- in process: ``fit`` plain, and inside ``estimators.progress_callback`` with a no-op
  callback (the hook's own cost);
- over the bridge: ``fit`` without a callback (nothing extra travels) and with
  ``progress=`` (interim messages at up to ~20 per second).

Ratios are the median over rounds of each round's ratio to the plain row of the same kind
(range in brackets); within a round the two rows of a pair alternate which runs first.
The fits are long (tol=0, many steps), as a fit someone watches a progress bar for would
be. In process runs with one BLAS thread, as the server's workers do.

Usage: ``python bench/progress.py [--repeats 11]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402
from estimators import MiniBatchKMeans, progress_callback  # noqa: E402

OPTIONS = {"n_clusters": 8, "random_state": 0, "max_iter": 10, "tol": 0.0,
           "max_no_improvement": None, "batch_size": 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    X, _ = make_blobs(n_samples=100_000, n_features=32, centers=8, random_state=0)
    times: dict[str, list[float]] = {k: [] for k in ("plain", "hook", "bridge", "progress")}
    events = 0

    def count(event: dict) -> None:
        nonlocal events
        events += 1

    def plain() -> None:
        MiniBatchKMeans(**OPTIONS).fit(X)

    def hooked() -> None:
        with progress_callback(lambda event: None):
            MiniBatchKMeans(**OPTIONS).fit(X)

    def timed(key: str, run) -> None:
        t = time.perf_counter()
        run()
        times[key].append(time.perf_counter() - t)

    # In process with one BLAS thread, as the server's workers run.
    with (
        threadpool_limits(limits=1, user_api="blas"),
        spawn_server(workers=2) as server,
        Client(server.endpoint, timeout=600) as client,
    ):
        km = client.init("MiniBatchKMeans", **OPTIONS)

        def bridged() -> None:
            client.call(km, "fit", X=X)

        def reported() -> None:
            nonlocal events
            events = 0
            client.call(km, "fit", X=X, progress=count)

        pairs = [
            (("plain", plain), ("hook", hooked)),
            (("bridge", bridged), ("progress", reported)),
        ]
        for round_ in range(args.repeats):
            for pair in pairs:
                # Alternate which of a pair goes first, so order effects cancel.
                for key, run in pair if round_ % 2 == 0 else pair[::-1]:
                    timed(key, run)
        steps = client.get(km, "n_steps_")
    med = {k: statistics.median(v) for k, v in times.items()}
    paired = {
        key: [a / b for a, b in zip(times[key], times[base], strict=True)]
        for key, base in (
            ("plain", "plain"),
            ("hook", "plain"),
            ("bridge", "bridge"),
            ("progress", "bridge"),
        )
    }
    print(f"fit 100k x 32, k=8, {steps} steps; median of {args.repeats} alternating rounds")
    print(f"{'row':44} {'time':>9} {'ratio (range)':>22}")
    rows = [
        ("in process, no hook", "plain"),
        ("in process, no-op progress hook", "hook"),
        ("bridge, no callback (nothing extra sent)", "bridge"),
        (f"bridge, progress= ({events} messages)", "progress"),
    ]
    for label, key in rows:
        ratios = paired[key]
        print(
            f"{label:44} {med[key] * 1000:7.1f} ms {statistics.median(ratios):6.3f}x "
            f"({min(ratios):.3f}-{max(ratios):.3f})"
        )
    spread = np.ptp(times["bridge"]) / med["bridge"]
    print(f"run-to-run spread of the bridge row: {spread:.1%} of its median")


if __name__ == "__main__":
    main()
