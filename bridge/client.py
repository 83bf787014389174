"""Python reference client for the skbridge protocol.

Example::

    from bridge.client import Client
    with Client("ipc:///tmp/skbridge-xyz/sock") as client:
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
        client.call(km, "fit", X=X)
        labels = client.call(km, "predict", X=X)
        centers = client.get(km, "cluster_centers_")

Arrays (numpy, scipy CSR, pandas DataFrame) are sent as raw frames without copying when
they are already C-ordered little-endian. A sent array is on loan to ZeroMQ until its
reply arrives: do not modify it before then. Returned arrays are views of the received
frames (no copy); those frames belong to the caller alone, so the arrays may be modified.

A Client is **not thread-safe**: use one per thread (they are cheap; all share one ZeroMQ
context). Concurrent use from two threads raises RuntimeError instead of corrupting the
socket. Within one thread, :meth:`Client.submit` and :meth:`Client.result` pipeline
requests: send several, then collect their replies in any order.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from bridge.errors import BridgeError, ResourceExhausted, error_class
from bridge.frames import DatasetRef, Decoder, Encoder
from bridge.protocol import MAX_REQUEST_ID, PROTOCOL_VERSION
from bridge.sockets import recv_message, send_message, tune_socket

__all__ = ["BridgeDisconnected", "BridgeError", "Client", "RequestTimeout"]

# Field types that go into a header as they are.
_PLAIN = frozenset([type(None), bool, int, float, str])


class RequestTimeout(BridgeError, TimeoutError):
    """No reply arrived in time. Raised by the client only; never sent by a server."""

    code = "timeout"


class BridgeDisconnected(BridgeError, ConnectionError):
    """The connection to the server was lost (it died, froze past the heartbeat timeout,
    or restarted) while a reply was awaited. Client-side only; the client reconnects by
    itself, so later calls work once a server is back on the endpoint."""

    code = "disconnected"


class _Reply:
    __slots__ = ("ok", "value", "error")

    def __init__(self, ok: bool, value: Any, error: BridgeError | None) -> None:
        self.ok = ok
        self.value = value
        self.error = error


class Client:
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
    ) -> None:
        """``session`` names this client's session (the owner of the instances it
        creates; default: a fresh random id). With ``renew`` the client keeps its lease
        alive from a background thread once it owns an instance.

        ``heartbeat`` (seconds; None turns it off) makes libzmq's I/O thread exchange
        heartbeats with the server on a connection of the client's watchdog thread; a
        server that is dead or frozen for ``heartbeat_timeout`` seconds is noticed even
        while a fit runs or a large message is half sent, and the calls waiting for it
        raise :class:`BridgeDisconnected`.
        """
        self.endpoint = endpoint
        self.timeout = timeout
        self.session = session or uuid.uuid4().hex
        self._context = context or zmq.Context.instance()
        self._renew = renew
        self._renewing = False
        # The server's limits (from info), read before the first instance is created.
        self.limits: dict[str, Any] | None = None
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.linger = 0
        self._socket.sndhwm = 0
        self._socket.rcvhwm = 0
        if endpoint.startswith("tcp://["):
            self._socket.ipv6 = True
        tune_socket(self._socket)
        self._socket.connect(endpoint)
        self._watchdog: _Watchdog | None = None
        self._check_ms = -1
        self._drops_seen = 0
        if heartbeat or renew:
            self._watchdog = _Watchdog(
                self._context, endpoint, self.session, heartbeat, heartbeat_timeout
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
                if any(type(value) not in _PLAIN for value in fields.values()):
                    encoder = Encoder(tables=False)
                    header.update(encoder.encode(fields))
                    buffers = encoder.buffers
                else:
                    header.update(fields)
            packed = self._packer.pack(header)
            if buffers and self.limits:
                _check_sizes(buffers, self.limits)
            if buffers:
                send_message(self._socket, [packed, *buffers])
            else:
                self._socket.send(packed)
            self._outstanding.add(rid)
            return rid
        finally:
            self._guard.release()

    def result(self, rid: int, timeout: float | None = ...) -> Any:  # type: ignore[assignment]
        """Wait for the reply to request ``rid``; return its result or raise its error."""
        if rid not in self._outstanding and rid not in self._replies:
            raise ValueError(f"no request with id {rid} is pending")
        limit = self.timeout if timeout is ... else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while rid not in self._replies:
            self._receive_one(deadline, waiting_for=rid)
        reply = self._replies.pop(rid)
        if reply.error is not None:
            raise reply.error
        return reply.value

    def next_completed(self, timeout: float | None = ...) -> int:  # type: ignore[assignment]
        """Receive the next reply to arrive, keep it for :meth:`result`, return its id."""
        limit = self.timeout if timeout is ... else timeout
        deadline = None if limit is None else time.monotonic() + limit
        return self._receive_one(deadline, waiting_for=None)

    def _receive_one(self, deadline: float | None, *, waiting_for: int | None) -> int:
        self._enter()
        try:
            while True:
                wait_ms = -1
                if deadline is not None:
                    wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
                if self._check_ms >= 0 and (wait_ms < 0 or wait_ms > self._check_ms):
                    wait_ms = self._check_ms
                if wait_ms != self._rcvtimeo:
                    # A receive timeout instead of poll() + recv() saves a system call
                    # per reply; the option is only touched when the wait changes.
                    self._socket.rcvtimeo = self._rcvtimeo = wait_ms
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
        header = msgpack.unpackb(raw_header, raw=False)
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
        return self.result(self.submit(op, **fields), timeout)

    # -- operations --------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        return self.request("ping")

    def info(self) -> dict[str, Any]:
        return self.request("info")

    def instances(self) -> list[dict[str, Any]]:
        return self.request("instances")

    def stats(self) -> dict[str, Any]:
        return self.request("stats")

    def init(self, class_name: str, /, instance: str | None = None, **options: Any) -> str:
        """Create an instance; return its id (generated unless ``instance`` is given)."""
        self._read_limits()
        instance = instance or f"{class_name}{uuid.uuid4().hex[:12]}"
        self.request("init", **{"class": class_name, "instance": instance, "options": options})
        self._keep_lease()
        return instance

    def call(
        self,
        instance: str,
        method: str,
        /,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = ...,  # type: ignore[assignment]
        **params: Any,
    ) -> Any:
        """Call a method; ``{"instance": id}`` results come back as the id string.

        ``progress(event)`` receives the progress messages of a fitting method (step,
        steps, batch_inertia, ewa_inertia, epoch, elapsed). When ``timeout`` (seconds;
        default the client's) passes, the call is cancelled on the server as well and
        :class:`RequestTimeout` is raised; the instance is left as it was.
        """
        rid = self.submit_call(instance, method, progress=progress, **params)
        result = self.result(rid, timeout)
        if isinstance(result, dict) and set(result) == {"instance"}:
            return result["instance"]
        return result

    def submit_call(
        self,
        instance: str,
        method: str,
        /,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> int:
        """Send a ``call`` without waiting (see :meth:`call`); returns its request id."""
        fields: dict[str, Any] = {"instance": instance, "method": method, "params": params}
        if progress is not None:
            fields["progress"] = True
        rid = self.submit("call", **fields)
        if progress is not None:
            self._progress[rid] = progress
        return rid

    def cancel(self, rid: int) -> dict[str, Any]:
        """Cancel a submitted call: dropped if it waits, stopped at its next step if it
        runs. Its :meth:`result` then raises :class:`~bridge.errors.Cancelled`."""
        return self.request("cancel", target=rid)

    def _send_cancel(self, rid: int) -> None:
        header = {"v": PROTOCOL_VERSION, "id": 0, "op": "cancel", "session": self.session}
        header["target"] = rid
        try:
            self._socket.send(self._packer.pack(header), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the server is unreachable; there is nothing to stop

    def get(self, instance: str, attribute: str) -> Any:
        return self.request("get", instance=instance, attribute=attribute)

    def dispose(self, instance: str | DatasetRef) -> None:
        """Release an instance, or a dataset handle from :meth:`dataset`."""
        if isinstance(instance, DatasetRef):
            self.request("dispose", dataset=instance.id)
        else:
            self.request("dispose", instance=instance)

    def dataset(self, data: Any, name: str | None = None) -> DatasetRef:
        """Upload ``data`` (ndarray, CSR matrix, DataFrame) once; the handle returned goes
        in place of the data in later calls of this client, on any of its instances."""
        self._read_limits()
        handle = DatasetRef(name or f"ds{uuid.uuid4().hex[:16]}")
        self.request("dataset", dataset=handle.id, data=data)
        self._keep_lease()
        return handle

    def _read_limits(self) -> None:
        if self.limits is None:
            self.limits = self.info().get("limits", {})

    def _keep_lease(self) -> None:
        """This client owns something now: renew its lease from the background."""
        lease = float((self.limits or {}).get("lease_seconds") or 0)
        if self._renew and lease and not self._renewing and self._watchdog is not None:
            self._watchdog.renew(lease)
            self._renewing = True

    def datasets(self) -> list[dict[str, Any]]:
        return self.request("datasets")

    def shutdown(self) -> None:
        self.request("shutdown")

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        self._socket.close(linger=0)

    def __enter__(self) -> Client:
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


class _Watchdog:
    """A thread with a socket of its own to the server, for what the client's own socket
    cannot do while it waits or is busy sending a large message:

    - liveness: libzmq heartbeats on this idle connection notice a dead or frozen server
      (a heartbeat on the data connection waits behind a message stuck half-sent);
      every drop of the connection is counted in :attr:`drops`;
    - leases: once :meth:`renew` is called, a ``ping`` with the session id every third
      of the lease.
    """

    def __init__(
        self,
        context: zmq.Context,
        endpoint: str,
        session: str,
        heartbeat: float | None,
        heartbeat_timeout: float,
    ) -> None:
        self.drops = 0
        self._every: float | None = None
        self._stop = threading.Event()
        self._sock = sock = context.socket(zmq.DEALER)
        sock.linger = 0
        if endpoint.startswith("tcp://["):
            sock.ipv6 = True
        self._monitor: zmq.Socket | None = None
        if heartbeat:
            sock.setsockopt(zmq.HEARTBEAT_IVL, int(heartbeat * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(heartbeat_timeout * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TTL, int(heartbeat_timeout * 1000))
            self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        sock.connect(endpoint)
        self._session = session
        self._tick = heartbeat or 1.0
        self._thread = threading.Thread(target=self._run, name="skbridge-watchdog", daemon=True)
        self._thread.start()

    def renew(self, lease: float) -> None:
        self._every = max(0.05, min(60.0, lease / 3))

    def _run(self) -> None:
        sock, monitor = self._sock, self._monitor
        packer = msgpack.Packer(use_bin_type=True)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        next_ping = time.monotonic()
        rid = 0
        try:
            while not self._stop.is_set():
                every = self._every
                if every is not None and time.monotonic() >= next_ping:
                    rid += 1
                    header = {"v": PROTOCOL_VERSION, "id": rid, "op": "ping"}
                    header["session"] = self._session
                    sock.send(packer.pack(header), zmq.NOBLOCK)
                    next_ping = time.monotonic() + every
                wait = self._tick if every is None else min(self._tick, every)
                for ready, _ in poller.poll(int(wait * 1000)):
                    ready.recv_multipart()  # ping replies only prove the server is there
                    if ready is monitor:
                        self.drops += 1
        except zmq.ZMQError:
            pass  # closed under us at exit
        finally:
            if monitor is not None:
                sock.disable_monitor()
                monitor.close(linger=0)
            sock.close(linger=0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
