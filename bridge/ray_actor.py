"""The Ray actor that holds one instance for ``skbridge serve --backend ray``.

It runs the same code as the in-process backend on its own estimator: validation, the
call and result shaping (:func:`bridge.dispatch.call_method`), the snapshot that undoes a
cancelled fit (:func:`bridge.control.guarded`). Only the transport differs, so results are
bit-identical. Its methods never raise for a failed call: they return the wire error, so
the gateway re-raises exactly the error the in-process backend would have sent.

The actor is threaded with two threads: one runs the instance's calls (the gateway keeps
them one at a time, in arrival order), the other answers ``cancel`` and ``drain``
(progress) while a fit runs. Nothing here imports Ray: the gateway wraps the class with
``ray.remote`` (:mod:`bridge.ray_backend`), and arrays of datasets are fetched through the
``fetch`` function it passes in.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

from bridge.control import FITTING, Control, guarded
from bridge.dispatch import call_method, read_attribute, translate
from bridge.errors import Cancelled
from bridge.registry import Slot
from estimators import dump_model
from schemas import ClassContract

__all__ = ["InstanceActor"]

Outcome = tuple[str, Any]  # ("ok", value) or ("error", wire error map)


class _Recorder(Control):
    """A Control that keeps progress events for the gateway to collect."""

    __slots__ = ("events", "lock")

    def __init__(self, *, progress: bool, stoppable: bool) -> None:
        super().__init__(None, 0, progress=progress, stoppable=stoppable)
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def _send(self, event: dict[str, Any]) -> None:
        self._pending = None
        with self.lock:
            self.events.append(event)

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
        return events


class InstanceActor:
    def __init__(
        self,
        instance_id: str,
        estimator: Any,
        contract: ClassContract,
        owner: str,
        owner_key: str | None,
        where: dict[str, Any],
        debug: bool = False,
    ) -> None:
        """``where``: this process's node (filled in by the gateway's wrapper)."""
        # As in the in-process server: one BLAS thread, and OpenMP's default thread
        # count. Ray sets OMP_NUM_THREADS=1 in its workers, but the estimators split
        # inertia sums by that count (as scikit-learn does), so it changes the last bits.
        os.environ.pop("OMP_NUM_THREADS", None)
        threadpool_limits(limits=1, user_api="blas")
        self._threads = threading.local()
        self._slot = Slot(
            instance_id, contract.name, estimator, contract, b"", owner, owner_key=owner_key
        )
        self._slot.refresh()
        self._where = {**where, "pid": os.getpid()}
        self._debug = debug
        self._control: _Recorder | None = None
        # (call number, reason) of a cancel that arrived before its call started.
        self._early_cancel: tuple[int, str] | None = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        slot = self._slot
        return {
            "instance": slot.instance_id,
            "class": slot.class_name,
            "owner": slot.owner,
            "owner_key": slot.owner_key,
            "fitted": slot.fitted,
            "nbytes": slot.nbytes,
            **self._where,
        }

    def call(
        self,
        number: int,
        method: str,
        params: dict[str, Any],
        buffers: list[Any],
        datasets: dict[str, Any],
        progress: bool,
        fetch: Callable[[Any], Any],
    ) -> tuple[Outcome, list[dict[str, Any]], int, bool]:
        """Run a contract method (checked by the gateway); return the outcome, the
        progress events not yet collected, and the instance's new nbytes and fitted."""
        self._openmp_default()
        slot = self._slot
        fitting = method in FITTING
        control = _Recorder(progress=progress, stoppable=fitting)
        with self._lock:
            early = self._early_cancel
            if early is not None and early[0] == number:
                control.cancel(early[1])
            self._early_cancel = None
            self._control = control
        fetched: dict[str, Any] = {}

        def resolve(name: Any) -> Any:
            # Names were checked (and their object refs looked up) by the gateway.
            if name not in fetched:
                fetched[name] = fetch(datasets[name])
            return fetched[name]

        try:
            if control.cancelled:
                raise Cancelled(control.why)
            run = functools.partial(
                call_method, slot, method, slot.contract.methods[method], params, buffers,
                resolve=resolve,
            )  # fmt: skip
            if fitting:
                with guarded(slot.estimator, control):
                    outcome: Outcome = ("ok", run())
            else:
                outcome = ("ok", run())
        except Exception as exc:
            outcome = ("error", translate(exc, debug=self._debug).to_wire(debug=self._debug))
        finally:
            with self._lock:
                self._control = None
            slot.refresh()
        return outcome, control.take(), slot.nbytes, slot.fitted

    def _openmp_default(self) -> None:
        """OpenMP's thread count is per calling thread: set it once in each of ours."""
        if not getattr(self._threads, "set", False):
            threadpool_limits(limits=os.cpu_count() or 1, user_api="openmp")
            self._threads.set = True

    def read(self, attribute: str) -> Outcome:
        try:
            return ("ok", read_attribute(self._slot, attribute))
        except Exception as exc:
            return ("error", translate(exc, debug=self._debug).to_wire(debug=self._debug))

    def cancel(self, number: int, why: str) -> None:
        """Stop call ``number`` at its next step (or before it starts)."""
        with self._lock:
            if self._control is not None:
                self._control.cancel(why)
            else:
                self._early_cancel = (number, why)

    def drain(self) -> list[dict[str, Any]]:
        """Progress events of the running call since the last drain."""
        control = self._control
        return control.take() if control is not None else []

    def dump(self, extra: dict[str, Any] | None) -> bytes:
        return dump_model(self._slot.estimator, extra=extra)
