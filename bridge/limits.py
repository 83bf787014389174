"""What one server lets its clients hold, and the accounting that enforces it.

:class:`Limits` holds the configured values (``skbridge serve`` flags, reported by
``info``). :class:`MemoryBudget` counts the bytes instances hold, the bytes of requests
waiting or running, and the working memory a fit has reserved, and refuses anything that
would take the sum past ``max_memory_bytes`` before the memory is spent. Both the socket
loop (queued requests) and workers (fit reservations, state sizes) use the budget, so it
takes a lock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from typing import Any

from bridge.errors import ResourceExhausted

__all__ = ["Limits", "MemoryBudget", "default_memory_bytes"]

GiB = 1 << 30


def default_memory_bytes() -> int:
    """A quarter of the machine's memory, at most 4 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 * GiB
    return int(min(4 * GiB, total // 4))


@dataclass(frozen=True)
class Limits:
    """Server limits; 0 means "no limit" where the field says so."""

    # Largest frame libzmq accepts (ZMQ_MAXMSGSIZE); a peer sending more is disconnected
    # before the frame reaches Python. The whole message may hold at most max_frames.
    max_message_bytes: int = GiB
    max_frames: int = 64
    # Header frame limits, checked by msgpack while it parses (cheap, before any work).
    max_header_bytes: int = 1 << 20
    max_map_len: int = 1024
    max_instances: int = 10_000
    max_memory_bytes: int = 0  # filled from default_memory_bytes() when 0 is not asked for
    # Requests of one session waiting or running at once.
    max_queued_per_session: int = 1_000
    # A session silent this long loses its instances; 0 keeps them forever.
    lease_seconds: float = 300.0

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    def check_header(self, nbytes: int) -> None:
        """Refuse a header frame over ``max_header_bytes`` before it is parsed."""
        if nbytes > self.max_header_bytes:
            raise ResourceExhausted(
                f"max_header_bytes={self.max_header_bytes} exceeded: the header frame "
                f"has {nbytes} bytes (arrays belong in buffer frames)",
                details=[{"limit": "max_header_bytes", "value": self.max_header_bytes}],
            )

    def check_instances(self, count: int) -> None:
        """Refuse a new instance when ``count`` already live reach ``max_instances``."""
        if self.max_instances and count >= self.max_instances:
            raise ResourceExhausted(
                f"max_instances={self.max_instances} reached: dispose instances before "
                "creating more",
                details=[{"limit": "max_instances", "value": self.max_instances}],
            )

    def check_frames(self, count: int) -> None:
        """Refuse a message with more than ``max_frames`` buffer frames."""
        if count > self.max_frames:
            raise ResourceExhausted(
                f"max_frames={self.max_frames} exceeded: the message has {count} buffer frames",
                details=[{"limit": "max_frames", "value": self.max_frames}],
            )


class MemoryBudget:
    """Bytes held by instances + bytes of pending requests + reserved working memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self.held = 0
        self.pending = 0
        self.reserved = 0

    @property
    def total(self) -> int:
        return self.held + self.pending + self.reserved

    def _check(self, extra: int, what: str) -> None:
        if self.limit and self.total + extra > self.limit:
            raise ResourceExhausted(
                f"max_memory_bytes={self.limit} would be exceeded: {what} needs {extra} bytes "
                f"and the server holds {self.total}",
                # msgpack integers stop at 2**64: an absurd estimate travels as a float.
                details=[
                    {
                        "limit": "max_memory_bytes",
                        "value": self.limit,
                        "needed": extra if extra < 2**63 else float(extra),
                    }
                ],
            )

    def admit(self, nbytes: int) -> None:
        """A request of ``nbytes`` buffer bytes is queued (released by :meth:`done`)."""
        with self._lock:
            self._check(nbytes, "the request")
            self.pending += nbytes

    def done(self, nbytes: int) -> None:
        with self._lock:
            self.pending -= nbytes

    def reserve(self, nbytes: int, what: str) -> None:
        """Working memory a call is about to allocate (released by :meth:`unreserve`)."""
        with self._lock:
            self._check(nbytes, what)
            self.reserved += nbytes

    def unreserve(self, nbytes: int) -> None:
        with self._lock:
            self.reserved -= nbytes

    def take(self, nbytes: int, what: str) -> None:
        """Hold ``nbytes`` more for good (until ``hold(-nbytes)``), if they fit."""
        with self._lock:
            self._check(nbytes, what)
            self.held += nbytes

    def hold(self, delta: int) -> None:
        """An instance's state grew (or shrank, negative) by ``delta`` bytes."""
        with self._lock:
            self.held += delta
