"""Live estimator instances, keyed by the ids clients choose.

The registry owns the id -> instance map and the ids recently disposed. It is used on the
socket loop's thread only; workers touch the estimator of the slot they were handed,
never the registry itself. Scheduling state lives in :mod:`bridge.scheduler`.
"""

from __future__ import annotations

import itertools
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from bridge.classes import Offered
from bridge.errors import DuplicateInstance, UnknownClass, UnknownInstance
from schemas import ClassContract

__all__ = ["Registry", "Remote", "Slot"]

# How many disposed ids to remember, only to give a clearer message on reuse.
_DISPOSED_MEMORY = 4096
_TOKEN = struct.Struct("<Q")


def state_bytes(estimator: Any) -> int:
    """Bytes held by an estimator's array attributes."""
    # vars() is copied first because a worker may be adding attributes right now.
    state = dict(vars(estimator))
    return int(sum(v.nbytes for v in state.values() if isinstance(v, np.ndarray)))


def is_fitted(estimator: Any) -> bool:
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class Remote:
    """An estimator held in another process (the Ray backend's actors,
    :mod:`bridge.ray_backend`). A slot holding one forwards its work there; the last
    known ``nbytes`` and ``fitted`` come back with every call."""

    nbytes = 0
    fitted = False

    def where(self) -> dict[str, Any]:
        """Where the instance lives, for the ``instances`` listing."""
        return {}

    def call(
        self,
        slot: Slot,
        method: str,
        params: dict[str, Any],
        buffers: list[Any],
        resolve: Any,
        control: Any = None,
    ) -> Any:
        raise NotImplementedError

    def read(self, attribute: str) -> Any:
        raise NotImplementedError

    def dump(self, extra: dict[str, Any] | None = None) -> bytes:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError


@dataclass(eq=False)
class Slot:
    """One estimator instance. ``token`` names it to the scheduler and in worker replies
    (ids can be reused after dispose; tokens never are). ``owner`` is the session that
    created it (and ``owner_key`` the authenticated client key, when CURVE is on).

    ``fitted`` and ``nbytes`` are refreshed by the worker after each job (so listing
    instances costs no estimator inspection); ``accounted`` is what the memory budget
    counts for this slot, updated on the loop.
    """

    instance_id: str
    class_name: str
    estimator: Any
    contract: ClassContract
    token: bytes
    owner: str = ""
    fitted: bool = False
    nbytes: int = 0
    accounted: int = 0
    removed: bool = False
    # The CURVE client key (z85) that created it; only that key can reach it.
    owner_key: str | None = None
    # Idempotency records and state-file bookkeeping (bridge.durability), made on demand.
    durable: Any = None

    def refresh(self) -> None:
        """Re-read ``fitted`` and ``nbytes`` (on the thread that just used the estimator)."""
        if isinstance(self.estimator, Remote):
            self.nbytes, self.fitted = self.estimator.nbytes, self.estimator.fitted
            return
        self.nbytes = state_bytes(self.estimator)
        self.fitted = is_fitted(self.estimator)

    def describe(self) -> dict[str, Any]:
        return {
            "instance": self.instance_id,
            "class": self.class_name,
            "fitted": self.fitted,
            "nbytes": self.nbytes,
            "owner": self.owner,
            **(self.estimator.where() if isinstance(self.estimator, Remote) else {}),
        }


class Registry:
    """Maps instance ids to slots; creates and removes them."""

    def __init__(self, classes: Mapping[str, Offered]) -> None:
        self._classes = dict(classes)
        self._slots: dict[str, Slot] = {}
        self._disposed: OrderedDict[str, None] = OrderedDict()
        # Ids held for a `load` whose model is still being read.
        self._reserved: set[str] = set()
        self._tokens = itertools.count(1)

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)

    def offered(self, class_name: str) -> Offered:
        try:
            return self._classes[class_name]
        except KeyError:
            raise UnknownClass(
                f"unknown class {class_name!r}; this server offers "
                f"{', '.join(self._classes) or 'nothing'}"
            ) from None

    def check_free(self, instance_id: str) -> None:
        if instance_id in self._slots or instance_id in self._reserved:
            raise DuplicateInstance(f"instance {instance_id!r} already exists")

    def __len__(self) -> int:
        return len(self._slots)

    def add(
        self,
        instance_id: str,
        offered: Offered,
        estimator: Any,
        owner: str = "",
        owner_key: str | None = None,
    ) -> Slot:
        self.check_free(instance_id)
        slot = Slot(
            instance_id,
            offered.contract.name,
            estimator,
            offered.contract,
            self.new_token(),
            owner,
            owner_key=owner_key,
        )
        slot.refresh()
        self._slots[instance_id] = slot
        self._disposed.pop(instance_id, None)
        return slot

    def new_token(self) -> bytes:
        return _TOKEN.pack(next(self._tokens))

    def reserve(self, instance_id: str) -> None:
        """Hold a free id for a slot built off the loop (see :meth:`insert`)."""
        self.check_free(instance_id)
        self._reserved.add(instance_id)

    def release(self, instance_id: str) -> None:
        self._reserved.discard(instance_id)

    def insert(self, slot: Slot) -> None:
        """Register a slot built elsewhere under the id reserved for it."""
        self._reserved.discard(slot.instance_id)
        self.check_free(slot.instance_id)
        self._slots[slot.instance_id] = slot
        self._disposed.pop(slot.instance_id, None)

    def exists(self, instance_id: str) -> bool:
        return instance_id in self._slots

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._slots

    def lookup(self, instance_id: str, user: str | None = None) -> Slot:
        """The slot of ``instance_id`` if ``user`` (the client key, or None without
        CURVE) may reach it; another key's instance is as unknown as a missing one."""
        slot = self._slots.get(instance_id)
        if slot is None or slot.owner_key != user:
            if slot is None and instance_id in self._disposed:
                raise UnknownInstance(f"instance {instance_id!r} was disposed")
            raise UnknownInstance(f"unknown instance {instance_id!r}")
        return slot

    def remove(self, instance_id: str) -> Slot:
        """Unregister an instance, whoever owns it (callers check ownership first)."""
        slot = self._slots.get(instance_id) or self.lookup(instance_id)
        slot.removed = True
        del self._slots[instance_id]
        self._disposed[instance_id] = None
        if len(self._disposed) > _DISPOSED_MEMORY:
            self._disposed.popitem(last=False)
        return slot

    def slots(self) -> list[Slot]:
        return list(self._slots.values())
