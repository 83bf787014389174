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
        self._running: dict[bytes, Job] = {}

    def idle(self, token: bytes) -> bool:
        """Nothing runs or waits for this instance."""
        return token not in self._queues

    def submit(self, job: Job) -> None:
        """Run ``job`` now if its instance is idle, else after the jobs queued before it."""
        waiting = self._queues.get(job.token)
        if waiting is None:
            self._queues[job.token] = deque()
            self._start(job)
        else:
            waiting.append(job)

    def _start(self, job: Job) -> None:
        self._running[job.token] = job
        self._pool.submit(job)

    def finished(self, token: bytes) -> Job | None:
        """The running job of ``token``'s instance is done: start its next one and return
        the one that finished."""
        waiting = self._queues.get(token)
        if waiting is None:
            log.error("finished job for unknown token %r", token)
            return None
        done = self._running.pop(token)
        if waiting:
            self._start(waiting.popleft())
        else:
            del self._queues[token]
        return done

    def remove(self, job: Job) -> bool:
        """Take a waiting (not running) job out of its queue; False if it is not waiting."""
        waiting = self._queues.get(job.token)
        if waiting is None or job not in waiting:
            return False
        waiting.remove(job)
        return True

    def is_running(self, job: Job) -> bool:
        return self._running.get(job.token) is job

    def drop(self, token: bytes) -> list[Job]:
        """Remove and return the jobs waiting (not running) for ``token``'s instance."""
        waiting = self._queues.get(token)
        if not waiting:
            return []
        dropped = list(waiting)
        waiting.clear()
        return dropped

    def queued(self) -> int:
        """Jobs waiting behind a running one, over all instances."""
        return sum(len(waiting) for waiting in self._queues.values())

    def running(self) -> int:
        return len(self._queues)

    def stop(self, timeout: float) -> bool:
        """Stop the workers; True if none was still inside a job after ``timeout`` s."""
        return self._pool.stop(timeout)
