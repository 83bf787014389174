"""The plumbing of the Python reference client: one DEALER connection, requests and
replies matched by id, liveness and limits. :class:`bridge.client.Client` adds the
operations on top.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from bridge.auth import client_curve
from bridge.errors import BridgeError, ResourceExhausted, error_class
from bridge.frames import Decoder, Encoder
from bridge.protocol import MAX_REQUEST_ID, PLAIN_TYPES, PROTOCOL_VERSION
from bridge.sockets import recv_message, send_message, tune_socket
from bridge.watchdog import Watchdog

__all__ = ["BridgeDisconnected", "Connection", "RequestTimeout"]


class RequestTimeout(BridgeError, TimeoutError):
    """No reply arrived in time. Raised by the client only; never sent by a server."""

    code = "timeout"


class BridgeDisconnected(BridgeError, ConnectionError):
    """The connection to the server was lost (it died, froze past the heartbeat timeout,
    or restarted) while a reply was awaited. Client-side only; the client reconnects by
    itself, so later calls work once a server is back on the endpoint."""

    code = "disconnected"


# What :meth:`Connection._await_alone` returns when the general receive must go on.
_NOT_YET = object()


class _Reply:
    __slots__ = ("ok", "value", "error")

    def __init__(self, ok: bool, value: Any, error: BridgeError | None) -> None:
        self.ok = ok
        self.value = value
        self.error = error


class Connection:
    """A DEALER connection to one bridge server.

    ``timeout`` (seconds, None for no limit) applies to each :meth:`result` wait unless
    overridden per call.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float | None = 60.0,
        context: zmq.Context | None = None,
        session: str | None = None,
        renew: bool = True,
        heartbeat: float | None = 1.0,
        heartbeat_timeout: float = 3.0,
        server_key: str | os.PathLike[str] | bytes | None = None,
        client_key: str | os.PathLike[str] | bytes | None = None,
    ) -> None:
        """``session`` names this client's session (the owner of the instances it
        creates; default: a fresh random id). With ``renew`` the client keeps its lease
        alive from a background thread once it owns an instance.

        ``heartbeat`` (seconds; None turns it off) makes libzmq's I/O thread exchange
        heartbeats with the server on a connection of the client's watchdog thread; a
        server that is dead or frozen for ``heartbeat_timeout`` seconds is noticed even
        while a fit runs or a large message is half sent, and the calls waiting for it
        raise :class:`BridgeDisconnected`.

        For a server started with CURVE keys, ``server_key`` is its public key (the
        ``NAME.key`` file or the z85 key) and ``client_key`` this client's key pair (the
        ``NAME.key_secret`` file or the z85 secret key)."""
        self.endpoint = endpoint
        self.timeout = timeout
        self.session = session or uuid.uuid4().hex
        self._context = context or zmq.Context.instance()
        self._renew = renew
        self._renewing = False
        # The server's limits (from info), read before the first instance is created.
        self.limits: dict[str, Any] | None = None
        self._curve: dict[int, bytes] = {}
        if server_key is not None or client_key is not None:
            if server_key is None or client_key is None:
                raise ValueError("server_key and client_key go together")
            self._curve = client_curve(server_key, client_key)
        self._socket = self._context.socket(zmq.DEALER)
        for option, value in self._curve.items():
            self._socket.setsockopt(option, value)
        self._socket.linger = 0
        self._socket.sndhwm = 0
        self._socket.rcvhwm = 0
        # With no connection at all (refused handshake, nothing there yet) a send has no
        # queue to go to and blocks: bound it like the wait for the reply.
        if timeout is not None:
            self._socket.sndtimeo = max(1, int(timeout * 1000))
        if endpoint.startswith("tcp://["):
            self._socket.ipv6 = True
        tune_socket(self._socket)
        self._socket.connect(endpoint)
        self._watchdog: Watchdog | None = None
        self._check_ms = -1
        self._drops_seen = 0
        if heartbeat or renew:
            self._watchdog = Watchdog(
                self._context, endpoint, self.session, heartbeat, heartbeat_timeout, self._curve
            )
        if heartbeat:
            # A wait longer than this looks at the watchdog in between (never one that a
            # reply ends sooner, so small calls pay nothing for it).
            self._check_ms = int(heartbeat * 1000)
        self._ids = itertools.count(1)
        self._replies: dict[int, _Reply] = {}
        self._outstanding: set[int] = set()
        self._guard = threading.Lock()
        self._rcvtimeo = -1
        self._packer = msgpack.Packer(use_bin_type=True)
        # Request id -> progress callback of a call that asked for progress.
        self._progress: dict[int, Callable[[dict[str, Any]], None]] = {}

    # -- plumbing ----------------------------------------------------------------------

    def _enter(self) -> None:
        if not self._guard.acquire(blocking=False):
            raise RuntimeError("Client is not thread-safe; use one Client per thread")

    def submit(self, op: str, **fields: Any) -> int:
        """Send a request without waiting; return its id for :meth:`result`.

        ``fields`` are the header keys besides ``v``, ``id`` and ``op``; arrays anywhere
        inside them are sent as frames.
        """
        self._enter()
        try:
            if not self._outstanding and self._watchdog is not None:
                # A drop seen while nothing was in flight lost nothing; forget it so it
                # is not blamed on this request.
                self._drops_seen = self._watchdog.drops
            rid = next(self._ids) % (MAX_REQUEST_ID + 1)
            header = {"v": PROTOCOL_VERSION, "id": rid, "op": op, "session": self.session}
            buffers: list[Any] = []
            if fields:
                # Plain fields (get, dispose) skip the Encoder on the hot path.
                if any(type(value) not in PLAIN_TYPES for value in fields.values()):
                    encoder = Encoder(tables=False)
                    header.update(encoder.encode(fields))
                    buffers = encoder.buffers
                else:
                    header.update(fields)
            packed = self._packer.pack(header)
            if buffers and self.limits:
                _check_sizes(buffers, self.limits)
            try:
                if buffers:
                    send_message(self._socket, [packed, *buffers])
                else:
                    self._socket.send(packed)
            except zmq.Again:
                raise RequestTimeout(
                    f"could not send request {rid} ({op}) within {self.timeout} s: no "
                    f"connection to {self.endpoint} (server down, or refusing this client)"
                ) from None
            self._outstanding.add(rid)
            return rid
        finally:
            self._guard.release()

    def result(self, rid: int, timeout: float | None = ...) -> Any:  # type: ignore[assignment]
        """Wait for the reply to request ``rid``; return its result or raise its error."""
        if rid not in self._outstanding and rid not in self._replies:
            raise ValueError(f"no request with id {rid} is pending")
        return self._wait(rid, self._deadline(timeout))

    def _deadline(self, timeout: float | None = ...) -> float | None:  # type: ignore[assignment]
        limit = self.timeout if timeout is ... else timeout
        return None if limit is None else time.monotonic() + limit

    def _wait(self, rid: int, deadline: float | None) -> Any:
        while rid not in self._replies:
            self._receive_one(deadline, waiting_for=rid)
        reply = self._replies.pop(rid)
        if reply.error is not None:
            raise reply.error
        return reply.value

    def next_completed(self, timeout: float | None = ...) -> int:  # type: ignore[assignment]
        """Receive the next reply to arrive, keep it for :meth:`result`, return its id."""
        return self._receive_one(self._deadline(timeout), waiting_for=None)

    def _receive_one(self, deadline: float | None, *, waiting_for: int | None) -> int:
        self._enter()
        try:
            while True:
                self._set_wait(deadline)
                try:
                    envelope, buffers = recv_message(self._socket, head=1)
                except zmq.Again:
                    if self._disconnected():
                        self._lose_outstanding()
                        if waiting_for is None and self._replies:
                            return next(iter(self._replies))
                        if waiting_for in self._replies:
                            return waiting_for
                    if deadline is None or time.monotonic() < deadline:
                        continue
                    if waiting_for is not None:
                        self._outstanding.discard(waiting_for)
                        self._progress.pop(waiting_for, None)
                        # Stop the work too, not only the wait (a no-op for cheap ops).
                        self._send_cancel(waiting_for)
                    raise RequestTimeout(
                        "no reply from the server in time"
                        + (f" (request {waiting_for})" if waiting_for is not None else "")
                    ) from None
                rid = self._store(envelope[0], buffers)
                if rid is not None:
                    return rid
        finally:
            self._guard.release()

    def _set_wait(self, deadline: float | None) -> None:
        """Let the next receive wait until ``deadline``, or the watchdog's interval."""
        wait_ms = -1
        if deadline is not None:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
        if self._check_ms >= 0 and (wait_ms < 0 or wait_ms > self._check_ms):
            wait_ms = self._check_ms
        if wait_ms != self._rcvtimeo:
            # A receive timeout instead of poll() + recv() saves a system call per
            # reply; the option is only touched when the wait changes.
            self._socket.rcvtimeo = self._rcvtimeo = wait_ms

    def _disconnected(self) -> bool:
        """Whether the server was lost since the last look (the watchdog's count)."""
        if self._watchdog is None or self._watchdog.drops == self._drops_seen:
            return False
        self._drops_seen = self._watchdog.drops
        return True

    def _lose_outstanding(self) -> None:
        """Every request in flight is lost with the connection: fail each one."""
        for rid in self._outstanding:
            self._replies[rid] = _Reply(
                False,
                None,
                BridgeDisconnected(
                    f"lost the connection to {self.endpoint} while request {rid} was "
                    "pending (server dead, frozen or restarted)"
                ),
            )
            self._progress.pop(rid, None)
        self._outstanding.clear()

    def _store(self, raw_header: bytes, frames: list[Any]) -> int | None:
        """Decode a reply and file it under its id; None if it belongs to nobody."""
        return self._file(msgpack.unpackb(raw_header, raw=False), frames)

    def _file(self, header: dict[str, Any], frames: list[Any]) -> int | None:
        """File a decoded reply under its id; None if it belongs to nobody."""
        rid = header.get("id")
        if "ok" not in header and "progress" in header:  # an interim message
            callback = self._progress.get(rid)
            if callback is not None:
                callback(header["progress"])
            return None
        if rid is None:
            # The server could not read one of our requests at all, so it cannot say which
            # one: nobody's reply. Pending requests end by their own timeout.
            error = header.get("error") or {}
            warnings.warn(
                f"server could not read a request ({error.get('code')}): {error.get('message')}",
                RuntimeWarning,
                stacklevel=4,
            )
            return None
        if rid not in self._outstanding:
            return None  # a reply we stopped waiting for
        self._outstanding.discard(rid)
        self._progress.pop(rid, None)
        if header.get("ok"):
            value = header.get("result")
            if frames:  # array references always come with buffer frames
                value = Decoder([frame.buffer for frame in frames], accept_tables=True).decode(
                    value
                )
            self._replies[rid] = _Reply(True, value, None)
        else:
            error = header.get("error") or {}
            cls = error_class(str(error.get("code", "internal")))
            exc = cls(
                str(error.get("message", "")),
                details=error.get("details"),
                traceback=error.get("traceback"),
                code=None if cls is not BridgeError else str(error.get("code")),
            )
            self._replies[rid] = _Reply(False, None, exc)
        return rid

    def request(self, op: str, *, timeout: float | None = ..., **fields: Any) -> Any:  # type: ignore[assignment]
        """Send one request and wait for its result."""
        deadline = self._deadline(timeout)
        rid = self.submit(op, **fields)
        if len(self._outstanding) == 1 and not self._replies and not self._progress:
            value = self._await_alone(rid, deadline)
            if value is not _NOT_YET:
                return value
        return self._wait(rid, deadline)

    def _await_alone(self, rid: int, deadline: float | None) -> Any:
        """The common case of :meth:`request`, kept short because every small call pays
        for it: ``rid`` is the only request in flight, and one receive brings its reply,
        a plain success. Anything else (no reply yet, an error, buffers, another message)
        is filed as :meth:`result` would file it, and ``_NOT_YET`` says to go on there.
        """
        self._enter()
        try:
            self._set_wait(deadline)
            try:
                envelope, buffers = recv_message(self._socket, head=1)
            except zmq.Again:
                return _NOT_YET
            if buffers:  # array results: the general way
                self._store(envelope[0], buffers)
                return _NOT_YET
            header = msgpack.unpackb(envelope[0], raw=False)
            if header.get("ok") is True and header.get("id") == rid:
                self._outstanding.discard(rid)
                return header.get("result")
            self._file(header, [])
            return _NOT_YET
        finally:
            self._guard.release()

    # -- operations --------------------------------------------------------------------

    def _send_cancel(self, rid: int) -> None:
        header = {"v": PROTOCOL_VERSION, "id": 0, "op": "cancel", "session": self.session}
        header["target"] = rid
        try:
            self._socket.send(self._packer.pack(header), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the server is unreachable; there is nothing to stop

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        self._socket.close(linger=0)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_sizes(buffers: list[Any], limits: dict[str, Any]) -> None:
    """Refuse to send what the server would refuse, with the reason, before sending."""
    largest = max(memoryview(buffer).nbytes for buffer in buffers)
    limit = limits.get("max_message_bytes") or 0
    if limit and largest > limit:
        raise ResourceExhausted(
            f"an array of {largest} bytes exceeds the server's max_message_bytes={limit}; "
            "send smaller batches or raise --max-message-bytes"
        )
    frames = limits.get("max_frames") or 0
    if frames and len(buffers) > frames:
        raise ResourceExhausted(
            f"{len(buffers)} arrays in one request exceed the server's max_frames={frames}"
        )
