"""Sending and receiving multipart messages with zero copy only where it pays.

ZeroMQ's zero-copy paths (pyzmq ``copy=False``) cost tens of microseconds per message in
bookkeeping, which dominates small round trips; copying a few hundred bytes costs almost
nothing. So envelopes (routing ids, tokens, msgpack headers) are copied, and only array
buffers, which can be hundreds of megabytes, travel without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zmq

__all__ = ["ZERO_COPY_MIN", "recv_message", "send_message"]

# Buffers at least this large are sent without copying (pyzmq's own default threshold).
ZERO_COPY_MIN = zmq.COPY_THRESHOLD


def _zero_copy(part: Any) -> bool:
    if isinstance(part, bytes):
        return False
    if isinstance(part, zmq.Frame):
        return True  # forwarding a received frame shares its buffer
    return memoryview(part).nbytes >= ZERO_COPY_MIN


def send_message(sock: zmq.Socket, parts: Sequence[Any], flags: int = 0) -> None:
    """Send ``parts`` as one multipart message."""
    last = len(parts) - 1
    for i, part in enumerate(parts):
        more = zmq.SNDMORE if i < last else 0
        sock.send(part, flags | more, copy=not _zero_copy(part))


def recv_message(sock: zmq.Socket, head: int, flags: int = 0) -> tuple[list[bytes], list[Any]]:
    """Receive one multipart message as (first ``head`` parts as bytes, remaining frames).

    The remaining parts are zmq.Frame objects whose ``buffer`` views the received memory.
    ``flags`` (e.g. NOBLOCK) applies to the first part; the rest has already arrived.
    """
    envelope = [sock.recv(flags)]
    while len(envelope) < head and sock.rcvmore:
        envelope.append(sock.recv())
    buffers = []
    while sock.rcvmore:
        buffers.append(sock.recv(copy=False))
    return envelope, buffers
