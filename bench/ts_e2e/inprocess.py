"""In-process baseline for bench/ts_e2e: the same fit the server runs, without the bridge.

Reads a raw little-endian float64 C-order file written by bench.mjs and prints one JSON
line with the timings (seconds) of fit + labels_ and the process's peak RSS.

Usage: python inprocess.py PATH N D REPEATS OPTIONS_JSON
"""

import json
import resource
import sys
import time

import numpy as np

from estimators import MiniBatchKMeans


def main() -> None:
    path, n, d, repeats, options = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
        json.loads(sys.argv[5]),
    )
    X = np.fromfile(path, dtype="<f8").reshape(n, d)
    # Warm-up on a slice, like the bridge benchmark's warm-up fit.
    MiniBatchKMeans(**options).fit(X[: min(n, 20_000)])
    times = []
    n_iter = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        m = MiniBatchKMeans(**options).fit(X)
        labels = m.labels_
        times.append(time.perf_counter() - t0)
        n_iter = int(m.n_iter_)
        assert labels.shape == (n,)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"times": times, "n_iter": n_iter, "peak_bytes": peak_kib * 1024}))


if __name__ == "__main__":
    main()
