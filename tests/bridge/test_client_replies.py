"""The Python client's reply matching, against a scripted server (a bare ROUTER).

A small call waits with one receive when it is the only request in flight; whatever else
comes first (a late reply to an abandoned request, an error, a reply with buffers) must
still be handled as the general receive handles it.
"""

from __future__ import annotations

import threading

import msgpack
import numpy as np
import pytest
import zmq

from bridge import errors
from bridge.client import Client


class Scripted:
    """A ROUTER on inproc that answers each request with ``script(header)``: a list of
    multipart messages (without the routing frame) sent back in order. Its thread owns
    the socket (zmq sockets are not thread-safe) until ``stop``."""

    def __init__(self, context: zmq.Context, script):
        self.endpoint = "inproc://scripted-replies"
        self.script = script
        self.stopping = threading.Event()
        bound = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(context, bound), daemon=True)
        self.thread.start()
        assert bound.wait(5)

    def _serve(self, context: zmq.Context, bound: threading.Event) -> None:
        with context.socket(zmq.ROUTER) as socket:
            socket.linger = 0
            socket.bind(self.endpoint)
            bound.set()
            while not self.stopping.is_set():
                if not socket.poll(50):
                    continue
                identity, raw = socket.recv_multipart()
                for parts in self.script(msgpack.unpackb(raw)):
                    socket.send_multipart([identity, *parts])

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


def reply(rid, result=None, **extra) -> list[bytes]:
    return [msgpack.packb({"v": 1, "id": rid, "ok": True, "result": result, **extra})]


@pytest.fixture
def scripted():
    context = zmq.Context()
    started = []

    def start(script) -> Client:
        server = Scripted(context, script)
        client = Client(server.endpoint, context=context, timeout=5, heartbeat=None, renew=False)
        started.append((server, client))
        return client

    yield start
    for server, client in started:
        client.close()
        server.stop()
    context.term()


def test_a_late_reply_and_a_progress_message_before_the_reply_are_passed_over(scripted):
    def script(header):
        rid = header["id"]
        return [
            reply(rid + 1000, "late reply to an abandoned request"),
            [msgpack.packb({"v": 1, "id": rid, "progress": {"step": 1}})],
            reply(rid, {"pong": True}),
        ]

    client = scripted(script)
    assert client.ping() == {"pong": True}
    assert client.ping() == {"pong": True}


def test_an_error_reply_raises_its_typed_error(scripted):
    def script(header):
        error = {"code": "unknown_instance", "message": "unknown instance 'x'"}
        return [[msgpack.packb({"v": 1, "id": header["id"], "ok": False, "error": error})]]

    client = scripted(script)
    with pytest.raises(errors.UnknownInstance, match="unknown instance 'x'"):
        client.get("x", "n_iter_")


def test_a_reply_with_buffers_is_decoded(scripted):
    values = np.arange(6, dtype=np.float64).reshape(2, 3)

    def script(header):
        ref = {"$type": "ndarray", "frame": 0, "dtype": "float64", "shape": [2, 3]}
        return [[*reply(header["id"], ref), values.tobytes()]]

    client = scripted(script)
    np.testing.assert_array_equal(client.get("km", "cluster_centers_"), values)
