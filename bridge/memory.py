"""Reusing freed memory for the next large message (glibc only; elsewhere a no-op).

ZeroMQ allocates a new buffer for every large message it receives. glibc serves big
allocations with fresh mmap pages (any above 32 MiB, the most its mmap threshold can be
raised to, and allocations of non-main threads' arenas that do not fit their heaps), which
the kernel must fault in and zero on every message: receiving 80 or 400 MB ran at
~1.2-1.9 GB/s, against 3-4 GB/s into reused pages. The server process therefore takes
every allocation from one heap (``M_ARENA_MAX=1``, ``M_MMAP_MAX=0``) and keeps freed
pages (``M_TRIM_THRESHOLD``) for the next message. The price is that the process holds on
to its peak heap, so the server hands the free pages back with :func:`release_free_memory`
once it has been idle for a moment. Peak memory is unchanged.

:func:`freeze_startup_objects` deals with the other process-wide pause: Python's full
garbage collection, which holds the GIL while it walks every tracked object.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import platform
import sys

__all__ = ["freeze_startup_objects", "keep_free_memory", "release_free_memory"]

log = logging.getLogger("skbridge.memory")

# mallopt parameters from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_INT_MAX = 2**31 - 1

_libc: ctypes.CDLL | None = None


def keep_free_memory() -> bool:
    """Configure glibc malloc as described above; False where that does not apply.

    Call it early, before threads allocate: arenas that already exist keep being used.
    """
    global _libc
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = all(
            libc.mallopt(param, value)
            for param, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _INT_MAX))
        )
    except (OSError, AttributeError) as exc:
        log.debug("malloc tuning unavailable: %s", exc)
        return False
    if ok:
        _libc = libc
    return ok


def release_free_memory() -> None:
    """Return free heap pages to the system (after :func:`keep_free_memory`)."""
    if _libc is not None:
        _libc.malloc_trim(0)


def freeze_startup_objects() -> int:
    """Move every object alive now out of the garbage collector's reach; return how many.

    Importing scikit-learn, SciPy and NumPy leaves ~130,000 tracked objects (functions,
    classes, module dicts) that live as long as the process. Every full collection walked
    them all, holding the GIL for 0.2-0.3 s on this 2-core machine: the socket loop
    stopped answering for that long whenever allocations (a 10,000-instance listing, a
    burst of ``init``) triggered one (bench/robustness.py). Frozen objects are still freed
    by reference counting; only reference cycles among them would now be kept, and
    start-up state has none worth reclaiming.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
