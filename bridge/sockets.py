"""Sending and receiving multipart messages with zero copy only where it pays.

ZeroMQ's zero-copy paths (pyzmq ``copy=False``) cost tens of microseconds per message in
bookkeeping, which dominates small round trips; copying a few hundred bytes costs almost
nothing. So envelopes (routing ids, tokens, msgpack headers) are copied, and only array
buffers, which can be hundreds of megabytes, travel without copies.

The flags and option names are plain ints here: pyzmq's constants are ``enum.Flag``
members, and ``0 | zmq.SNDMORE`` or ``sock.rcvmore`` go through Python-level enum and
attribute machinery that costs about a microsecond each, several times per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zmq

__all__ = [
    "BUFFER_BYTES",
    "NOBLOCK",
    "ZERO_COPY_MIN",
    "recv_message",
    "send_message",
    "tune_socket",
]

# Buffers at least this large are sent without copying (pyzmq's own default threshold).
ZERO_COPY_MIN = zmq.COPY_THRESHOLD

NOBLOCK = int(zmq.NOBLOCK)
SNDMORE = int(zmq.SNDMORE)
RCVMORE = int(zmq.RCVMORE)

# Kernel socket buffer size asked for on the bridge's sockets. The default (about 200 KB
# on Linux) makes a large message cross in many small read/write system calls, each
# waking the other side; 4 MiB lets the ipc/tcp stream move big arrays in big chunks.
# The kernel caps it at net.core.[rw]mem_max, which is harmless. Small messages do not
# notice the difference.
BUFFER_BYTES = 4 * 1024 * 1024


def tune_socket(sock: zmq.Socket) -> None:
    """Apply the bridge's kernel buffer sizes (before connect/bind)."""
    sock.setsockopt(zmq.SNDBUF, BUFFER_BYTES)
    sock.setsockopt(zmq.RCVBUF, BUFFER_BYTES)


def _zero_copy(part: Any) -> bool:
    if isinstance(part, bytes):
        return False
    if isinstance(part, zmq.Frame):
        return True  # forwarding a received frame shares its buffer
    return memoryview(part).nbytes >= ZERO_COPY_MIN


def send_message(sock: zmq.Socket, parts: Sequence[Any], flags: int = 0) -> None:
    """Send ``parts`` as one multipart message."""
    last = len(parts) - 1
    more = flags | SNDMORE
    send = sock.send
    if last == 1 and type(parts[0]) is bytes and type(parts[1]) is bytes:
        # The usual reply (routing id, header): two sends, without the loop's checks.
        send(parts[0], more)
        send(parts[1], flags)
        return
    for i, part in enumerate(parts):
        if type(part) is bytes:  # the common case: envelopes and headers, always copied
            send(part, more if i < last else flags)
        else:
            send(part, more if i < last else flags, copy=not _zero_copy(part))


def recv_message(sock: zmq.Socket, head: int, flags: int = 0) -> tuple[list[bytes], list[Any]]:
    """Receive one multipart message as (first ``head`` parts as bytes, remaining frames).

    The remaining parts are zmq.Frame objects whose ``buffer`` views the received memory.
    ``flags`` (e.g. NOBLOCK) applies to the first part; the rest has already arrived.
    Each frame says whether more follow, which saves a RCVMORE query per part.
    """
    recv = sock.recv
    frame = recv(flags, copy=False)
    envelope = [frame.bytes]
    more = frame.more
    while more and len(envelope) < head:
        frame = recv(copy=False)
        envelope.append(frame.bytes)
        more = frame.more
    buffers = []
    while more:
        frame = recv(copy=False)
        buffers.append(frame)
        more = frame.more
    return envelope, buffers
