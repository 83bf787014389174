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

__all__ = ["Registry", "Slot"]

# How many disposed ids to remember, only to give a clearer message on reuse.
_DISPOSED_MEMORY = 4096
_TOKEN = struct.Struct("<Q")


@dataclass(eq=False)
class Slot:
    """One estimator instance. ``token`` names it to the scheduler and in worker replies
    (ids can be reused after dispose; tokens never are)."""

    instance_id: str
    class_name: str
    estimator: Any
    contract: ClassContract
    token: bytes

    def describe(self) -> dict[str, Any]:
        # vars() is copied first because a worker may be adding attributes right now.
        state = dict(vars(self.estimator))
        nbytes = sum(v.nbytes for v in state.values() if isinstance(v, np.ndarray))
        try:
            check_is_fitted(self.estimator)
            fitted = True
        except NotFittedError:
            fitted = False
        return {
            "instance": self.instance_id,
            "class": self.class_name,
            "fitted": fitted,
            "nbytes": int(nbytes),
        }


class Registry:
    """Maps instance ids to slots; creates and removes them."""

    def __init__(self, classes: Mapping[str, Offered]) -> None:
        self._classes = dict(classes)
        self._slots: dict[str, Slot] = {}
        self._disposed: OrderedDict[str, None] = OrderedDict()
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
        if instance_id in self._slots:
            raise DuplicateInstance(f"instance {instance_id!r} already exists")

    def add(self, instance_id: str, offered: Offered, estimator: Any) -> Slot:
        self.check_free(instance_id)
        token = _TOKEN.pack(next(self._tokens))
        slot = Slot(instance_id, offered.contract.name, estimator, offered.contract, token)
        self._slots[instance_id] = slot
        self._disposed.pop(instance_id, None)
        return slot

    def lookup(self, instance_id: str) -> Slot:
        slot = self._slots.get(instance_id)
        if slot is None:
            if instance_id in self._disposed:
                raise UnknownInstance(f"instance {instance_id!r} was disposed")
            raise UnknownInstance(f"unknown instance {instance_id!r}")
        return slot

    def remove(self, instance_id: str) -> Slot:
        slot = self.lookup(instance_id)
        del self._slots[instance_id]
        self._disposed[instance_id] = None
        if len(self._disposed) > _DISPOSED_MEMORY:
            self._disposed.popitem(last=False)
        return slot

    def slots(self) -> list[Slot]:
        return list(self._slots.values())
