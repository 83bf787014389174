"""Fixtures: real server processes on private endpoints, and clients connected to them.

Every socket wait is scaled by SKBRIDGE_TEST_TIMEOUT_SCALE (default 1) so slow machines
can stretch the limits without editing tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bridge.client import Client
from bridge.launcher import ServerProcess, spawn_server

TIMEOUT_SCALE = float(os.environ.get("SKBRIDGE_TEST_TIMEOUT_SCALE", "1"))


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


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
