"""One local two-node Ray cluster for every Ray test, a Ray-backed server on it, and an
in-process server to compare with (results must be bit-identical)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.client import Client
from bridge.launcher import ServerProcess, spawn_server
from tests.bridge.conftest import scaled
from tests.ray.cluster import local_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    with local_cluster(nodes=2) as cluster:
        yield cluster


def ray_flags(cluster: Any, *extra: str) -> list[str]:
    return ["--backend", "ray", "--ray-address", cluster.address, *extra]


@pytest.fixture(scope="session")
def ray_server(ray_cluster: Any) -> Iterator[ServerProcess]:
    flags = ray_flags(ray_cluster, "--ray-namespace", "shared")
    with spawn_server(debug=True, timeout=scaled(120), extra_args=flags) as server:
        yield server


@pytest.fixture(scope="session")
def local_server() -> Iterator[ServerProcess]:
    with spawn_server(workers=2, timeout=scaled(60)) as server:
        yield server


@pytest.fixture
def ray_client(ray_server: ServerProcess) -> Iterator[Client]:
    with Client(ray_server.endpoint, timeout=scaled(120)) as client:
        yield client


@pytest.fixture
def local_client(local_server: ServerProcess) -> Iterator[Client]:
    with Client(local_server.endpoint, timeout=scaled(60)) as client:
        yield client
