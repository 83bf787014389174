"""Fixtures: real server processes on private endpoints, and clients connected to them.

Every socket wait is scaled by SKBRIDGE_TEST_TIME_SCALE (default 1; the TypeScript suite
reads the same variable) so slow machines can stretch the limits without editing tests.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge.client import Client
from bridge.endpoints import resolve_endpoint
from bridge.launcher import ServerProcess, spawn_server
from bridge.server import Server

TIME_SCALE = float(os.environ.get("SKBRIDGE_TEST_TIME_SCALE", "1"))


def scaled(seconds: float) -> float:
    return seconds * TIME_SCALE


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``scaled(seconds)`` pass (fail)."""
    deadline = time.monotonic() + scaled(seconds)
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {scaled(seconds):.1f} s waiting for {what}")
        time.sleep(0.005)


@contextlib.contextmanager
def in_process_server(**options: Any) -> Iterator[tuple[Server, str]]:
    """A :class:`Server` serving from a thread of this process, for tests that reach into
    it (patched classes, internal counters). Yields the server and its endpoint."""
    options.setdefault("workers", 1)
    server = Server(resolve_endpoint(None), **options)
    endpoint = server.bind()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server, endpoint
    finally:
        server.stop()
        thread.join(scaled(10))
        assert not thread.is_alive(), "the server loop did not stop"
        server.close()


@pytest.fixture(scope="session")
def ipc_server() -> Iterator[ServerProcess]:
    with spawn_server(workers=4, timeout=scaled(60)) as server:
        yield server


@pytest.fixture(scope="session")
def tcp_server() -> Iterator[ServerProcess]:
    # Port 0: the server binds a free port and reports it in its ready line.
    with spawn_server("tcp://127.0.0.1:0", workers=4, timeout=scaled(60)) as server:
        yield server


@pytest.fixture(params=["ipc", "tcp"])
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """The shared server, once per transport."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.endpoint, timeout=scaled(60)) as client:
        yield client


@pytest.fixture
def ipc_client(ipc_server: ServerProcess) -> Iterator[Client]:
    with Client(ipc_server.endpoint, timeout=scaled(60)) as client:
        yield client
