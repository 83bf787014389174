"""The Ray backend of ``skbridge serve --backend ray``: every instance is a Ray actor.

The gateway is the ordinary server: its socket loop, per-instance FIFO and worker threads
are unchanged. What changes is what a slot holds: a :class:`RemoteInstance` (a handle on
an :class:`~bridge.ray_actor.InstanceActor`) instead of an estimator. A worker thread
running one of the instance's jobs sends the call to the actor and waits for it, so calls
on one instance still run one at a time in arrival order, while calls on different
instances run on whichever nodes hold them. Ray's scheduler places the actors (spread
over the nodes, with the resources given on the command line).

Arrays travel through Ray's object store: a request's frames are passed to the actor as
numpy views, and a stored dataset is put there once (its object ref is what the gateway
keeps), so every actor on a node reads the same copy.

Actors are named and detached in their namespace: a gateway that restarts finds them again
(:meth:`RayBackend.adopt`). An actor that dies surfaces as ``instance_lost`` on the calls
of its instance; with ``--state-dir`` the instance is first brought back on a new actor
from its last state file, so the client can send the call again (it is not re-run here:
the gateway cannot know how far the lost call got).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from bridge.errors import BridgeError, ResourceExhausted, error_class
from bridge.quoting import clip
from bridge.ray_actor import InstanceActor
from bridge.registry import Remote, Slot
from bridge.state import StateStore

__all__ = ["InstanceLost", "RayBackend", "RemoteInstance"]

log = logging.getLogger("skbridge.ray")

InstanceLost = error_class("instance_lost")

# While a fit runs the waiting worker checks for cancel and collects progress this often
# (the client sees at most 20 progress messages a second anyway).
_POLL_SECONDS = 0.05
# Dataset references deeper than this are refused by the actor's decoder anyway.
_MAX_DEPTH = 64


class _Placed(InstanceActor):
    """The actor class as Ray runs it: learns its node first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        where = {
            "node": ray.get_runtime_context().get_node_id(),
            "node_ip": ray.util.get_node_ip_address(),
        }
        super().__init__(*args, where=where, **kwargs)


def _result(outcome: tuple[str, Any]) -> Any:
    """The value of an actor's outcome, or the wire error it carried, raised again."""
    kind, value = outcome
    if kind == "ok":
        return value
    raise error_class(value["code"])(
        value["message"], details=value.get("details"), traceback=value.get("traceback")
    )


def _datasets(value: Any, resolve: Any, found: dict[str, Any], depth: int = 0) -> None:
    """Look up every dataset reference of a call's params (the gateway's resolver checks
    the name and its owner and returns the object ref)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        if value.get("$type") == "dataset":
            name = value.get("id")
            found[name] = resolve(name)
            return
        for item in value.values():
            _datasets(item, resolve, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _datasets(item, resolve, found, depth + 1)


def _reason(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return clip(f"{type(exc).__name__}: {first[0] if first else ''}", 300)


class _Unplaced(Remote):
    """An instance whose actor could not be started."""

    def __init__(self, instance: str, why: str) -> None:
        self._error = f"instance {instance!r} could not be placed on the cluster: {why}"

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise InstanceLost(self._error)

    def read(self, attribute: str) -> Any:
        raise InstanceLost(self._error)

    def dump(self, extra: dict[str, Any] | None = None) -> bytes:
        raise InstanceLost(self._error)

    def kill(self) -> None:
        pass


class RemoteInstance(Remote):
    """The gateway's side of one actor; used by the worker running the instance's job."""

    def __init__(self, backend: RayBackend, slot: Slot, handle: Any, info: dict[str, Any]):
        self._backend = backend
        self.slot = slot
        self._number = 0  # calls sent, so a late cancel cannot stop the next call
        self._attach(handle, info)

    def _attach(self, handle: Any, info: dict[str, Any]) -> None:
        self.handle = handle
        self.nbytes = int(info["nbytes"])
        self.fitted = bool(info["fitted"])
        self.node = str(info["node"])
        self.node_ip = str(info["node_ip"])
        self.pid = int(info["pid"])

    def where(self) -> dict[str, Any]:
        return {"node": self.node, "node_ip": self.node_ip}

    def call(
        self,
        slot: Slot,
        method: str,
        params: dict[str, Any],
        buffers: list[Any],
        resolve: Any,
        control: Any = None,
    ) -> Any:
        datasets: dict[str, Any] = {}
        _datasets(params, resolve, datasets)
        arrays = [np.frombuffer(buffer, dtype=np.uint8) for buffer in buffers]
        self._number += 1
        number = self._number
        progress = control is not None and control.progress
        try:
            ref = self.handle.call.remote(
                number, method, params, arrays, datasets, progress, ray.get
            )
            del arrays
            outcome, events, nbytes, fitted = self._wait(ref, number, control)
        except RayActorError as exc:
            raise self._lost(exc) from None
        self.nbytes, self.fitted = nbytes, fitted
        if progress:
            for event in events:
                control.forward(event)
        return _result(outcome)

    def _wait(self, ref: Any, number: int, control: Any) -> Any:
        if control is None:
            return ray.get(ref)
        asked = False
        while True:
            ready, _ = ray.wait([ref], timeout=_POLL_SECONDS)
            if ready:
                return ray.get(ref)
            if control.cancelled and not asked:
                self.handle.cancel.remote(number, control.why)
                asked = True
            if control.progress:
                drained = ray.get(self.handle.drain.remote())
                for event in drained:
                    control.forward(event)

    def read(self, attribute: str) -> Any:
        try:
            outcome = ray.get(self.handle.read.remote(attribute))
        except RayActorError as exc:
            raise self._lost(exc) from None
        return _result(outcome)

    def dump(self, extra: dict[str, Any] | None = None) -> bytes:
        try:
            return ray.get(self.handle.dump.remote(extra))
        except RayActorError as exc:
            raise self._lost(exc) from None

    def kill(self) -> None:
        try:
            ray.kill(self.handle, no_restart=True)
        except Exception as exc:  # already gone: nothing left to free
            log.debug("killing the actor of %s: %s", self.slot.instance_id, exc)

    def _lost(self, exc: BaseException) -> BridgeError:
        instance = self.slot.instance_id
        reason = _reason(exc)
        log.warning("instance %s lost its actor on %s: %s", instance, self.node_ip, reason)
        try:
            revived = self._backend.revive(self)
        except Exception as exc:
            log.warning("cannot restore instance %s yet: %s", instance, _reason(exc))
            return InstanceLost(
                f"instance {instance!r} was lost ({reason}) and cannot be restored from "
                f"the state directory yet: {clip(str(exc), 300)}; every later call on it "
                "tries again"
            )
        if revived:
            return InstanceLost(
                f"instance {instance!r} was lost ({reason}); it was restored from the "
                f"state directory at its last saved state (now on node {self.node}): "
                "send the call again"
            )
        return InstanceLost(
            f"instance {instance!r} was lost: the process or node holding it died "
            f"({reason}); dispose it and create it again"
        )


class RayBackend:
    """The connection to a Ray cluster and the placement of instances on it."""

    def __init__(
        self,
        *,
        address: str | None = None,
        namespace: str = "skbridge",
        num_cpus: float = 0.01,
        memory: int | None = None,
        resources: dict[str, float] | None = None,
        debug: bool = False,
        place_timeout: float = 120.0,
    ) -> None:
        """``address``: an existing cluster (None starts a local one without a
        dashboard). ``num_cpus``, ``memory``, ``resources``: what Ray reserves per
        instance; a small CPU share lets the SPREAD strategy place actors on every node."""
        init: dict[str, Any] = {"namespace": namespace, "logging_level": logging.WARNING}
        if address is None:
            init["include_dashboard"] = False
        ray.init(address=address, **init)
        self.namespace = namespace
        self.debug = debug
        self.place_timeout = place_timeout
        self.store: StateStore | None = None  # set by the server with --state-dir
        self._actor = ray.remote(_Placed)
        self._options: dict[str, Any] = {
            "max_concurrency": 2,
            "num_cpus": num_cpus,
            "lifetime": "detached",
            "namespace": namespace,
            "max_restarts": 0,
            "scheduling_strategy": "SPREAD",
        }
        if memory:
            self._options["memory"] = memory
        if resources:
            self._options["resources"] = resources

    def close(self) -> None:
        """Disconnect; the actors stay for the next gateway (or their leases)."""
        ray.shutdown()

    @staticmethod
    def put(value: Any) -> Any:
        """Store a dataset in the object store; return its object ref."""
        return ray.put(value)

    def _spawn(self, slot: Slot, estimator: Any) -> Any:
        name = f"{slot.instance_id}@{uuid.uuid4().hex[:12]}"
        return self._actor.options(name=name, **self._options).remote(
            slot.instance_id, estimator, slot.contract, slot.owner, slot.owner_key,
            debug=self.debug,
        )  # fmt: skip

    def _ready(self, handles: list[Any]) -> list[dict[str, Any]]:
        refs = [handle.describe.remote() for handle in handles]
        try:
            return ray.get(refs, timeout=self.place_timeout)
        except GetTimeoutError:
            for handle in handles:
                ray.kill(handle, no_restart=True)
            raise ResourceExhausted(
                f"no Ray node could start the instance within {self.place_timeout:g} s "
                "(see --ray-num-cpus, --ray-memory, --ray-resources)",
                details=[{"limit": "ray_resources", "value": self._options["num_cpus"]}],
            ) from None
        except RayActorError as exc:
            for handle in handles:
                ray.kill(handle, no_restart=True)
            raise InstanceLost(
                f"the instance's actor died while starting: {_reason(exc)}"
            ) from None

    def place(self, slots: Iterable[Slot]) -> None:
        """Move each slot's (local) estimator into a new actor; return once all run."""
        slots = list(slots)
        try:
            handles = [self._spawn(slot, slot.estimator) for slot in slots]
            infos = self._ready(handles)
        except BaseException as exc:
            for slot in slots:  # calls queued behind the failed creation fail too
                slot.estimator = _Unplaced(slot.instance_id, str(exc))
            raise
        for slot, handle, info in zip(slots, handles, infos, strict=True):
            slot.estimator = RemoteInstance(self, slot, handle, info)
            slot.refresh()

    def _unplaceable(self) -> str | None:
        """Why no node of the cluster as it is now could hold an instance, if so."""
        wanted = {"CPU": self._options["num_cpus"], **self._options.get("resources", {})}
        if "memory" in self._options:
            wanted["memory"] = self._options["memory"]
        offered = ray.cluster_resources()
        missing = [f"{name}={amount:g}" for name, amount in wanted.items()
                   if offered.get(name, 0) < amount]  # fmt: skip
        return f"no live node offers {', '.join(missing)}" if missing else None

    def revive(self, remote: RemoteInstance) -> bool:
        """Bring a lost instance back from its state file; False without one. Raises
        when it cannot be placed now (the next call on the instance tries again)."""
        slot = remote.slot
        if self.store is None or slot.durable is None or not slot.durable.filename:
            return False
        why = self._unplaceable()
        if why is not None:  # waiting out place_timeout would only hold the call
            raise ResourceExhausted(why)
        estimator = self.store.read(slot.durable)
        remote.kill()
        handle = self._spawn(slot, estimator)
        (info,) = self._ready([handle])
        remote._attach(handle, info)
        slot.refresh()
        log.info("instance %s restored on node %s", slot.instance_id, remote.node)
        return True

    def placing(
        self, ops: Any, slot: Slot, persist: Callable[[], dict[str, str]] | None
    ) -> Callable[[], dict[str, str]]:
        """The job that starts a new instance's actor (then writes its state file, with
        ``--state-dir``) and answers the ``init``; a failed start forgets the instance."""

        def place() -> dict[str, str]:
            try:
                self.place([slot])
            except BaseException:
                ops.after_job[slot.token] = lambda: ops.discard(slot)
                raise
            return persist() if persist is not None else {"instance": slot.instance_id}

        return place

    def adopt(self, ops: Any, now: float) -> int:
        """Register the instances whose actors are alive in the namespace (a gateway
        restarting); return how many."""
        handles = [ray.get_actor(name) for name in ray.util.list_named_actors()]
        adopted = 0
        for handle in handles:
            try:
                info = ray.get(handle.describe.remote(), timeout=self.place_timeout)
            except Exception as exc:  # dying or unreachable: nothing to adopt
                log.warning("skipping an actor that does not answer: %s", _reason(exc))
                continue
            instance = info["instance"]
            if ops.registry.exists(instance):  # an older copy of one id: keep one
                ray.kill(handle, no_restart=True)
                continue
            offered = ops.registry.offered(info["class"])
            slot = ops.registry.add(instance, offered, Remote(), info["owner"], info["owner_key"])
            slot.estimator = RemoteInstance(self, slot, handle, info)
            slot.refresh()
            ops.sessions.touch(info["owner"], now).instances.add(instance)
            slot.accounted = slot.nbytes
            ops.budget.hold(slot.nbytes)
            adopted += 1
        if adopted:
            log.info("found %d live instances in Ray namespace %s", adopted, self.namespace)
        return adopted
