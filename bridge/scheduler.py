"""Per-instance scheduling: at most one job per instance runs; the others wait in order.

The :class:`Scheduler` owns the busy state and the FIFO of every instance and hands jobs
to the :class:`~bridge.workers.WorkerPool`. It lives on the socket loop's thread: the loop
submits jobs and reports each finished one, and the scheduler starts the next job of that
instance. Different instances run in parallel, up to the pool's size.
"""

from __future__ import annotations

import logging
from collections import deque

from bridge.workers import Job, WorkerPool

__all__ = ["Scheduler"]

log = logging.getLogger("skbridge.scheduler")


class Scheduler:
    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        # Instance token -> jobs waiting behind the one that runs. A token is present
        # exactly while a job of that instance runs.
        self._queues: dict[bytes, deque[Job]] = {}

    def idle(self, token: bytes) -> bool:
        """Nothing runs or waits for this instance."""
        return token not in self._queues

    def submit(self, job: Job) -> None:
        """Run ``job`` now if its instance is idle, else after the jobs queued before it."""
        waiting = self._queues.get(job.token)
        if waiting is None:
            self._queues[job.token] = deque()
            self._pool.submit(job)
        else:
            waiting.append(job)

    def finished(self, token: bytes) -> None:
        """The running job of ``token``'s instance is done: start its next one."""
        waiting = self._queues.get(token)
        if waiting is None:
            log.error("finished job for unknown token %r", token)
        elif waiting:
            self._pool.submit(waiting.popleft())
        else:
            del self._queues[token]

    def queued(self) -> int:
        """Jobs waiting behind a running one, over all instances."""
        return sum(len(waiting) for waiting in self._queues.values())

    def running(self) -> int:
        return len(self._queues)

    def stop(self, timeout: float) -> bool:
        """Stop the workers; True if none was still inside a job after ``timeout`` s."""
        return self._pool.stop(timeout)
