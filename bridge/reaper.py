"""What happens when a session's lease runs out: its instances and datasets are disposed,
their queued work is dropped and their running work cancelled (the socket loop calls
:func:`reap` from its timed work)."""

from __future__ import annotations

import logging
from typing import Any

from bridge.sessions import Session

__all__ = ["reap"]

log = logging.getLogger("skbridge.server")


def reap(session: Session, operations: Any, stats: Any, lease_seconds: float) -> None:
    """Reclaim everything ``session`` held (``operations``: the server's
    :class:`~bridge.operations.Operations`; ``stats``: its :class:`~bridge.metrics.Stats`)."""
    for name in list(session.datasets):
        operations.remove_dataset(name, session)
    if not session.instances:
        return
    stats.reaped_sessions += 1
    for instance_id in list(session.instances):
        if not operations.registry.exists(instance_id):
            continue  # already gone (disposed through another session of its key)
        slot = operations.remove(instance_id)
        for job in operations.scheduler.drop(slot.token):
            operations.settle(job)
        stats.reaped_instances += 1
    for (name, _), job in list(operations.jobs.items()):
        if name == session.name and job.control is not None:
            job.control.cancel(f"session {name!r} expired")
    log.info("session %s silent for over %g s: disposed its instances", session.name, lease_seconds)
