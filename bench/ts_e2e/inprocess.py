"""In-process baseline for bench/ts_e2e: the server's MiniBatchKMeans fits without the bridge.

Reads a raw little-endian float64 C-order file written by bench.mjs or sweep.mjs, warms up,
prints ``ready``, then for every line ``K`` read from stdin fits ``MiniBatchKMeans(
n_clusters=K, random_state=0)`` on it, reads ``labels_`` and ``inertia_``, and prints one
JSON line ``{"k": K, "seconds": ..., "inertia": ..., "n_iter": ...}``. Ends at end of
input. The scripts drive it so that its fits alternate with the bridge's, and a shared
machine's load hits both alike.

Usage: python inprocess.py PATH N D
"""

import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from estimators import MiniBatchKMeans


def main() -> None:
    path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # One BLAS thread, as the server runs its estimators (bridge/cli.py): the same work.
    threadpool_limits(limits=1, user_api="blas")
    X = np.fromfile(path, dtype="<f8").reshape(n, d)
    # Warm-up on a slice, like the bridge's warm-up fit.
    MiniBatchKMeans(n_clusters=2, random_state=0).fit(X[: min(n, 20_000)])
    print("ready", flush=True)
    for line in sys.stdin:
        k = int(line)
        t0 = time.perf_counter()
        model = MiniBatchKMeans(n_clusters=k, random_state=0).fit(X)
        labels = model.labels_
        inertia = float(model.inertia_)
        seconds = time.perf_counter() - t0
        assert labels.shape == (n,)
        reply = {"k": k, "seconds": seconds, "inertia": inertia, "n_iter": int(model.n_iter_)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
