"""Python reference client for the skbridge protocol.

Example::

    from bridge.client import Client
    with Client("ipc:///tmp/skbridge-xyz/sock") as client:
        km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0)
        client.call(km, "fit", X=X)
        labels = client.call(km, "predict", X=X)
        centers = client.get(km, "cluster_centers_")

Arrays (numpy, scipy CSR, pandas DataFrame) are sent as raw frames without copying when
they are already C-ordered little-endian. A sent array is on loan to ZeroMQ until its
reply arrives: do not modify it before then. Returned arrays are views of the received
frames (no copy); those frames belong to the caller alone, so the arrays may be modified.

A Client is **not thread-safe**: use one per thread (they are cheap; all share one ZeroMQ
context). Concurrent use from two threads raises RuntimeError instead of corrupting the
socket. Within one thread, :meth:`Client.submit` and :meth:`Client.result` pipeline
requests: send several, then collect their replies in any order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from bridge.connection import BridgeDisconnected, Connection, RequestTimeout
from bridge.errors import BridgeError
from bridge.frames import DatasetRef

__all__ = ["BridgeDisconnected", "BridgeError", "Client", "RequestTimeout"]


class Client(Connection):
    """A connection to one bridge server with a method per operation (see
    :class:`~bridge.connection.Connection` for the constructor's options)."""

    def ping(self) -> dict[str, Any]:
        return self.request("ping")

    def info(self) -> dict[str, Any]:
        return self.request("info")

    def instances(self) -> list[dict[str, Any]]:
        return self.request("instances")

    def stats(self) -> dict[str, Any]:
        return self.request("stats")

    def init(self, class_name: str, /, instance: str | None = None, **options: Any) -> str:
        """Create an instance; return its id (generated unless ``instance`` is given)."""
        self._read_limits()
        instance = instance or f"{class_name}{uuid.uuid4().hex[:12]}"
        self.request("init", **{"class": class_name, "instance": instance, "options": options})
        self._keep_lease()
        return instance

    def call(
        self,
        instance: str,
        method: str,
        /,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = ...,  # type: ignore[assignment]
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Any:
        """Call a method; ``{"instance": id}`` results come back as the id string.

        ``progress(event)`` receives the progress messages of a fitting method (step,
        steps, batch_inertia, ewa_inertia, epoch, elapsed). When ``timeout`` (seconds;
        default the client's) passes, the call is cancelled on the server as well and
        :class:`RequestTimeout` is raised; the instance is left as it was. With
        ``idempotency_key`` a resent call (after a timeout or a server restart) is
        applied once: the server answers a key it already applied from its record.
        """
        rid = self.submit_call(
            instance, method, progress=progress, idempotency_key=idempotency_key, **params
        )
        result = self.result(rid, timeout)
        if isinstance(result, dict) and set(result) == {"instance"}:
            return result["instance"]
        return result

    def submit_call(
        self,
        instance: str,
        method: str,
        /,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> int:
        """Send a ``call`` without waiting (see :meth:`call`); returns its request id."""
        fields: dict[str, Any] = {"instance": instance, "method": method, "params": params}
        if progress is not None:
            fields["progress"] = True
        if idempotency_key is not None:
            fields["idempotency_key"] = idempotency_key
        rid = self.submit("call", **fields)
        if progress is not None:
            self._progress[rid] = progress
        return rid

    def cancel(self, rid: int) -> dict[str, Any]:
        """Cancel a submitted call: dropped if it waits, stopped at its next step if it
        runs. Its :meth:`result` then raises :class:`~bridge.errors.Cancelled`."""
        return self.request("cancel", target=rid)

    def get(self, instance: str, attribute: str) -> Any:
        return self.request("get", instance=instance, attribute=attribute)

    def dispose(self, instance: str | DatasetRef) -> None:
        """Release an instance, or a dataset handle from :meth:`dataset`."""
        if isinstance(instance, DatasetRef):
            self.request("dispose", dataset=instance.id)
        else:
            self.request("dispose", instance=instance)

    def dataset(self, data: Any, name: str | None = None) -> DatasetRef:
        """Upload ``data`` (ndarray, CSR matrix, DataFrame) once; the handle returned goes
        in place of the data in later calls of this client, on any of its instances."""
        self._read_limits()
        handle = DatasetRef(name or f"ds{uuid.uuid4().hex[:16]}")
        self.request("dataset", dataset=handle.id, data=data)
        self._keep_lease()
        return handle

    def _read_limits(self) -> None:
        if self.limits is None:
            self.limits = self.info().get("limits", {})

    def _keep_lease(self) -> None:
        """This client owns something now: renew its lease from the background."""
        lease = float((self.limits or {}).get("lease_seconds") or 0)
        if self._renew and lease and not self._renewing and self._watchdog is not None:
            self._watchdog.renew(lease)
            self._renewing = True

    def datasets(self) -> list[dict[str, Any]]:
        return self.request("datasets")

    def save(self, instance: str) -> bytes:
        """The instance in the model format (docs/MODEL_FORMAT.md)."""
        return self.request("save", instance=instance)["model"].tobytes()

    def load(self, data: bytes, instance: str | None = None) -> str:
        """Create an instance from model-format bytes; return its id (generated unless
        ``instance`` is given)."""
        self._read_limits()
        instance = instance or f"loaded{uuid.uuid4().hex[:12]}"
        model = np.frombuffer(data, dtype=np.uint8)
        self.request("load", instance=instance, model=model)
        self._keep_lease()
        return instance

    def shutdown(self, token: str | None = None) -> None:
        """Stop the server. ``token``: the shutdown token of a server the launcher
        started (``ServerProcess.shutdown_token``)."""
        if token is None:
            self.request("shutdown")
        else:
            self.request("shutdown", token=token)

    # -- lifetime ----------------------------------------------------------------------
