"""The operations of PROTOCOL.md section 3: one handler per op, run on the socket loop.

Each request passes through here once: its header keys are checked, names are checked
against the contract, and the work is either answered at once (cheap ops, idle ``get``) or
wrapped in a job for the instance's queue. A job decodes its arrays and validates its
parameters in the worker (O(size) work stays off the loop), runs the estimator, and
encodes the result or translates the error, in :func:`job`.

The envelope (version, id, op, buffer frames on array-less ops) was checked by the server
before a handler is called.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn

from bridge import __version__
from bridge.dispatch import call_method, decode_options, read_attribute, translate
from bridge.errors import UnknownAttribute, UnknownMethod
from bridge.frames import Encoder
from bridge.protocol import (
    PROTOCOL_VERSION,
    failure,
    pack_header,
    require_instance_id,
    require_map,
    require_str,
    success,
)
from bridge.registry import Registry, Slot
from bridge.scheduler import Scheduler
from bridge.workers import Job

__all__ = ["Operations"]

# Result types sent as they are (numpy scalars and arrays go through the Encoder).
_PLAIN = frozenset([type(None), bool, int, float, str])

Reply = Callable[[Any, dict[str, Any]], None]
Send = Callable[[list[Any]], None]


class Operations:
    """The op handlers, bound to the server's registry, scheduler and reply path.

    ``reply(identity, header)`` sends a reply built on the loop; ``send(parts)`` sends
    ready frames; ``pack`` is the loop's own (not thread-safe) msgpack packer.
    """

    def __init__(
        self,
        registry: Registry,
        scheduler: Scheduler,
        *,
        reply: Reply,
        send: Send,
        pack: Callable[[dict[str, Any]], bytes],
        debug: bool,
    ) -> None:
        self.registry = registry
        self.scheduler = scheduler
        self.debug = debug
        self._reply = reply
        self._send = send
        self._pack = pack
        self.handlers: dict[str, Callable[[Any, int, dict[str, Any], list[Any]], None]] = {
            "ping": self.ping,
            "info": self.info,
            "instances": self.instances,
            "init": self.init,
            "call": self.call,
            "get": self.get,
            "dispose": self.dispose,
        }

    # -- jobs --------------------------------------------------------------------------

    def job(
        self,
        rid: int,
        work: Callable[[], Any],
        pack: Callable[[dict[str, Any]], bytes] = pack_header,
    ) -> Callable[[], list[Any]]:
        """Wrap ``work`` so it always yields reply frames, success or error.

        ``pack`` must be safe on the thread that calls the result (the default is).
        """
        debug = self.debug

        def run() -> list[Any]:
            try:
                value = work()
                if type(value) in _PLAIN:  # most attributes: nothing for the Encoder to do
                    return [pack(success(rid, value))]
                encoder = Encoder(tables=True)
                result = encoder.encode(value)
                return [pack(success(rid, result)), *encoder.buffers]
            except Exception as exc:
                error = translate(exc, debug=debug)
                reply = [pack(failure(rid, error.to_wire(debug=debug)))]
                # error -> traceback -> this frame -> error is a cycle that would keep the
                # request's (possibly huge) arrays alive until the garbage collector runs.
                del error
                return reply

        return run

    def _queue(self, slot: Slot, identity: Any, run: Callable[[], list[Any]]) -> None:
        self.scheduler.submit(Job(slot.token, identity, run))

    # -- handlers ----------------------------------------------------------------------

    def ping(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        self._reply(identity, success(rid, {"pong": True, "time": time.time()}))

    def info(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        info = {
            "server": __version__,
            "protocol": PROTOCOL_VERSION,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
            "classes": self.registry.class_names,
        }
        self._reply(identity, success(rid, info))

    def instances(
        self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]
    ) -> None:
        self._reply(identity, success(rid, [slot.describe() for slot in self.registry.slots()]))

    def init(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
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
        self.registry.add(instance_id, offered, estimator)
        self._reply(identity, success(rid, {"instance": instance_id}))

    def call(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        slot = self.registry.lookup(require_instance_id(header))
        name = require_str(header, "method")
        contract = slot.contract
        method = contract.methods.get(name)
        if method is None:
            raise UnknownMethod(
                f"unknown method {name!r} for {contract.name}; expected one of "
                f"{', '.join(contract.methods)}"
            )
        params = require_map(header, "params")
        # Decoding and validating the parameters happens in the worker: for large CSR
        # input the structural check is O(nnz), which must not stall the loop.
        work = self.job(rid, lambda: call_method(slot, name, method, params, buffers))
        self._queue(slot, identity, work)

    def get(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        slot = self.registry.lookup(require_instance_id(header))
        attribute = require_str(header, "attribute")
        contract = slot.contract
        if attribute not in contract.attributes:
            raise UnknownAttribute(
                f"unknown attribute {attribute!r} for {contract.name}; expected one of "
                f"{', '.join(contract.attributes)}"
            )
        if self.scheduler.idle(slot.token):
            # Nothing queued or running on this instance: reading an attribute is cheap
            # and cannot race with a worker, so answer without a thread hop.
            self._send(
                [identity, *self.job(rid, lambda: read_attribute(slot, attribute), self._pack)()]
            )
        else:
            self._queue(slot, identity, self.job(rid, lambda: read_attribute(slot, attribute)))

    def dispose(self, identity: Any, rid: int, header: dict[str, Any], buffers: list[Any]) -> None:
        slot = self.registry.remove(require_instance_id(header))
        result = {"instance": slot.instance_id}
        if self.scheduler.idle(slot.token):
            self._reply(identity, success(rid, result))
        else:
            # Calls queued before the dispose still run; the reply waits for them.
            self._queue(slot, identity, self.job(rid, lambda: result))
