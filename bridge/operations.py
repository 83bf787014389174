"""The operations of PROTOCOL.md section 3: one handler per op, run on the socket loop.

Each request passes through here once: its header keys are checked, names are checked
against the contract, limits are applied, and the work is either answered at once (cheap
ops, idle ``get``) or wrapped in a job for the instance's queue. A job decodes its arrays
and validates its parameters in the worker (O(size) work stays off the loop), runs the
estimator, and encodes the result or translates the error, in :meth:`Operations.job`.

The envelope (version, id, op, session, buffer frames on array-less ops) was checked by
the server before a handler is called.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import sklearn

from bridge import __version__
from bridge.control import FITTING, Control, guarded
from bridge.dataset_ops import DatasetOperations
from bridge.datasets import Datasets
from bridge.dispatch import (
    call_method,
    decode_options,
    read_attribute,
    replying,
    translate,
)
from bridge.durability import Durability
from bridge.errors import (
    Cancelled,
    ProtocolError,
    ResourceExhausted,
    UnknownAttribute,
    UnknownMethod,
)
from bridge.limits import Limits, MemoryBudget
from bridge.protocol import (
    PLAIN_TYPES,
    PROTOCOL_VERSION,
    failure,
    pack_header,
    require_id,
    require_instance_id,
    require_map,
    require_str,
    success,
)
from bridge.registry import Registry, Remote, Slot
from bridge.scheduler import Scheduler
from bridge.sessions import Session, Sessions
from bridge.workers import INTERIM, Job

__all__ = ["Operations", "Request"]

Reply = Callable[[Any, dict[str, Any]], None]
Send = Callable[[list[Any]], None]


class Request(NamedTuple):
    identity: Any  # the client's routing frame
    rid: int
    header: dict[str, Any]
    buffers: list[Any]
    session: Session
    received: float  # time.monotonic() at receipt
    user: str | None = None  # the authenticated CURVE client key (z85), when CURVE is on


class Operations(DatasetOperations):
    """The op handlers, bound to the server's state and reply path.

    ``reply(identity, header)`` sends a reply built on the loop; ``send(parts)`` sends
    ready frames; ``pack`` is the loop's own (not thread-safe) msgpack packer.
    """

    def __init__(
        self,
        registry: Registry,
        scheduler: Scheduler,
        sessions: Sessions,
        limits: Limits,
        budget: MemoryBudget,
        *,
        reply: Reply,
        send: Send,
        pack: Callable[[dict[str, Any]], bytes],
        stats: Callable[[], dict[str, Any]],
        side: Callable[[Job], None],
        debug: bool,
        durability: Durability | None = None,
        backend: Any = None,
    ) -> None:
        """``backend``: where instances live besides this process (the Ray backend,
        :class:`bridge.ray_backend.RayBackend`); None keeps them here."""
        self.registry = registry
        self.scheduler = scheduler
        self.sessions = sessions
        self.limits = limits
        self.budget = budget
        self.debug = debug
        self._reply = reply
        self._send = send
        self._pack = pack
        self._stats = stats
        self._side = side
        self.backend = backend
        self.datasets = Datasets()
        # (session name, request id) -> job waiting or running, for `cancel`.
        self.jobs: dict[tuple[str, int], Job] = {}
        # Idempotency records, and state files with --state-dir (bridge.durability).
        self.durability = durability or Durability()
        self.durability.attach(self)
        # Instance token -> what the loop does once that job's reply is sent (load).
        self.after_job: dict[bytes, Callable[[], None]] = {}
        # Each handler returns True when it queued a job (which replies when it ends).
        self.handlers: dict[str, Callable[[Request], bool | None]] = {
            "ping": self.ping,
            "info": self.info,
            "instances": self.instances,
            "init": self.init,
            "call": self.call,
            "get": self.get,
            "dispose": self.dispose,
            "stats": self.stats,
            "cancel": self.cancel,
            "dataset": self.dataset,
            "datasets": self.list_datasets,
        }

    # -- jobs --------------------------------------------------------------------------

    def job(
        self,
        rid: int,
        work: Callable[[], Any],
        pack: Callable[[dict[str, Any]], bytes] = pack_header,
    ) -> Callable[[], list[Any]]:
        """Wrap ``work`` so it always yields reply frames (see :func:`replying`)."""
        return replying(rid, work, debug=self.debug, pack=pack)

    def _queue(
        self,
        request: Request,
        slot: Slot,
        run: Callable[[], list[Any]],
        control: Control | None = None,
    ) -> bool:
        """Queue ``run`` on the slot, counted against the session and the memory budget."""
        session = request.session
        limit = self.limits.max_queued_per_session
        if limit and session.queued >= limit:
            raise ResourceExhausted(
                f"max_queued_per_session={limit} reached: session {session.name!r} has "
                f"{session.queued} requests waiting or running",
                details=[{"limit": "max_queued_per_session", "value": limit}],
            )
        nbytes = sum(memoryview(buffer).nbytes for buffer in request.buffers)
        if nbytes:
            self.budget.admit(nbytes)
        session.queued += 1
        job = Job(
            slot.token, request.identity, run, session, nbytes, request.received, slot, control
        )
        self.scheduler.submit(job)
        self.jobs[(session.name, request.rid)] = job
        return True

    def _owned_slot(self, request: Request) -> Slot:
        # A live instance's id was checked when it was created: check the field's form
        # only when it names none, to explain the miss.
        instance_id = request.header.get("instance")
        if type(instance_id) is not str or instance_id not in self.registry:
            instance_id = require_instance_id(request.header)
        return self.registry.lookup(instance_id, request.user)

    # -- handlers ----------------------------------------------------------------------

    def ping(self, request: Request) -> None:
        self._reply(request.identity, success(request.rid, {"pong": True, "time": time.time()}))

    def info(self, request: Request) -> None:
        info = {
            "server": __version__,
            "protocol": PROTOCOL_VERSION,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
            "classes": self.registry.class_names,
            "limits": self.limits.to_wire() | {"max_memory_bytes": self.budget.limit},
            "instances": len(self.registry),
            "sessions": len(self.sessions),
        }
        self._reply(request.identity, success(request.rid, info))

    def instances(self, request: Request) -> None:
        # O(instances): the loop only copies the list and the leases; describing and
        # packing run on the side worker, so a long listing never delays other clients.
        slots = [slot for slot in self.registry.slots() if slot.owner_key == request.user]
        expiry = {
            name: self.sessions.expires_at(session)
            for name in {slot.owner for slot in slots}
            if (session := self.sessions.get(name)) is not None
        }

        def listing() -> list[dict[str, Any]]:
            return [{**slot.describe(), "lease_expires": expiry.get(slot.owner)} for slot in slots]

        self._side(Job(INTERIM, request.identity, self.job(request.rid, listing)))

    def stats(self, request: Request) -> None:
        self._reply(request.identity, success(request.rid, self._stats()))

    def init(self, request: Request) -> bool:
        header = request.header
        class_name = require_str(header, "class")
        instance_id = require_instance_id(header)
        options = require_map(header, "options")
        offered = self.registry.offered(class_name)
        self.registry.check_free(instance_id)
        self.limits.check_instances(len(self.registry))
        kwargs = decode_options(offered.contract, options, request.buffers)
        # Constructors of scikit-learn-style estimators only store their arguments, so this
        # is cheap enough for the loop; doing it here makes the id usable immediately.
        try:
            estimator = offered.cls(**kwargs)
        except Exception as exc:
            raise translate(exc, debug=self.debug) from None
        slot = self.registry.add(
            instance_id, offered, estimator, request.session.name, request.user
        )
        request.session.instances.add(instance_id)
        slot.accounted = slot.nbytes
        self.budget.hold(slot.nbytes)
        persist = self.durability.created(slot)
        if self.backend is not None:  # reply once it runs on a node (and is on disk)
            place = self.backend.placing(self, slot, persist)
            return self._queue(request, slot, self.job(request.rid, place))
        if persist is not None:  # --state-dir: reply once the new instance is on disk
            return self._queue(request, slot, self.job(request.rid, persist))
        self._reply(request.identity, success(request.rid, {"instance": instance_id}))
        return False

    def call(self, request: Request) -> bool:
        header = request.header
        slot = self._owned_slot(request)
        name = require_str(header, "method")
        contract = slot.contract
        method = contract.methods.get(name)
        if method is None:
            raise UnknownMethod(
                f"unknown method {name!r} for {contract.name}; expected one of "
                f"{', '.join(contract.methods)}"
            )
        params = require_map(header, "params")
        buffers = request.buffers
        estimate = self.registry.offered(slot.class_name).working_bytes
        budget = self.budget
        fitting = name in FITTING
        resolve = self.datasets.resolver(request.session.name)
        control = Control(
            request.identity,
            request.rid,
            progress=fitting and header.get("progress") is True,
            stoppable=fitting,
        )

        def work() -> Any:
            reserved = 0

            def reserve(kwargs: dict[str, Any]) -> None:
                # Called after validation, before the estimator allocates anything.
                nonlocal reserved
                need = estimate(slot.estimator, name, kwargs) if estimate else 0
                if need:
                    budget.reserve(need, f"{contract.name}.{name}")
                    reserved = need

            try:
                if control.cancelled:  # cancelled between leaving the queue and starting
                    raise Cancelled(control.why)
                if isinstance(slot.estimator, Remote):
                    # The actor validates, reserves nothing here (the working memory of
                    # a fit is on its node) and restores a cancelled fit itself.
                    return slot.estimator.call(
                        slot, name, params, buffers, resolve, control if fitting else None
                    )
                run = functools.partial(
                    call_method,
                    slot,
                    name,
                    method,
                    params,
                    buffers,
                    before=reserve,
                    resolve=resolve,
                )
                if not fitting:
                    return run()
                with guarded(slot.estimator, control):
                    return run()
            finally:
                if reserved:
                    budget.unreserve(reserved)
                slot.refresh()

        # Decoding and validating the parameters happens in the worker: for large CSR
        # input the structural check is O(nnz), which must not stall the loop.
        run = self.durability.wrap_call(request, slot, name, method, self.job(request.rid, work))
        return self._queue(request, slot, run, control)

    def cancel(self, request: Request) -> None:
        target = request.header.get("target")
        if not isinstance(target, int) or isinstance(target, bool):
            raise ProtocolError("'target' must be the request id of a call")
        job = self.jobs.get((request.session.name, target))
        state = "unknown"
        if job is not None and job.control is not None:
            if self.scheduler.remove(job):
                state = "dropped"
                self.drop(job, "cancelled by its client before it started")
            elif self.scheduler.is_running(job):
                job.control.cancel("cancelled by its client")
                state = "stopping" if job.control.stoppable else "finishing"
        self._reply(request.identity, success(request.rid, {"target": target, "state": state}))

    def drop(self, job: Job, why: str) -> None:
        """Answer a job taken out of its queue with `cancelled`, and settle it."""
        if job.control is not None:
            error = Cancelled(why).to_wire(debug=False)
            self._reply(job.identity, failure(job.control.rid, error))
        self.settle(job)

    def get(self, request: Request) -> bool:
        slot = self._owned_slot(request)
        attribute = require_str(request.header, "attribute")
        contract = slot.contract
        if attribute not in contract.attributes:
            raise UnknownAttribute(
                f"unknown attribute {attribute!r} for {contract.name}; expected one of "
                f"{', '.join(contract.attributes)}"
            )
        if self.backend is None and self.scheduler.idle(slot.token):
            # Nothing queued or running on this instance: reading an attribute is cheap
            # and cannot race with a worker, so answer without a thread hop.
            try:
                value = read_attribute(slot, attribute)
            except Exception as exc:  # answered by the loop's error reply
                raise translate(exc, debug=self.debug) from None
            if type(value) in PLAIN_TYPES:  # most attributes: a number, packed as it is
                self._send([request.identity, self._pack(success(request.rid, value))])
            else:
                run = self.job(request.rid, lambda: value, self._pack)
                self._send([request.identity, *run()])
        else:
            work = self.job(request.rid, lambda: read_attribute(slot, attribute))
            return self._queue(request, slot, work)
        return False

    def dispose(self, request: Request) -> bool:
        if "dataset" in request.header:
            dataset = self.remove_dataset(require_id(request.header, "dataset"), request.session)
            self._reply(request.identity, success(request.rid, {"dataset": dataset.name}))
            return False
        slot = self.remove(self._owned_slot(request).instance_id)
        result = {"instance": slot.instance_id}
        if self.scheduler.idle(slot.token):
            self._reply(request.identity, success(request.rid, result))
        else:
            # Calls queued before the dispose still run; the reply waits for them.
            return self._queue(request, slot, self.job(request.rid, lambda: result))
        return False

    # -- shared with the server --------------------------------------------------------

    def remove(self, instance_id: str) -> Slot:
        """Unregister an instance and stop counting what it holds."""
        slot = self.registry.remove(instance_id)
        self.durability.removed(slot)
        owner = self.sessions.get(slot.owner)
        if owner is not None:
            owner.instances.discard(instance_id)
        self.budget.hold(-slot.accounted)
        slot.accounted = 0
        self._end_remote(slot)  # else once its last queued job is settled
        return slot

    def _end_remote(self, slot: Slot) -> None:
        """Stop the actor of a removed Ray instance once no job of it is left."""
        if isinstance(slot.estimator, Remote) and self.scheduler.idle(slot.token):
            slot.estimator.kill()

    def discard(self, slot: Slot) -> None:
        """Forget an instance whose creation failed (on the loop, after its reply)."""
        if not slot.removed and self.registry.exists(slot.instance_id):
            self.remove(slot.instance_id)

    def settle(self, job: Job) -> None:
        """A job ended: release what it counted and update its instance's held bytes."""
        slot = job.slot
        if job.session is not None:
            job.session.queued -= 1
            if job.control is not None:
                self.jobs.pop((job.session.name, job.control.rid), None)
        if job.nbytes:
            self.budget.done(job.nbytes)
        if slot is not None and slot.removed:
            self._end_remote(slot)  # the last call queued before the dispose has run
        if slot is not None and not slot.removed and slot.nbytes != slot.accounted:
            self.budget.hold(slot.nbytes - slot.accounted)
            slot.accounted = slot.nbytes
        if self.after_job:
            after = self.after_job.pop(job.token, None)
            if after is not None:
                after()
