"""The ``save`` and ``load`` operations (PROTOCOL.md section 3): an instance to and from
model-format bytes (docs/MODEL_FORMAT.md).

Both run in a worker. ``load`` reads a file from a client, so it trusts nothing in it:
``estimators.load_model`` checks the whole archive before building anything, accepts only
the classes this server offers, and is bounded by the room left in the memory budget. The
new id is held from the moment the request is received, so a racing ``init`` of the same
id is refused, and the instance is registered on the loop right after its reply is sent,
before the loop reads the client's next request.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bridge.errors import ProtocolError, ResourceExhausted, error_class
from bridge.frames import Decoder
from bridge.operations import Operations, Request
from bridge.protocol import require_instance_id
from bridge.registry import Remote, Slot
from estimators import ModelFormatError, dump_model, load_model

__all__ = ["InvalidModel", "ModelOps"]

InvalidModel = error_class("invalid_model")


def _model_bytes(header: dict[str, Any], buffers: list[Any]) -> memoryview:
    """The ``model`` array reference of a load request, as bytes."""
    ref = header.get("model")
    if not isinstance(ref, dict) or ref.get("$type") != "ndarray":
        raise ProtocolError("'model' must be an ndarray reference to uint8 bytes")
    decoder = Decoder(buffers, accept_tables=False)
    array = decoder.decode(ref)
    decoder.check_all_used()
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 1:
        raise ProtocolError("'model' must be a 1-D uint8 array")
    return memoryview(array)


class ModelOps:
    """The handlers, registered next to :class:`~bridge.operations.Operations`'s."""

    def __init__(self, ops: Operations) -> None:
        self._ops = ops
        self._classes = {name: ops.registry.offered(name).cls for name in ops.registry.class_names}
        self.handlers = {"save": self.save, "load": self.load}

    def save(self, request: Request) -> bool:
        ops = self._ops
        slot = ops._owned_slot(request)

        def work() -> dict[str, Any]:
            estimator = slot.estimator
            data = estimator.dump() if isinstance(estimator, Remote) else dump_model(estimator)
            return {"model": np.frombuffer(data, dtype=np.uint8)}

        return ops._queue(request, slot, ops.job(request.rid, work))

    def load(self, request: Request) -> bool:
        ops = self._ops
        registry = ops.registry
        instance_id = require_instance_id(request.header)
        registry.check_free(instance_id)
        ops.limits.check_instances(len(registry))
        # Filled in by the worker once the model is read; registered by finish() below.
        slot = Slot(
            instance_id,
            "",
            None,
            None,  # type: ignore[arg-type]
            registry.new_token(),
            request.session.name,
            owner_key=request.user,
        )
        budget = ops.budget
        durability = ops.durability

        def work() -> dict[str, str]:
            data = _model_bytes(request.header, request.buffers)
            # The request's bytes are already counted; what the model may add is the rest.
            room = budget.limit - budget.total if budget.limit else 1 << 62
            if room <= 0:
                raise ResourceExhausted(
                    f"max_memory_bytes={budget.limit} is used up: no room to load a model",
                    details=[{"limit": "max_memory_bytes", "value": budget.limit}],
                )
            try:
                estimator, _ = load_model(data, classes=self._classes, max_bytes=room)
            except ModelFormatError as exc:
                raise InvalidModel(f"model {instance_id!r}: {exc}") from None
            offered = registry.offered(type(estimator).__name__)
            slot.estimator = estimator
            slot.class_name = offered.contract.name
            slot.contract = offered.contract
            if ops.backend is not None:
                ops.backend.place([slot])
            slot.refresh()
            persist = durability.created(slot)
            if persist is not None:
                persist()
            return {"instance": instance_id}

        def finish() -> None:
            if slot.estimator is None:
                registry.release(instance_id)
                return
            registry.insert(slot)
            request.session.instances.add(instance_id)
            if slot.accounted != slot.nbytes:
                budget.hold(slot.nbytes - slot.accounted)
                slot.accounted = slot.nbytes

        registry.reserve(instance_id)
        try:
            queued = ops._queue(request, slot, ops.job(request.rid, work))
        except BaseException:
            registry.release(instance_id)
            raise
        ops.after_job[slot.token] = finish
        return queued
