"""Progress reports from a running fit, for callers that want more than ``verbose`` text.

``with progress_callback(fn): estimator.fit(X)`` makes the fit call ``fn(event)`` after
every mini-batch step, where ``event`` is a dict with ``step`` (from 1), ``steps``
(planned), ``batch_inertia`` (mean inertia of the step's batch), ``ewa_inertia`` (its
exponentially weighted average, None before the second step), ``epoch`` (passes over the
data so far) and ``elapsed`` (seconds since the call began). The callback runs in the
fitting thread; an exception it raises ends the fit and propagates (a caller that wants
to stop a fit raises one). The setting is per thread (a context variable), so concurrent
fits in other threads are not affected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["Reporter", "progress_callback"]

_CALLBACK: ContextVar[Callable[[dict[str, Any]], None] | None] = ContextVar(
    "skbridge_progress", default=None
)


@contextmanager
def progress_callback(callback: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Report the progress of fits run in this thread inside the block to ``callback``."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)


class Reporter:
    """Used by an estimator for one call: turns steps into events, if anyone listens."""

    __slots__ = ("_callback", "_started", "steps", "_rows_per_step", "_last", "_skip")

    def __init__(self, steps: int, rows_per_step: float) -> None:
        self._callback = _CALLBACK.get()
        self._started = time.perf_counter()
        self.steps = steps
        self._rows_per_step = rows_per_step
        self._last = 0  # the last step reported
        self._skip = 0  # steps up to this one are not reported (again)

    @property
    def active(self) -> bool:
        return self._callback is not None

    def step(self, step: int, batch_inertia: float, ewa_inertia: float | None) -> None:
        """Report step ``step`` (from 1)."""
        callback = self._callback
        if callback is None or step <= self._skip:
            return
        self._last = step
        callback(
            {
                "step": step,
                "steps": self.steps,
                "batch_inertia": float(batch_inertia),
                "ewa_inertia": None if ewa_inertia is None else float(ewa_inertia),
                "epoch": step * self._rows_per_step,
                "elapsed": time.perf_counter() - self._started,
            }
        )

    def resume_after_last(self) -> None:
        """The caller starts over: report only steps beyond those already reported."""
        self._skip = self._last
