"""The socket loop: receive requests, answer the cheap ones, queue the rest per instance.

One thread owns the ROUTER socket, the registry and every instance's FIFO. Estimator work
runs in a :class:`~bridge.workers.WorkerPool`; a worker's reply comes back together with
the instance token, and the loop forwards it and starts that instance's next queued job.
This keeps ``ping`` fast while fits run, keeps calls on one instance in arrival order and
lets different instances run in parallel.

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
import platform
import signal
import struct
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import msgpack
import numpy as np
import sklearn
import zmq

from bridge import __version__
from bridge.classes import CLASSES, Offered
from bridge.dispatch import (
    call_method,
    check_attribute,
    check_method,
    decode_options,
    read_attribute,
    translate,
)
from bridge.endpoints import Endpoint
from bridge.errors import BridgeError, InternalError, ProtocolError
from bridge.frames import Encoder
from bridge.memory import release_free_memory
from bridge.protocol import (
    PROTOCOL_VERSION,
    check_request,
    failure,
    pack_header,
    request_id,
    require_instance_id,
    require_map,
    require_str,
    success,
    unpack_header,
)
from bridge.registry import Registry, Slot
from bridge.sockets import NOBLOCK, RCVMORE, send_message, tune_socket
from bridge.workers import Job, WorkerPool

__all__ = ["Server", "default_workers"]

log = logging.getLogger("skbridge.server")

_TOKEN = struct.Struct("<Q")
# Result types sent as they are (numpy scalars and arrays go through the Encoder).
_PLAIN = frozenset([type(None), bool, int, float, str])
_LINGER_MS = 1000
# Quiet time after which free memory kept for the next large message is given back.
_IDLE_MS = 2000


def default_workers() -> int:
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
    ) -> None:
        """``release_idle_memory``: call :func:`~bridge.memory.release_free_memory` after
        ``_IDLE_MS`` without messages (for a process set up by ``keep_free_memory``)."""
        self.endpoint = endpoint
        self.debug = debug
        self._release_idle_memory = release_idle_memory
        self.registry = Registry(classes)
        self._context = zmq.Context()
        self._router = self._context.socket(zmq.ROUTER)
        # Unlimited queues: a pipelining client must never see its replies dropped.
        self._router.sndhwm = 0
        self._router.rcvhwm = 0
        self._router.ipv6 = endpoint.ipv6
        tune_socket(self._router)
        secret = os.urandom(16)
        inside = f"inproc://skbridge-{secret.hex()}"
        self._router.bind(inside)
        size = workers or default_workers()
        # Routing ids of the loop's own peers; no client id can equal one (see above).
        worker_ids = [b"w" + secret + bytes([i]) for i in range(size)]
        self._waker_id = b"s" + secret
        self._inside = frozenset([*worker_ids, self._waker_id])
        self._waker = self._context.socket(zmq.DEALER)
        self._waker.routing_id = self._waker_id
        self._waker.linger = 0
        self._waker.connect(inside)
        self._waker_lock = threading.Lock()
        self._pool = WorkerPool(self._context, inside, worker_ids)
        self._busy: dict[bytes, Slot] = {}  # token -> slot with a job running
        self._stopping = False
        self.bound_url: str | None = None
        # Replies built on the loop thread only (a Packer is not thread-safe; workers use
        # pack_header, which makes its own).
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._handlers: dict[str, Callable[[Any, int, dict[str, Any], list[Any]], None]] = {
            "ping": self._ping,
            "info": self._info,
            "instances": self._instances,
            "init": self._init,
            "call": self._call,
            "get": self._get,
            "dispose": self._dispose,
            "shutdown": self._shutdown,
        }

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
        release = self._release_idle_memory
        armed = False  # a receive timeout is set to notice the next idle moment
        while not self._stopping:
            try:
                identity = recv()
            except zmq.Again:  # _IDLE_MS without a message
                release_free_memory()
                router.rcvtimeo, armed = -1, False
                continue
            if release and not armed:
                router.rcvtimeo, armed = _IDLE_MS, True
            if identity in inside:
                self._from_inside(identity)
            else:
                self._request(identity)

    def _request(self, identity: bytes) -> None:
        """Receive the rest of a client's message and handle it.

        A function of its own so the request's frames are released as soon as it is
        handled, not when the next message arrives.
        """
        router = self._router
        header = router.recv() if router.getsockopt(RCVMORE) else None
        frames = []
        while router.getsockopt(RCVMORE):
            frames.append(router.recv(copy=False))
        self._handle(identity, header, frames)

    def close(self) -> bool:
        """Release everything; True if no estimator call was still running."""
        idle = self._pool.stop(timeout=1.0)
        self._router.close(linger=_LINGER_MS)  # still delivers queued replies (shutdown's)
        with self._waker_lock:
            self._waker.close()
        # term() waits for the linger above; it also waits for sockets of workers still
        # inside a long call, so it runs in a daemon thread we give up on after a while.
        terminator = threading.Thread(target=self._context.term, daemon=True)
        terminator.start()
        terminator.join(_LINGER_MS / 1000 + 0.5)
        if not idle:
            log.warning("exiting while estimator calls are still running")
        if self.bound_url is not None:
            self.endpoint.remove_socket_file()
        self.endpoint.cleanup()
        return idle

    # -- the loop ----------------------------------------------------------------------

    def _from_inside(self, peer: bytes) -> None:
        """A worker's [token, identity, header, *buffers] (or a bare token), or a wake-up."""
        router = self._router
        token = router.recv()
        reply = []
        while router.getsockopt(RCVMORE):
            # The client's identity and the header are small; buffers are forwarded as
            # the frames they arrived in, without copying.
            reply.append(router.recv(copy=len(reply) < 2))
        if peer == self._waker_id:
            return  # stop() was called; the loop checks _stopping next
        if reply:  # a bare token (the job failed to build a reply) only frees the queue
            self._send(reply)
        self._job_finished(token)

    def _send(self, parts: list[Any]) -> None:
        try:
            send_message(self._router, parts, NOBLOCK)
        except zmq.ZMQError as exc:  # the peer is gone; nobody is left to tell
            log.warning("dropping a reply: %s", exc)

    def _reply(self, identity: Any, header: dict[str, Any]) -> None:
        """Send a reply built on the loop thread (never with buffers)."""
        self._send([identity, self._pack(header)])

    def _handle(self, identity: bytes, raw_header: bytes | None, frames: list[Any]) -> None:
        rid: int | None = None
        try:
            if raw_header is None:
                raise ProtocolError("empty message: expected a header frame")
            header = unpack_header(raw_header)
            rid = request_id(header)  # known before the checks, so errors can carry it
            op = check_request(header, rid)
            buffers = [frame.buffer for frame in frames] if frames else []
            self._handlers[op](identity, rid, header, buffers)
        except BridgeError as exc:
            self._reply(identity, failure(rid, exc.to_wire(debug=self.debug)))
        except Exception as exc:  # a bug in a handler must not stop the server
            log.exception("internal error handling a request")
            error = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            if self.debug:
                error.traceback = "".join(traceback.format_exception(exc))
            self._reply(identity, failure(rid, error.to_wire(debug=self.debug)))

    # -- scheduling --------------------------------------------------------------------

    def _enqueue(self, slot: Slot, identity: Any, run: Callable[[], list[Any]]) -> None:
        job = Job(_TOKEN.pack(slot.token), identity, run)
        if slot.busy:
            slot.pending.append(job)
        else:
            slot.busy = True
            self._busy[job.token] = slot
            self._pool.submit(job)

    def _job_finished(self, token: bytes) -> None:
        slot = self._busy.get(token)
        if slot is None:
            log.error("finished job for unknown token %r", token)
            return
        if slot.pending:
            self._pool.submit(slot.pending.popleft())
        else:
            slot.busy = False
            del self._busy[token]

    def _runner(
        self,
        rid: int,
        work: Callable[[], Any],
        pack: Callable[[dict[str, Any]], bytes] = pack_header,
    ) -> Callable[[], list[Any]]:
        """Wrap ``work`` so it always yields reply frames, success or error.

        ``pack`` must be safe on the thread that calls the result (the default is).
        """

        def run() -> list[Any]:
            try:
                value = work()
                if type(value) in _PLAIN:  # most attributes: nothing for the Encoder to do
                    return [pack(success(rid, value))]
                encoder = Encoder(tables=True)
                result = encoder.encode(value)
                return [pack(success(rid, result)), *encoder.buffers]
            except Exception as exc:
                error = translate(exc, debug=self.debug)
                reply = [pack(failure(rid, error.to_wire(debug=self.debug)))]
                # error -> traceback -> this frame -> error is a cycle that would keep the
                # request's (possibly huge) arrays alive until the garbage collector runs.
                del error
                return reply

        return run

    # -- operations --------------------------------------------------------------------

    @staticmethod
    def _no_buffers(op: str, buffers: list[Any]) -> None:
        if buffers:
            raise ProtocolError(f"'{op}' takes no buffer frames, got {len(buffers)}")

    def _ping(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        self._no_buffers("ping", buffers)
        self._reply(identity, success(rid, {"pong": True, "time": time.time()}))

    def _info(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        self._no_buffers("info", buffers)
        info = {
            "server": __version__,
            "protocol": PROTOCOL_VERSION,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
            "classes": self.registry.class_names,
        }
        self._reply(identity, success(rid, info))

    def _instances(
        self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]
    ) -> None:
        self._no_buffers("instances", buffers)
        self._reply(identity, success(rid, [slot.describe() for slot in self.registry.slots()]))

    def _init(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        class_name = require_str(header, "class")
        instance_id = require_instance_id(header)
        options = require_map(header, "options")
        offered = self.registry.offered(class_name)
        self.registry.check_free(instance_id)
        kwargs = decode_options(offered.contract, options, buffers)
        # Constructors of scikit-learn-style estimators only store their arguments, so this
        # is cheap enough for the loop; doing it here makes the id usable immediately.
        try:
            estimator = offered.cls(**kwargs)
        except Exception as exc:
            raise translate(exc, debug=self.debug) from None
        self.registry.add(instance_id, class_name, estimator)
        self._reply(identity, success(rid, {"instance": instance_id}))

    def _call(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        slot = self.registry.lookup(require_instance_id(header))
        method = require_str(header, "method")
        check_method(slot.contract, method)
        params = require_map(header, "params")
        # Decoding and validating the parameters happens in the worker: for large CSR
        # input the structural check is O(nnz), which must not stall the loop.
        self._enqueue(
            slot, identity, self._runner(rid, lambda: call_method(slot, method, params, buffers))
        )

    def _get(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        slot = self.registry.lookup(require_instance_id(header))
        attribute = require_str(header, "attribute")
        check_attribute(slot.contract, attribute)
        if slot.idle:
            # Nothing queued or running on this instance: reading an attribute is cheap
            # and cannot race with a worker, so answer without a thread hop.
            run = self._runner(rid, lambda: read_attribute(slot, attribute, buffers), self._pack)
            self._send([identity, *run()])
        else:
            self._enqueue(
                slot, identity, self._runner(rid, lambda: read_attribute(slot, attribute, buffers))
            )

    def _dispose(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        self._no_buffers("dispose", buffers)
        slot = self.registry.remove(require_instance_id(header))
        result = {"instance": slot.instance_id}
        if slot.idle:
            self._reply(identity, success(rid, result))
        else:
            # Calls queued before the dispose still run; the reply waits for them.
            self._enqueue(slot, identity, self._runner(rid, lambda: result))

    def _shutdown(
        self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]
    ) -> None:
        self._no_buffers("shutdown", buffers)
        self._reply(identity, success(rid, {"shutdown": True}))
        log.info("shutdown requested")
        self._stopping = True
