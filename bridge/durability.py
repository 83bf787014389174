"""Exactly-once calls and durable instances: the server side of ``idempotency_key`` and
``--state-dir`` (PROTOCOL.md, `call`, and docs/OPERATIONS.md).

:class:`Durability` is plugged into :class:`~bridge.operations.Operations`. It wraps the
job of every ``call`` that carries an idempotency key or changes an instance (when a
state directory is set), and runs inside that job, in the worker that owns the instance:

1. A key already recorded for the instance is answered from the record; the method does
   not run again.
2. Otherwise the call runs; if it changed the instance, a successful keyed call is
   recorded, and with a state directory the instance is written to disk, all before the
   reply frames are handed back. So a reply a client received is never lost by a crash.

What a record replays: methods returning the estimator (``fit``, ``partial_fit``,
``set_*``) answer ``{"instance": id}`` again. ``fit_predict`` answers the instance's
``labels_`` and ``fit_transform`` answers ``transform(X)`` of the resent ``X``; both
equal the original reply unless another fitting call ran on the instance in between.
Methods that change nothing (``predict``, ``score``...) are not recorded: running them
again has no effect to guard against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgpack

from bridge.dispatch import read_attribute
from bridge.errors import ProtocolError, ResourceExhausted
from bridge.frames import Decoder
from bridge.protocol import INSTANCE_ID, failure, pack_header, success
from bridge.registry import Remote, Slot
from bridge.state import InstanceState, StateStore
from bridge.validation import validate
from schemas import MethodContract

if TYPE_CHECKING:
    from bridge.operations import Operations, Request

__all__ = ["Durability"]

log = logging.getLogger("skbridge.durability")

Run = Callable[[], list[Any]]
# Methods that change the instance and return an array: what a repeated key gets instead.
_REPLAYED = frozenset({"fit_predict", "fit_transform"})


def _succeeded(frames: list[Any]) -> bool:
    header = msgpack.unpackb(frames[0], raw=False)
    return bool(header.get("ok"))


def changes_state(method: str, spec: MethodContract) -> bool:
    return spec.returns == "self" or method in _REPLAYED


class Durability:
    """Idempotency records (always on) and state files (when ``store`` is given)."""

    def __init__(self, store: StateStore | None = None) -> None:
        self.store = store
        self._ops: Operations | None = None

    def attach(self, ops: Operations) -> None:
        self._ops = ops

    # -- per-instance state ------------------------------------------------------------

    @staticmethod
    def state_of(slot: Slot) -> InstanceState:
        """The slot's records; made on the loop thread the first time they are needed."""
        if slot.durable is None:
            slot.durable = InstanceState(
                slot.instance_id, slot.class_name, slot.owner, slot.owner_key
            )
        return slot.durable

    def write(self, slot: Slot, state: InstanceState) -> None:
        assert self.store is not None
        self.store.write(state, slot.estimator)

    def created(self, slot: Slot) -> Callable[[], Any] | None:
        """Work for the job that makes a new instance durable, or None without a store."""
        if self.store is None:
            return None
        state = self.state_of(slot)
        result = {"instance": slot.instance_id}

        def persist() -> dict[str, str]:
            self.write(slot, state)
            return result

        return persist

    def removed(self, slot: Slot) -> None:
        """The instance is gone for good: delete its file (on the loop)."""
        if self.store is not None and slot.durable is not None:
            self.store.remove(slot.durable)

    # -- calls -------------------------------------------------------------------------

    def wrap_call(
        self, request: Request, slot: Slot, method: str, spec: MethodContract, run: Run
    ) -> Run:
        """``run`` (a call's job), made exactly-once and durable as the module says."""
        key = request.header.get("idempotency_key")
        if key is not None and not (isinstance(key, str) and INSTANCE_ID.fullmatch(key)):
            raise ProtocolError(
                "'idempotency_key' must be 1-128 characters from [A-Za-z0-9_.:-], "
                f"got {str(key)[:80]!r}"
            )
        changes = changes_state(method, spec)
        if key is None and (self.store is None or not changes):
            return run
        state = self.state_of(slot)
        rid = request.rid
        store = self.store

        def guarded() -> list[Any]:
            if key is not None and key in state.keys:
                return self._replay(request, slot, method, state.keys[key])
            frames = run()
            if not changes:
                return frames
            if key is not None and _succeeded(frames):
                state.record(key, method)
            if store is not None:
                try:
                    self.write(slot, state)
                except Exception as exc:
                    log.exception("cannot write the state of %s", slot.instance_id)
                    error = ResourceExhausted(
                        f"the call ran but instance {slot.instance_id!r} could not be "
                        f"written to the state directory {store.directory}: {exc}",
                        details=[{"limit": "state_dir", "value": store.directory}],
                    )
                    return [pack_header(failure(rid, error.to_wire()))]
            return frames

        return guarded

    def _replay(self, request: Request, slot: Slot, method: str, recorded: str) -> list[Any]:
        rid = request.rid
        if recorded != method:
            error = ProtocolError(
                f"idempotency key {request.header['idempotency_key']!r} was used for "
                f"{recorded!r} on instance {slot.instance_id!r}, not {method!r}"
            )
            return [pack_header(failure(rid, error.to_wire()))]
        if method not in _REPLAYED:
            return [pack_header(success(rid, {"instance": slot.instance_id}))]
        assert self._ops is not None
        if method == "fit_predict":
            return self._ops.job(rid, lambda: read_attribute(slot, "labels_"))()
        resolve = self._ops.datasets.resolver(request.session.name)
        return self._ops.job(rid, lambda: _transform_again(slot, request, resolve))()


def _transform_again(slot: Slot, request: Request, resolve: Any) -> Any:
    """``transform`` of the ``X`` a repeated ``fit_transform`` sent again."""
    params = request.header.get("params", {})
    if isinstance(slot.estimator, Remote):
        x = {"X": params.get("X")} if isinstance(params, dict) else {}
        return slot.estimator.call(slot, "transform", x, request.buffers, resolve)
    decoded = Decoder(request.buffers, accept_tables=False).decode(params)
    spec = slot.contract.methods["transform"]
    kwargs = validate(spec.params, {"X": decoded.get("X")}, noun="parameter", where="transform")
    return slot.estimator.transform(**kwargs)


def restore(ops: Operations, durability: Durability, now: float) -> int:
    """Register the instances whose Ray actors are still alive (a gateway restarting),
    then every other instance of the state directory; return how many."""
    adopted = 0
    if ops.backend is not None:
        ops.backend.store = durability.store
        adopted = ops.backend.adopt(ops, now)
    if durability.store is None:
        return adopted
    restored = durability.store.restore()
    placed = []
    for item in restored:
        state = item.state
        if ops.registry.exists(state.instance_id):
            # Its actor outlived the gateway (Ray backend): the live state wins, the
            # file keeps its idempotency records.
            live = [s for s in ops.registry.slots() if s.instance_id == state.instance_id]
            live[0].durable = state
            continue
        offered = ops.registry.offered(state.class_name)
        slot = ops.registry.add(
            state.instance_id, offered, item.estimator, state.owner, state.owner_key
        )
        slot.durable = state
        ops.sessions.touch(state.owner, now).instances.add(state.instance_id)
        slot.accounted = slot.nbytes
        ops.budget.hold(slot.nbytes)
        placed.append(slot)
    if ops.backend is not None and placed:
        ops.backend.place(placed)
    if placed:
        log.info("restored %d instances from %s", len(placed), durability.store.directory)
    return adopted + len(placed)
