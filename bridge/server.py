"""The socket loop: receive requests, answer the cheap ones, queue the rest per instance.

One thread owns the ROUTER socket, the registry and every instance's FIFO. Estimator work
runs in a :class:`~bridge.workers.WorkerPool`; a worker's reply comes back over an inproc
PULL socket together with the instance token, and the loop forwards it and starts that
instance's next queued job. This keeps ``ping`` fast while fits run, keeps calls on one
instance in arrival order and lets different instances run in parallel.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

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
from bridge.sockets import recv_message, send_message
from bridge.workers import Job, WorkerPool

__all__ = ["Server", "default_workers"]

log = logging.getLogger("skbridge.server")

_RESULTS_ADDRESS = "inproc://skbridge-results"
_TOKEN = struct.Struct("<Q")
# Requests handled per poll wake-up before finished jobs are looked at again.
_BATCH = 64
_LINGER_MS = 1000


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
    ) -> None:
        self.endpoint = endpoint
        self.debug = debug
        self.registry = Registry(classes)
        self._context = zmq.Context()
        self._router = self._context.socket(zmq.ROUTER)
        # Unlimited queues: a pipelining client must never see its replies dropped.
        self._router.sndhwm = 0
        self._router.rcvhwm = 0
        self._router.ipv6 = endpoint.ipv6
        self._results = self._context.socket(zmq.PULL)
        self._results.rcvhwm = 0
        self._results.bind(_RESULTS_ADDRESS)
        self._pool = WorkerPool(self._context, _RESULTS_ADDRESS, workers or default_workers())
        self._busy: dict[bytes, Slot] = {}  # token -> slot with a job running
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.bound_url: str | None = None
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
        """Stop on SIGINT/SIGTERM. The wakeup fd makes a blocked poll return at once."""
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)

        def handler(signum: int, frame: Any) -> None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            self._stopping = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def stop(self) -> None:
        """Ask :meth:`serve` to return; safe to call from any thread."""
        self._stopping = True
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._results, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while not self._stopping:
            events = dict(poller.poll())
            if self._results in events:
                self._drain_results()
            if self._router in events:
                self._drain_requests()
            if self._wake_r.fileno() in events:
                try:
                    self._wake_r.recv(4096)
                except OSError:
                    pass

    def close(self) -> bool:
        """Release everything; True if no estimator call was still running."""
        idle = self._pool.stop(timeout=1.0)
        self._router.close(linger=_LINGER_MS)  # still delivers queued replies (shutdown's)
        self._results.close(linger=0)
        # term() waits for the linger above; it also waits for sockets of workers still
        # inside a long call, so it runs in a daemon thread we give up on after a while.
        terminator = threading.Thread(target=self._context.term, daemon=True)
        terminator.start()
        terminator.join(_LINGER_MS / 1000 + 0.5)
        if not idle:
            log.warning("exiting while estimator calls are still running")
        self._wake_r.close()
        self._wake_w.close()
        if self.bound_url is not None:
            self.endpoint.remove_socket_file()
        self.endpoint.cleanup()
        return idle

    # -- the loop ----------------------------------------------------------------------

    def _drain_results(self) -> None:
        # EVENTS is checked instead of catching zmq.Again: cheaper per message.
        while self._results.get(zmq.EVENTS) & zmq.POLLIN:
            envelope, buffers = recv_message(self._results, head=3)
            if len(envelope) > 1:  # [token, identity, header] + buffers; a bare token
                self._send([*envelope[1:], *buffers])  # only frees the queue
            self._job_finished(envelope[0])

    def _drain_requests(self) -> None:
        for _ in range(_BATCH):
            if not self._router.get(zmq.EVENTS) & zmq.POLLIN:
                return
            envelope, buffers = recv_message(self._router, head=2)
            self._handle(envelope, buffers)

    def _send(self, parts: list[Any]) -> None:
        try:
            send_message(self._router, parts, zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # the peer is gone; nobody is left to tell
            log.warning("dropping a reply: %s", exc)

    def _reply(self, identity: Any, header: dict[str, Any], buffers: list[Any] = ()) -> None:
        self._send([identity, pack_header(header), *buffers])

    def _handle(self, envelope: list[bytes], frames: list[Any]) -> None:
        identity = envelope[0]
        rid: int | None = None
        try:
            if len(envelope) < 2:
                raise ProtocolError("empty message: expected a header frame")
            header = unpack_header(envelope[1])
            rid = request_id(header)
            rid, op = check_request(header)
            self._handlers[op](identity, rid, header, [frame.buffer for frame in frames])
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

    def _runner(self, rid: int, work: Callable[[], Any]) -> Callable[[], list[Any]]:
        """Wrap ``work`` so it always yields reply frames, success or error."""

        def run() -> list[Any]:
            try:
                encoder = Encoder(tables=True)
                result = encoder.encode(work())
                return [pack_header(success(rid, result)), *encoder.buffers]
            except Exception as exc:
                error = translate(exc, debug=self.debug)
                reply = [pack_header(failure(rid, error.to_wire(debug=self.debug)))]
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
        run = self._runner(rid, lambda: read_attribute(slot, attribute, buffers))
        if slot.idle:
            # Nothing queued or running on this instance: reading an attribute is cheap
            # and cannot race with a worker, so answer without a thread hop.
            self._send([identity, *run()])
        else:
            self._enqueue(slot, identity, run)

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
