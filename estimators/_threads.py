"""Thread settings shared by the estimators.

Two regimes: the mini-batch loop works on matrices too small to split, so BLAS gets one
thread there; whole-dataset passes (final labels, predict, score) split the rows into
blocks that run on a small pool of Python threads, NumPy releasing the GIL inside.
"""

from __future__ import annotations

import os
import statistics
import threading
from concurrent.futures import ThreadPoolExecutor

from joblib import cpu_count  # reads no data: allowed by the least-privilege scan
from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_controller: ThreadpoolController | None = None
_pool: ThreadPoolExecutor | None = None
_physical_cores: int | None = None


def _threadpools() -> ThreadpoolController:
    global _controller
    with _lock:
        if _controller is None:
            _controller = ThreadpoolController()
    return _controller


def _omp_max_threads() -> int | None:
    """``omp_get_max_threads()`` of scikit-learn's OpenMP runtime (or the first one loaded)."""
    libs = _threadpools().select(user_api="openmp").lib_controllers
    if not libs:
        return None
    preferred = [lib for lib in libs if "scikit_learn" in lib.filepath or "sklearn" in lib.filepath]
    return (preferred or libs)[0].num_threads


def effective_threads() -> int:
    """How many threads scikit-learn's OpenMP kernels split their sums across.

    The rule of scikit-learn's ``_openmp_effective_n_threads`` (kept private there):
    the OpenMP thread limit, capped at the physical core count unless OMP_NUM_THREADS
    is set. Our float32 inertias are summed in that many parts to match its rounding.
    """
    global _physical_cores
    # With no OpenMP runtime loaded, OpenMP's default: one thread per CPU.
    omp = _omp_max_threads() or os.cpu_count() or 1
    if os.getenv("OMP_NUM_THREADS"):
        return omp
    if _physical_cores is None:
        _physical_cores = cpu_count(only_physical_cores=True)
    return min(omp, _physical_cores)


def single_blas_thread():
    """Context manager limiting BLAS libraries to one thread.

    The limit is process-wide and threadpoolctl lets only one thread at a time change it,
    so overlapping fits in several threads can end with BLAS left at one thread; the
    bridge server sets one thread for good at start-up for that reason.
    """
    return _threadpools().limit(limits=1, user_api="blas")


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


# From this many batch cells (rows x features), a mini-batch step is worth sharing with a
# second thread; or from this many multiply-adds in its ranking product (rows x features
# x centers). Below both, handing work to a thread costs more than it saves.
STEP_PARALLEL_CELLS = 1 << 16
STEP_PARALLEL_PRODUCT = 1 << 22


# From this many batch cells a step's gather and sums are long enough (>= ~1 ms) that
# sharing them paid in every run measured (d = 640 to 1024), so no trial is run.
STEP_SURE_CELLS = 1 << 18


def step_pool(batch_size: int, n_features: int, n_clusters: int) -> ThreadPoolExecutor | None:
    """``block_pool()`` when mini-batch steps are large enough to share, else None."""
    cells = batch_size * n_features
    if cells < STEP_PARALLEL_CELLS and cells * n_clusters < STEP_PARALLEL_PRODUCT:
        return None
    return block_pool()


class PoolTrial:
    """Whether sharing each step with a helper thread pays off on this machine.

    Handing work to a thread and waiting for it costs from ~30 us to ~450 us depending on
    the machine (a virtual CPU woken from idle is slow), against a saving of up to half
    the shared work. So the first steps of a fit alternate with and without the pool,
    each timed, and the faster way by median is kept for the rest of the fit. Results do
    not depend on the choice. In a loop::

        use = trial.pool_for(step)  # the pool, or None
        start = time.perf_counter()
        take_step(pool=use)
        trial.record(step, time.perf_counter() - start)
    """

    TRIALS = 8  # steps timed each way

    def __init__(self, pool: ThreadPoolExecutor | None, batch_cells: int = 0):
        """``batch_cells`` (rows x features of a step): from ``STEP_SURE_CELLS`` on the
        pool is used without a trial."""
        self._pool = pool
        self._times: tuple[list[float], list[float]] = ([], [])  # without, with the pool
        self.decided = pool is None or batch_cells >= STEP_SURE_CELLS
        self.chosen = pool

    def pool_for(self, step: int) -> ThreadPoolExecutor | None:
        if self.decided:
            return self.chosen
        return self._pool if step % 2 else None

    def record(self, step: int, seconds: float) -> None:
        """The time step ``step`` took with ``pool_for(step)``."""
        if self.decided:
            return
        self._times[step % 2].append(seconds)
        without, shared = self._times
        if len(shared) >= self.TRIALS and len(without) >= self.TRIALS:
            faster = statistics.median(shared) < statistics.median(without)
            self.chosen = self._pool if faster else None
            self.decided = True
