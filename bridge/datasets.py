"""Server-resident datasets: arrays uploaded once and referenced by handle afterwards.

A ``dataset`` request uploads an array (dense, CSR, or with column names); later requests
of the same session put ``{"$type": "dataset", "id": ...}`` wherever an array goes, and
the worker resolves it to the stored array without copying it. A dataset holds the frames
it arrived in (its arrays view them), counts against the memory budget, belongs to the
session that uploaded it and is reaped with that session's lease.

The table is touched by the loop (upload, dispose, listing) and by workers (resolving), so
it takes a lock. An upload is registered on the loop at once and filled by the side
worker once its structure is checked (O(size) for CSR); a worker resolving a dataset that
is still being checked waits for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import DuplicateInstance, ProtocolError, UnknownInstance

__all__ = ["Dataset", "Datasets"]

# How long a call waits for an upload it references to be checked.
_READY_SECONDS = 600.0


@dataclass(eq=False)
class Dataset:
    name: str
    owner: str
    nbytes: int
    value: Any = None
    error: Exception | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    # What describe() said when the value moved to Ray's object store (value: its ref).
    summary: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        if self.summary is not None:
            return dict(self.summary)
        value = self.value
        if hasattr(value, "columns"):  # a DataFrame over one array: that array's dtype
            value = value.to_numpy(copy=False)
        return {
            "dataset": self.name,
            "owner": self.owner,
            "nbytes": self.nbytes,
            "kind": "csr" if hasattr(value, "nnz") else "ndarray",
            "shape": [int(n) for n in getattr(value, "shape", ())],
            "dtype": str(getattr(value, "dtype", "")),
        }


class Datasets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Dataset] = {}

    def __len__(self) -> int:
        return len(self._by_name)

    def reserve(self, name: str, owner: str, nbytes: int) -> Dataset:
        with self._lock:
            if name in self._by_name:
                raise DuplicateInstance(f"dataset {name!r} already exists")
            dataset = self._by_name[name] = Dataset(name, owner, nbytes)
        return dataset

    def fail(self, dataset: Dataset, error: Exception) -> None:
        """The upload was invalid: forget it (calls waiting on it get the error)."""
        with self._lock:
            if self._by_name.get(dataset.name) is dataset:
                del self._by_name[dataset.name]
        dataset.error = error
        dataset.ready.set()

    def remove(self, name: str, owner: str) -> Dataset:
        with self._lock:
            dataset = self._by_name.get(name)
            if dataset is None or dataset.owner != owner:
                raise UnknownInstance(f"unknown dataset {name!r}")
            del self._by_name[name]
        return dataset

    def owned_by(self, owner: str) -> list[Dataset]:
        with self._lock:
            return [d for d in self._by_name.values() if d.owner == owner]

    def listing(self, owner: str | None = None) -> list[Dataset]:
        with self._lock:
            return [d for d in self._by_name.values() if owner is None or d.owner == owner]

    def resolver(self, owner: str) -> Any:
        """The function a Decoder calls for a dataset reference of session ``owner``."""

        def resolve(name: Any) -> Any:
            if not isinstance(name, str):
                raise ProtocolError("a dataset reference needs 'id', a string")
            with self._lock:
                dataset = self._by_name.get(name)
            if dataset is None or dataset.owner != owner:
                raise UnknownInstance(f"unknown dataset {name!r}")
            if not dataset.ready.wait(_READY_SECONDS):
                raise UnknownInstance(f"dataset {name!r} is still being uploaded")
            if dataset.error is not None:
                raise UnknownInstance(f"dataset {name!r} was not stored: {dataset.error}")
            return dataset.value

        return resolve
