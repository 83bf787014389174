"""Thread settings shared by the estimators.

Two regimes: the mini-batch loop works on matrices too small to split, so BLAS gets one
thread there; whole-dataset passes (final labels, predict, score) split the rows into
blocks that run on a small pool of Python threads, NumPy releasing the GIL inside.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

try:  # how many threads scikit-learn's OpenMP kernels split their sums across
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads as effective_threads
except ImportError:  # pragma: no cover - a future scikit-learn layout

    def effective_threads() -> int:
        return os.cpu_count() or 1


_lock = threading.Lock()
_controller: ThreadpoolController | None = None
_pool: ThreadPoolExecutor | None = None


def single_blas_thread():
    """Context manager limiting BLAS libraries to one thread.

    The limit is process-wide and threadpoolctl lets only one thread at a time change it,
    so overlapping fits in several threads can end with BLAS left at one thread; the
    bridge server sets one thread for good at start-up for that reason.
    """
    global _controller
    with _lock:
        if _controller is None:
            _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def block_pool() -> ThreadPoolExecutor | None:
    """Shared executor for block-parallel passes, or None on a single-core machine."""
    global _pool
    workers = effective_threads()
    if workers < 2:
        return None
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="estimators")
    return _pool
