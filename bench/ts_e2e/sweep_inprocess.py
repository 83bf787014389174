"""In-process baseline of bench/ts_e2e/sweep.mjs: the elbow sweep's fits without the bridge.

Reads a raw little-endian float64 C-order file written by sweep.mjs, warms up, prints
``ready``, then for every line ``K`` read from stdin fits the server's MiniBatchKMeans with
``n_clusters=K, random_state=0`` on it, reads ``inertia_`` and prints one JSON line
``{"k": K, "seconds": ..., "inertia": ...}``. Ends at end of input. Driven by sweep.mjs so
that its fits alternate with the bridge's (a shared machine's load hits both alike).

Usage: python sweep_inprocess.py PATH N D
"""

import json
import sys
import time

import numpy as np

from estimators import MiniBatchKMeans


def main() -> None:
    path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    X = np.fromfile(path, dtype="<f8").reshape(n, d)
    # Warm-up on a slice, like the bridge's warm-up fit.
    MiniBatchKMeans(n_clusters=2, random_state=0).fit(X[: min(n, 20_000)])
    print("ready", flush=True)
    for line in sys.stdin:
        k = int(line)
        t0 = time.perf_counter()
        inertia = float(MiniBatchKMeans(n_clusters=k, random_state=0).fit(X).inertia_)
        seconds = time.perf_counter() - t0
        print(json.dumps({"k": k, "seconds": seconds, "inertia": inertia}), flush=True)


if __name__ == "__main__":
    main()
