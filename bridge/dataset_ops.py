"""The dataset operations (``dataset``, ``datasets``, ``dispose`` of a dataset), mixed into
:class:`bridge.operations.Operations`, whose state (datasets table, memory budget, side
worker, reply path) they use. The table itself is :mod:`bridge.datasets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.errors import BridgeError, ProtocolError
from bridge.frames import Decoder
from bridge.protocol import require_id, success
from bridge.sessions import Session
from bridge.workers import INTERIM, Job

if TYPE_CHECKING:
    from bridge.operations import Operations, Request

__all__ = ["DatasetOperations"]


class DatasetOperations:
    def dataset(self: Operations, request: Request) -> None:
        """Store an array for later calls; the structure check runs on the side worker."""
        name = require_id(request.header, "dataset")
        data = request.header.get("data")
        if not (isinstance(data, dict) and data.get("$type") in ("ndarray", "csr")):
            raise ProtocolError("'data' must be an ndarray or csr reference")
        nbytes = sum(memoryview(buffer).nbytes for buffer in request.buffers)
        dataset = self.datasets.reserve(name, request.session.name, nbytes)
        try:
            self.budget.take(nbytes, f"dataset {name!r}")
        except BridgeError:
            self.datasets.remove(name, request.session.name)
            raise
        request.session.datasets.add(name)
        buffers, datasets, budget = request.buffers, self.datasets, self.budget
        backend = self.backend

        def store() -> dict[str, Any]:
            try:
                decoder = Decoder(buffers, accept_tables=False)
                value = decoder.decode(data)
                decoder.check_all_used()
            except Exception as exc:
                datasets.fail(dataset, exc)
                budget.hold(-nbytes)
                raise
            dataset.value = value
            summary = dataset.describe()
            if backend is not None:  # one copy in the cluster's object store, not here
                dataset.summary = summary
                dataset.value = backend.put(value)
                del value
            dataset.ready.set()
            return summary

        self._side(Job(INTERIM, request.identity, self.job(request.rid, store)))

    def list_datasets(self: Operations, request: Request) -> None:
        listing = [dataset.describe() for dataset in self.datasets.listing()]
        self._reply(request.identity, success(request.rid, listing))

    def remove_dataset(self: Operations, name: str, session: Session) -> Any:
        dataset = self.datasets.remove(name, session.name)
        session.datasets.discard(name)
        if dataset.error is None:
            self.budget.hold(-dataset.nbytes)
        return dataset
