"""The Python client's watchdog thread: liveness and lease renewal on a connection of
its own (see :class:`Watchdog`)."""

from __future__ import annotations

import os
import threading
import time

import msgpack
import zmq

from bridge.protocol import PROTOCOL_VERSION

__all__ = ["Watchdog"]


class Watchdog:
    """A thread with a socket of its own to the server, for what the client's own socket
    cannot do while it waits or is busy sending a large message:

    - liveness: libzmq heartbeats on this idle connection notice a dead or frozen server
      (a heartbeat on the data connection waits behind a message stuck half-sent);
      every drop of the connection is counted in :attr:`drops`;
    - leases: once :meth:`renew` is called, a ``ping`` with the session id every third
      of the lease.
    """

    def __init__(
        self,
        context: zmq.Context,
        endpoint: str,
        session: str,
        heartbeat: float | None,
        heartbeat_timeout: float,
        curve: dict[int, bytes],
    ) -> None:
        self.drops = 0
        self._every: float | None = None
        self._stop = threading.Event()
        # stop() wakes the thread's poll through this pair instead of waiting out a tick.
        wake = f"inproc://skbridge-watchdog-{os.urandom(8).hex()}"
        self._waker = context.socket(zmq.PAIR)
        self._waker.linger = 0
        self._waker.bind(wake)
        self._woken = context.socket(zmq.PAIR)
        self._woken.linger = 0
        self._woken.connect(wake)
        self._sock = sock = context.socket(zmq.DEALER)
        for option, value in curve.items():
            sock.setsockopt(option, value)
        sock.linger = 0
        if endpoint.startswith("tcp://["):
            sock.ipv6 = True
        self._monitor: zmq.Socket | None = None
        if heartbeat:
            sock.setsockopt(zmq.HEARTBEAT_IVL, int(heartbeat * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(heartbeat_timeout * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TTL, int(heartbeat_timeout * 1000))
            self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        sock.connect(endpoint)
        self._session = session
        self._tick = heartbeat or 1.0
        self._thread = threading.Thread(target=self._run, name="skbridge-watchdog", daemon=True)
        self._thread.start()

    def renew(self, lease: float) -> None:
        self._every = max(0.05, min(60.0, lease / 3))

    def _run(self) -> None:
        sock, monitor = self._sock, self._monitor
        packer = msgpack.Packer(use_bin_type=True)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._woken, zmq.POLLIN)
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        next_ping = time.monotonic()
        rid = 0
        try:
            while not self._stop.is_set():
                every = self._every
                if every is not None and time.monotonic() >= next_ping:
                    rid += 1
                    header = {"v": PROTOCOL_VERSION, "id": rid, "op": "ping"}
                    header["session"] = self._session
                    sock.send(packer.pack(header), zmq.NOBLOCK)
                    next_ping = time.monotonic() + every
                wait = self._tick if every is None else min(self._tick, every)
                for ready, _ in poller.poll(int(wait * 1000)):
                    if ready is self._woken:
                        return
                    ready.recv_multipart()  # ping replies only prove the server is there
                    if ready is monitor:
                        self.drops += 1
        except zmq.ZMQError:
            pass  # closed under us at exit
        finally:
            if monitor is not None:
                sock.disable_monitor()
                monitor.close(linger=0)
            sock.close(linger=0)
            self._woken.close()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._waker.send(b"", zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the thread has ended already
        self._thread.join(5)
        self._waker.close()
