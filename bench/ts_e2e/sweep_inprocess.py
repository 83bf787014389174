"""In-process baseline of bench/ts_e2e/sweep.mjs: the elbow sweep without the bridge.

Reads a raw little-endian float64 C-order file written by sweep.mjs, fits the server's
MiniBatchKMeans for every k and reads ``inertia_``, and prints one JSON line with the
sweep times (seconds) and the inertias of the last repeat.

Usage: python sweep_inprocess.py PATH N D K_MIN K_MAX REPEATS
"""

import json
import sys
import time

import numpy as np

from estimators import MiniBatchKMeans


def sweep(X: np.ndarray, ks: range) -> list[float]:
    inertias = []
    for k in ks:
        model = MiniBatchKMeans(n_clusters=k, random_state=0).fit(X)
        inertias.append(float(model.inertia_))
    return inertias


def main() -> None:
    path = sys.argv[1]
    n, d, k_min, k_max, repeats = (int(a) for a in sys.argv[2:7])
    X = np.fromfile(path, dtype="<f8").reshape(n, d)
    ks = range(k_min, k_max + 1)
    # Warm-up on a slice, like the bridge runs' warm-up fit.
    MiniBatchKMeans(n_clusters=k_min, random_state=0).fit(X[: min(n, 20_000)])
    times = []
    inertias: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        inertias = sweep(X, ks)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "inertias": inertias}))


if __name__ == "__main__":
    main()
