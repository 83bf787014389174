"""The server's lifecycle and socket loop.

This module owns the ROUTER socket: binding, the receive loop, checking each request's
envelope, sending replies, and stopping. What an operation does is in
:mod:`bridge.operations`; which job runs when, in :mod:`bridge.scheduler`; the instances
themselves, in :mod:`bridge.registry`. All of them are used from the loop's thread only.
Estimator work runs in a :class:`~bridge.workers.WorkerPool`; a worker's reply comes back
with the instance token, and the loop forwards it and tells the scheduler. This keeps
``ping`` fast while fits run, keeps calls on one instance in arrival order and lets
different instances run in parallel.

Workers (and :meth:`Server.stop`) reach the loop through the ROUTER itself: besides the
client endpoint it binds a private inproc endpoint, and their DEALER sockets connect to it
under routing ids that hold a random secret. So the loop waits in a plain blocking
``recv`` on one socket. Polling several sockets instead (``zmq.Poller``) costs a
zero-timeout poll pass and an ``EVENTS`` query per socket per wake-up, a good part of a
small round trip. A client cannot pose as a worker: it would have to guess the secret, and
the ROUTER refuses a second peer with a routing id already in use.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

import msgpack
import zmq

from bridge.auth import CurveServer, ShutdownPolicy
from bridge.classes import CLASSES, Offered
from bridge.dispatch import internal_error
from bridge.durability import Durability, restore
from bridge.endpoints import Endpoint
from bridge.errors import BridgeError, ProtocolError, error_class
from bridge.limits import Limits, MemoryBudget, default_memory_bytes
from bridge.memory import release_free_memory
from bridge.metrics import Stats, gauges
from bridge.model_ops import ModelOps
from bridge.operations import Operations, Request
from bridge.protocol import (
    OPERATIONS,
    check_request,
    failure,
    header_unpacker,
    request_id,
    session_name,
    success,
    unpack_header,
)
from bridge.reaper import reap
from bridge.registry import Registry
from bridge.scheduler import Scheduler
from bridge.sessions import Sessions
from bridge.sockets import NOBLOCK, send_message, tune_socket
from bridge.state import StateStore
from bridge.workers import INTERIM, WorkerPool

__all__ = ["Server", "default_workers"]

log = logging.getLogger("skbridge.server")

_LINGER_MS = 1000
# Quiet time after which free memory kept for the next large message is given back.
_IDLE_MS = 2000
# Period of the loop's timed work (lease expiry, idle release).
_TICK_MS = 500
# Messages queued per peer and direction (see __init__).
_HWM = 10_000


def default_workers(backend: Any = None) -> int:
    if backend is not None:
        # Workers of the Ray backend only wait for actors: enough for many nodes' work.
        return 32
    return min(8, max(2, os.cpu_count() or 2))


class Server:
    """A bridge server bound to one endpoint. Use :meth:`serve` from the main thread."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        workers: int | None = None,
        debug: bool = False,
        classes: Mapping[str, Offered] = CLASSES,
        release_idle_memory: bool = False,
        limits: Limits | None = None,
        state_dir: str | None = None,
        curve: CurveServer | None = None,
        shutdown_token: str | None = None,
        backend: Any = None,
    ) -> None:
        """``release_idle_memory``: call :func:`~bridge.memory.release_free_memory` after
        ``_IDLE_MS`` without messages (for a process set up by ``keep_free_memory``).
        ``state_dir``: keep every instance on disk there and restore them now
        (bridge.state). ``curve``: accept only CURVE clients with authorised keys, and
        keep each key's instances to itself (bridge.auth). ``shutdown_token``: the
        secret a ``shutdown`` request must carry (unless sent with an admin key).
        ``backend``: a :class:`bridge.ray_backend.RayBackend` to hold the instances on a
        Ray cluster (None: in this process); the server closes it."""
        self.endpoint = endpoint
        self.debug = debug
        self._release_idle_memory = release_idle_memory
        self.limits = limits = limits or Limits()
        self.registry = Registry(classes)
        self.sessions = Sessions(limits.lease_seconds)
        self.budget = MemoryBudget(limits.max_memory_bytes or default_memory_bytes())
        self.stats = Stats(lambda: gauges(self.operations))
        self._context = zmq.Context()
        self._router = self._context.socket(zmq.ROUTER)
        # Bounded queues per peer: a client that floods stops being read (its sender
        # blocks) instead of growing the server's memory. Replies are never more than
        # the requests a session may have in flight plus cheap answers.
        self._router.rcvhwm = _HWM
        self._router.sndhwm = _HWM
        if limits.max_message_bytes:
            # libzmq drops a peer whose frame is larger, before the frame is buffered.
            self._router.setsockopt(zmq.MAXMSGSIZE, limits.max_message_bytes)
        self._router.ipv6 = endpoint.ipv6
        tune_socket(self._router)
        self._curve = curve
        self._authenticator = curve.start(self._context) if curve is not None else None
        self._shutdown_policy = ShutdownPolicy(shutdown_token, curve)
        # The authenticated key of the message being handled (CURVE only).
        self._user: str | None = None
        secret = os.urandom(16)
        inside = f"inproc://skbridge-{secret.hex()}"
        self._router.bind(inside)
        if curve is not None:
            curve.apply(self._router)  # for the client endpoint bound next
        size = workers or default_workers(backend)
        self.backend = backend
        # Routing ids of the loop's own peers; no client id can equal one (see above).
        worker_ids = [b"w" + secret + bytes([i]) for i in range(size)]
        self._waker_id = b"s" + secret
        side_id = b"x" + secret
        self._inside = frozenset([*worker_ids, self._waker_id, side_id])
        self._waker = self._context.socket(zmq.DEALER)
        self._waker.routing_id = self._waker_id
        self._waker.linger = 0
        self._waker.connect(inside)
        self._waker_lock = threading.Lock()
        self.scheduler = Scheduler(WorkerPool(self._context, inside, worker_ids))
        # One thread for work the loop hands off that belongs to no instance (listing).
        self._side = WorkerPool(self._context, inside, [side_id])
        self._stopping = False
        self.bound_url: str | None = None
        # Replies built on the loop thread only (a Packer is not thread-safe; workers use
        # pack_header, which makes its own).
        self._pack = msgpack.Packer(use_bin_type=True).pack
        classes_by_name = {name: offered.cls for name, offered in classes.items()}
        self.store = (
            StateStore(state_dir, classes_by_name, max_bytes=self.budget.limit or 1 << 40)
            if state_dir
            else None
        )
        self.operations = Operations(
            self.registry,
            self.scheduler,
            self.sessions,
            limits,
            self.budget,
            reply=self._reply,
            send=self._send,
            pack=self._pack,
            stats=self.stats.snapshot,
            side=self._side.submit,
            debug=debug,
            durability=Durability(self.store),
            backend=backend,
        )
        self.restored = restore(self.operations, self.operations.durability, time.monotonic())
        self._handlers = {
            **self.operations.handlers,
            **ModelOps(self.operations).handlers,
            "shutdown": self._shutdown,
        }
        self._unpack = header_unpacker(limits)
        self._next_tick = 0.0
        self._last_message = 0.0
        self._released = True  # nothing received since the last release
        # Ops whose requests may carry buffer frames (those with array references).
        self._with_buffers = frozenset(name for name, op in OPERATIONS.items() if op.buffers)

    # -- lifecycle ---------------------------------------------------------------------

    def bind(self) -> str:
        """Bind the ROUTER; return the concrete endpoint (with the real port for tcp)."""
        self._router.bind(self.endpoint.url)
        self.bound_url = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.bound_url

    def install_signal_handlers(self) -> None:
        """Stop on SIGINT/SIGTERM.

        A signal interrupts the loop's blocking receive; pyzmq runs this handler and then
        resumes the receive, which the wake-up message sent here ends at once.
        """

        def handler(signum: int, frame: Any) -> None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            self._wake(blocking=False)

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def stop(self) -> None:
        """Ask :meth:`serve` to return; safe to call from any thread."""
        self._wake(blocking=True)

    def _wake(self, *, blocking: bool) -> None:
        self._stopping = True
        # The lock makes the waker usable from any thread; a signal handler that finds it
        # taken (the interrupted code is inside stop()) has nothing left to do.
        if not self._waker_lock.acquire(blocking=blocking):
            return
        try:
            self._waker.send(b"", NOBLOCK)
        except zmq.ZMQError:
            pass  # already closed: nothing is waiting any more
        finally:
            self._waker_lock.release()

    def serve(self) -> None:
        router = self._router
        recv = router.recv
        inside = self._inside
        monotonic = time.monotonic
        curve = self._curve is not None
        # The loop wakes at least every tick for timed work (leases, idle memory release).
        router.rcvtimeo = _TICK_MS
        while not self._stopping:
            try:
                # A frame rather than bytes: it says whether more parts follow, which
                # saves a RCVMORE query per part.
                frame = recv(copy=False)
            except zmq.Again:
                self._tick(monotonic())
                continue
            identity = frame.bytes
            if identity in inside:
                self._from_inside(identity)
            else:
                if curve:  # ZAP's User-Id: the z85 public key the client connected with
                    self._user = frame.get("User-Id")
                self._request(identity, frame.more)
            now = monotonic()
            self._last_message = now
            self._released = False
            if now >= self._next_tick:
                self._tick(now)

    def _tick(self, now: float) -> None:
        """Timed work: reap expired sessions, give back idle memory."""
        self._next_tick = now + _TICK_MS / 1000
        for session in self.sessions.expired(now):
            try:
                reap(session, self.operations, self.stats, self.sessions.lease_seconds)
            except Exception:  # housekeeping must never stop the loop
                log.exception("internal error reaping session %s", session.name)
        if (
            self._release_idle_memory
            and not self._released
            and now - self._last_message >= _IDLE_MS / 1000
        ):
            release_free_memory()
            self._released = True

    def _request(self, identity: bytes, more: bool) -> None:
        """Receive the rest of a client's message (``more``: whether it has parts after
        the routing frame) and handle it.

        A function of its own so the request's frames are released as soon as it is
        handled, not when the next message arrives.
        """
        recv = self._router.recv
        header = None
        frames = []
        if more:
            frame = recv(copy=False)
            # An oversized header is refused by its length alone (in _handle), never
            # copied: copying a 50 MB one held the loop for ~20 ms.
            header = frame.bytes if len(frame) <= self.limits.max_header_bytes else frame
            more = frame.more
        while more:
            frame = recv(copy=False)
            frames.append(frame)
            more = frame.more
        self._handle(identity, header, frames)

    def close(self) -> bool:
        """Release everything; True if no estimator call was still running."""
        idle = self.scheduler.stop(timeout=1.0)
        self._side.stop(timeout=1.0)
        self._router.close(linger=_LINGER_MS)  # still delivers queued replies (shutdown's)
        with self._waker_lock:
            self._waker.close()
        if self._authenticator is not None:
            self._authenticator.stop()  # its sockets would hold up the context's term()
        # term() waits for the linger above; it also waits for sockets of workers still
        # inside a long call, so it runs in a daemon thread we give up on after a while.
        terminator = threading.Thread(target=self._context.term, daemon=True)
        terminator.start()
        terminator.join(_LINGER_MS / 1000 + 0.5)
        if not idle:
            log.warning("exiting while estimator calls are still running")
        if self.store is not None:
            self.store.close()
        if self.backend is not None:
            self.backend.close()
        if self.bound_url is not None:
            self.endpoint.remove_socket_file()
        self.endpoint.cleanup()
        return idle

    # -- the loop ----------------------------------------------------------------------

    def _from_inside(self, peer: bytes) -> None:
        """A worker's [token, identity, header, *buffers] (or a bare token), or a wake-up."""
        recv = self._router.recv
        frame = recv(copy=False)
        token = frame.bytes
        reply: list[Any] = []
        more = frame.more
        while more:
            frame = recv(copy=False)
            # The client's identity and the header are small; buffers are forwarded as
            # the frames they arrived in, without copying.
            reply.append(frame.bytes if len(reply) < 2 else frame)
            more = frame.more
        if peer == self._waker_id:
            return  # stop() was called; the loop checks _stopping next
        if token == INTERIM:  # progress of a running job: forward only
            self._send(reply)
            return
        if reply:  # a bare token (the job failed to build a reply) only frees the queue
            self._send(reply)
            self.stats.reply(reply[1])
        job = self.scheduler.finished(token)
        if job is not None:
            try:
                self.operations.settle(job)
            except Exception:  # accounting must never stop the loop
                log.exception("internal error settling a finished job")
            self.stats.latency(time.monotonic() - job.received)

    def _send(self, parts: list[Any]) -> None:
        try:
            send_message(self._router, parts, NOBLOCK)
        except zmq.ZMQError as exc:  # the peer is gone; nobody is left to tell
            log.warning("dropping a reply: %s", exc)

    def _reply(self, identity: Any, header: dict[str, Any]) -> None:
        """Send a reply built on the loop thread (never with buffers)."""
        self._send([identity, self._pack(header)])
        if not header["ok"]:
            self.stats.error(header["error"]["code"])

    def _handle(self, identity: bytes, raw_header: Any, frames: list[Any]) -> None:
        rid: int | None = None
        received = time.monotonic()
        try:
            if raw_header is None:
                raise ProtocolError("empty message: expected a header frame")
            self.limits.check_header(len(raw_header))
            header = unpack_header(raw_header, self._unpack)
            rid = request_id(header)  # known before the checks, so errors can carry it
            op = check_request(header, rid)
            self.stats.request(op)
            if frames:
                if op not in self._with_buffers:
                    raise ProtocolError(f"'{op}' takes no buffer frames, got {len(frames)}")
                self.limits.check_frames(len(frames))
                buffers = [frame.buffer for frame in frames]
            else:
                buffers = []
            user = self._user
            name = header.get("session")
            # A session already in the table had its name checked when it was created.
            session = None
            if user is None and type(name) is str:
                session = self.sessions.renew(name, received)
            if session is None:
                name = session_name(header, identity)
                if user is not None:  # sessions of different keys never mix
                    name = f"{user}/{name}"
                session = self.sessions.touch(name, received)
            request = Request(identity, rid, header, buffers, session, received, user)
            queued = self._handlers[op](request)
        except BridgeError as exc:
            self._reply(identity, failure(rid, exc.to_wire(debug=self.debug)))
        except Exception as exc:  # a bug in a handler must not stop the server
            error = internal_error(exc, debug=self.debug)
            self._reply(identity, failure(rid, error.to_wire(debug=self.debug)))
        else:
            if not queued:
                self.stats.latency(time.monotonic() - received)

    def _shutdown(self, request: Request) -> None:
        if not self._shutdown_policy.allows(request.header, request.user):
            raise error_class("forbidden")(
                "shutdown needs the token of the process that started the server or an "
                "admin key (--admin-keys)"
            )
        self._reply(request.identity, success(request.rid, {"shutdown": True}))
        log.info("shutdown requested")
        self._stopping = True
