"""Worker threads that run estimator work off the socket loop.

Threads suffice because numpy, scipy and BLAS release the GIL in their heavy loops. Each
worker owns a DEALER socket (ZeroMQ sockets must not be shared between threads) connected
to the loop's ROUTER over inproc under its own routing id, and sends each finished reply
there for the loop to forward.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import zmq

from bridge.sockets import send_message

__all__ = ["INTERIM", "Job", "WorkerPool", "send_interim"]

log = logging.getLogger("skbridge.workers")

# The token of a message that the loop only forwards (progress), without ending a job.
INTERIM = b""
_local = threading.local()


def send_interim(identity: Any, header: bytes) -> None:
    """Send an interim message to a client from inside a running job."""
    send_message(_local.sock, [INTERIM, identity, header])


class Job(NamedTuple):
    """A unit of work. ``run`` returns the reply frames (header, then buffers)."""

    token: bytes  # tells the loop which instance finished, so it can start the next job
    identity: Any  # the client's ROUTER routing frame
    run: Callable[[], list[Any]]
    # Accounting the loop settles when the job ends: the session it counts against, the
    # request's buffer bytes, and when it was received (for latency).
    session: Any = None
    nbytes: int = 0
    received: float = 0.0
    slot: Any = None
    # Shared with the loop: cancellation flag and progress settings (see operations).
    control: Any = None


class WorkerPool:
    def __init__(self, context: zmq.Context, address: str, routing_ids: list[bytes]) -> None:
        """One worker per routing id, each connecting a DEALER to ``address``."""
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(
                target=self._work,
                args=(context, address, routing_id),
                name=f"skbridge-worker-{i}",
                daemon=True,
            )
            for i, routing_id in enumerate(routing_ids)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self, timeout: float) -> bool:
        """Ask every worker to exit; True if all did within ``timeout`` seconds.

        Workers still inside a long estimator call cannot be interrupted; they are daemon
        threads, so they do not keep the process alive.
        """
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _work(self, context: zmq.Context, address: str, routing_id: bytes) -> None:
        sock = context.socket(zmq.DEALER)
        sock.routing_id = routing_id
        sock.sndhwm = 0  # never drop or block on replies
        sock.linger = 0
        sock.connect(address)
        _local.sock = sock
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                self._run(sock, job)
                # Drop the request (and its possibly huge frames) now rather than when the
                # next job arrives: freeing a large buffer while ZeroMQ receives the next
                # one makes the two fight over the process's memory map.
                del job
        except zmq.ContextTerminated:
            pass  # the server is shutting down
        finally:
            sock.close()

    @staticmethod
    def _run(sock: zmq.Socket, job: Job) -> None:
        try:
            frames = job.run()
        except Exception:  # run() builds its own error replies; this is a bug
            log.exception("job failed to build a reply")
            # The token alone still frees the instance's queue in the loop.
            send_message(sock, [job.token])
            return
        send_message(sock, [job.token, job.identity, *frames])
