"""Control of a running call: cancellation, progress messages, and undoing a stopped fit.

A :class:`Control` is shared by the socket loop (which sets ``cancelled`` on a ``cancel``
request or an expired lease) and the worker running the call (which checks it at every
mini-batch step through the estimator's progress hook). A call stopped that way leaves
its instance exactly as before: the fitting methods run on a snapshot-guarded estimator.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bridge.errors import Cancelled
from bridge.protocol import PROTOCOL_VERSION, pack_header
from bridge.workers import send_interim
from estimators import progress_callback

__all__ = ["FITTING", "Control", "guarded"]

# Methods that run mini-batch steps (and so can report progress and stop between them).
FITTING = frozenset({"fit", "partial_fit", "fit_predict", "fit_transform"})
# At most this many progress messages per second (the first and the last always go).
_MIN_INTERVAL = 0.05


class Control:
    __slots__ = (
        "cancelled",
        "why",
        "identity",
        "rid",
        "progress",
        "stoppable",
        "_last",
        "_pending",
    )

    def __init__(self, identity: Any, rid: int, *, progress: bool, stoppable: bool) -> None:
        self.stoppable = stoppable  # the call checks `cancelled` between steps
        self.cancelled = False
        self.why = ""
        self.identity = identity
        self.rid = rid
        self.progress = progress
        self._last = 0.0
        self._pending: dict[str, Any] | None = None

    def cancel(self, why: str) -> None:
        self.why = why
        self.cancelled = True

    def on_step(self, event: dict[str, Any]) -> None:
        """The estimator's progress hook: stop if cancelled, else maybe report."""
        if self.cancelled:
            raise Cancelled(self.why)
        if not self.progress:
            return
        now = time.monotonic()
        if event["step"] == 1 or now - self._last >= _MIN_INTERVAL:
            self._send(event)
            self._last = now
        else:
            self._pending = event

    def forward(self, event: dict[str, Any]) -> None:
        """Send an event reported by another process (the Ray backend's actors)."""
        self._send(event)

    def flush(self) -> None:
        """Send the last step's event if the rate limit held it back."""
        if self._pending is not None:
            self._send(self._pending)

    def _send(self, event: dict[str, Any]) -> None:
        self._pending = None
        header = {"v": PROTOCOL_VERSION, "id": self.rid, "progress": event}
        send_interim(self.identity, pack_header(header))


def _snapshot(estimator: Any) -> dict[str, Any]:
    # Fitted state is a few small arrays and scalars (labels_ is O(n) but only one copy).
    return copy.deepcopy(dict(vars(estimator)))


@contextmanager
def guarded(estimator: Any, control: Control) -> Iterator[None]:
    """Run a fitting call so that a cancellation restores the estimator as it was."""
    before = _snapshot(estimator)
    try:
        with progress_callback(control.on_step):
            yield
        control.flush()
    except Cancelled:
        state = vars(estimator)
        state.clear()
        state.update(before)
        raise
