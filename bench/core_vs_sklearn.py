"""Fit time of estimators.MiniBatchKMeans against sklearn.cluster.MiniBatchKMeans.

Both fits run interleaved in this one process on the same data and options, so machine
noise hits both alike. Prints one row per data set: median fit seconds of each, the ratio
ours/sklearn (lower is better), n_steps_ of both and the inertia ratio.

    python bench/core_vs_sklearn.py [--repeats 3] [--quick] [--only LABEL-PART]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as SklearnMBK
from sklearn.datasets import load_digits, make_blobs

from estimators import MiniBatchKMeans as OurMBK

ROWS = [
    # label, n, d, k, batch_size, dtype (n=None: load_digits; d="csr": sparse random data)
    ("blobs n=100k d=32 k=8 B=1024", 100_000, 32, 8, 1024, np.float64),
    ("blobs n=100k d=32 k=100", 100_000, 32, 100, 1024, np.float64),
    ("blobs n=300k d=64 k=50 B=2048", 300_000, 64, 50, 2048, np.float64),
    ("blobs n=1M d=16 k=16", 1_000_000, 16, 16, 1024, np.float64),
    ("blobs n=50k d=784 k=10", 50_000, 784, 10, 1024, np.float64),
    ("load_digits k=10 B=256", None, None, 10, 256, np.float64),
    ("blobs n=100k d=32 k=8 B=1024 f32", 100_000, 32, 8, 1024, np.float32),
    ("blobs n=300k d=64 k=50 B=2048 f32", 300_000, 64, 50, 2048, np.float32),
    ("blobs n=200k d=2 k=8", 200_000, 2, 8, 1024, np.float64),
    ("blobs n=20k d=1024 k=10", 20_000, 1024, 10, 1024, np.float64),
    ("blobs n=100k d=32 k=256", 100_000, 32, 256, 1024, np.float64),
    ("CSR 20k x 10k 1% dense k=20", 20_000, "csr", 20, 1024, np.float64),
]


def dataset(n, d, k, dtype):
    if n is None:
        return load_digits().data.astype(dtype)
    if d == "csr":
        return sp.random(n, 10_000, density=0.01, format="csr", dtype=dtype, random_state=0)
    X, _ = make_blobs(n_samples=n, n_features=d, centers=k, random_state=0)
    return np.ascontiguousarray(X, dtype=dtype)


def timed_fit(cls, X, **opts):
    t0 = time.perf_counter()
    model = cls(**opts).fit(X)
    return time.perf_counter() - t0, model


def warm_up() -> None:
    """One small fit of each first, so import-time and first-call costs are not timed."""
    X, _ = make_blobs(n_samples=5000, n_features=8, centers=4, random_state=0)
    for cls in (OurMBK, SklearnMBK):
        cls(n_clusters=4, random_state=0).fit(X)
        cls(n_clusters=4, random_state=0).fit(X.astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="only the first row, one repeat")
    parser.add_argument("--only", default="", help="only rows whose label contains this")
    args = parser.parse_args()
    warm_up()
    rows = ROWS[:1] if args.quick else [row for row in ROWS if args.only in row[0]]
    repeats = 1 if args.quick else args.repeats

    head = (
        f"{'data set':36} {'ours s':>8} {'sklearn s':>9} {'ratio':>6} {'steps':>11} "
        f"{'inertia ratio':>13}"
    )
    print(head)
    print("-" * len(head))
    ratios = []
    for label, n, d, k, batch, dtype in rows:
        X = dataset(n, d, k, dtype)
        opts = dict(n_clusters=k, batch_size=batch, random_state=0)
        ours_t, sk_t = [], []
        for _ in range(repeats):
            t, ours = timed_fit(OurMBK, X, **opts)
            ours_t.append(t)
            t, ref = timed_fit(SklearnMBK, X, **opts)
            sk_t.append(t)
        o, s = statistics.median(ours_t), statistics.median(sk_t)
        ratios.append(o / s)
        steps = f"{ours.n_steps_}/{ref.n_steps_}"
        print(
            f"{label:36} {o:8.4f} {s:9.4f} {o / s:6.3f} {steps:>11} "
            f"{ours.inertia_ / ref.inertia_:13.6f}",
            flush=True,
        )
    print("-" * len(head))
    print(f"median ratio {statistics.median(ratios):.3f}; max ratio {max(ratios):.3f}")


if __name__ == "__main__":
    main()
