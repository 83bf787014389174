"""Server limits: each one refuses with resource_exhausted (or drops an oversized frame
before buffering it), names the limit, keeps what is held and keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import msgpack
import numpy as np
import pytest
import zmq

from bridge import errors
from bridge.client import Client
from bridge.launcher import ServerProcess, rss_bytes, spawn_server

from .conftest import scaled

MiB = 1 << 20


@pytest.fixture(scope="module")
def limited() -> Iterator[ServerProcess]:
    args = [
        "--max-instances", "4",
        "--max-memory-bytes", str(64 * MiB),
        "--max-queued-per-session", "3",
        "--max-message-bytes", str(32 * MiB),
    ]  # fmt: skip
    with spawn_server(workers=2, timeout=scaled(60), extra_args=args) as server:
        yield server


def raw_dealer(endpoint: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    return sock


def test_info_reports_the_limits(limited):
    with Client(limited.endpoint, timeout=scaled(30)) as client:
        limits = client.info()["limits"]
    assert limits["max_instances"] == 4
    assert limits["max_memory_bytes"] == 64 * MiB
    assert limits["max_queued_per_session"] == 3
    assert limits["max_message_bytes"] == 32 * MiB
    assert limits["lease_seconds"] == 300


def test_max_instances(limited):
    with Client(limited.endpoint, timeout=scaled(30)) as client:
        before = len(client.instances())
        made = [client.init("MiniBatchKMeans", n_clusters=2) for _ in range(4 - before)]
        with pytest.raises(errors.ResourceExhausted, match="max_instances=4") as info:
            client.init("MiniBatchKMeans", n_clusters=2)
        assert info.value.details == [{"limit": "max_instances", "value": 4}]
        # Nothing already held is lost, and a freed place can be taken again.
        assert {e["instance"] for e in client.instances()} >= set(made)
        client.dispose(made[0])
        made[0] = client.init("MiniBatchKMeans", n_clusters=2)
        for instance in made:
            client.dispose(instance)


def test_oversized_frame_never_reaches_the_server(limited):
    """A frame over --max-message-bytes is dropped by libzmq while it arrives: the server
    stays small and keeps answering; the Python client refuses to send it at all."""
    rss_before = rss_bytes(limited.pid)
    sock = raw_dealer(limited.endpoint)
    try:
        header = {"v": 1, "id": 1, "op": "call", "instance": "x", "method": "fit",
                  "params": {"X": {"$type": "ndarray", "frame": 0, "dtype": "float64",
                                   "shape": [8 * MiB, 8]}}}  # fmt: skip
        big = np.zeros(64 * MiB, dtype=np.uint8)  # 2x the limit
        sock.send_multipart([msgpack.packb(header), big], copy=False)
        assert not sock.poll(int(scaled(1) * 1000)), "an oversized frame got a reply"
    finally:
        sock.close()
    with Client(limited.endpoint, timeout=scaled(30)) as client:
        assert client.ping()["pong"]
        assert rss_bytes(limited.pid) - rss_before < 16 * MiB
        km = client.init("MiniBatchKMeans", n_clusters=2)
        with pytest.raises(errors.ResourceExhausted, match="max_message_bytes"):
            client.call(km, "fit", X=np.zeros((4 * MiB + 1, 1)))
        client.dispose(km)


def test_two_gib_message_with_the_default_limit():
    """The issue's reproduction: 2 GiB sent to a server with default limits."""
    with spawn_server(workers=1, timeout=scaled(60)) as server:
        rss_before = rss_bytes(server.pid)
        sock = raw_dealer(server.endpoint)
        try:
            header = {"v": 1, "id": 1, "op": "ping"}
            # Zero pages: the sender's memory costs nothing; the server must not buffer it.
            big = np.zeros(2 << 30, dtype=np.uint8)
            sock.send_multipart([msgpack.packb(header), big], copy=False)
            assert not sock.poll(int(scaled(2) * 1000))
        finally:
            sock.close()
            del big
        with Client(server.endpoint, timeout=scaled(30)) as client:
            assert client.ping()["pong"]
            assert client.info()["limits"]["max_message_bytes"] == 1 << 30
        assert rss_bytes(server.pid) - rss_before < 64 * MiB


def test_wide_sparse_fit_is_refused_before_it_allocates(limited):
    """fit on a 16 x 2^24 CSR with 16 non-zeros and k=8 would need 8 x 2^24 float64
    centers (1 GiB, several times over): refused, and the server does not grow."""
    from scipy import sparse

    rss_before = rss_bytes(limited.pid)
    X = sparse.csr_matrix(
        (np.ones(16), np.arange(16, dtype=np.int32), np.arange(17, dtype=np.int32)),
        shape=(16, 1 << 24),
    )
    with Client(limited.endpoint, timeout=scaled(60)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=8, random_state=0)
        with pytest.raises(errors.ResourceExhausted, match="max_memory_bytes") as info:
            client.call(km, "fit", X=X)
        assert info.value.details[0]["limit"] == "max_memory_bytes"
        assert client.ping()["pong"]
        # The instance is untouched and still usable with data that fits.
        assert client.instances()
        client.call(km, "fit", X=np.random.default_rng(0).normal(size=(64, 3)))
        assert client.get(km, "cluster_centers_").shape == (8, 3)
        client.dispose(km)
    assert rss_bytes(limited.pid) - rss_before < 64 * MiB


def test_queued_bytes_count_against_the_memory_limit(limited):
    X = np.random.default_rng(1).normal(size=(100_000, 32))  # 25.6 MB
    # Long enough that the later requests arrive while the first fit runs.
    long_fit = {"max_iter": 3, "tol": 0.0, "max_no_improvement": None, "batch_size": 256}
    with Client(limited.endpoint, timeout=scaled(120)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **long_fit)
        # Pipelined: the first fit runs, the others wait with their X held by the server.
        rids = [client.submit("call", instance=km, method="fit", params={"X": X})]
        rids += [client.submit("call", instance=km, method="fit", params={"X": X})]
        rids += [client.submit("call", instance=km, method="fit", params={"X": X})]
        outcomes = []
        for rid in rids:
            try:
                client.result(rid)
                outcomes.append("ok")
            except errors.ResourceExhausted as exc:
                assert "max_memory_bytes" in str(exc)
                outcomes.append("refused")
        # Two X (51.2 MB) and the first fit's working memory fit in 64 MiB; a third does not.
        assert outcomes[0] == "ok" and "refused" in outcomes
        stats = client.stats()
        assert stats["errors"]["resource_exhausted"] >= 1
        assert stats["bytes_pending"] == 0 and stats["bytes_reserved"] == 0
        client.dispose(km)


def test_queued_requests_per_session(limited):
    X = np.random.default_rng(2).normal(size=(2_000, 8))
    long_fit = {"max_iter": 30, "tol": 0.0, "max_no_improvement": None, "batch_size": 64}
    with Client(limited.endpoint, timeout=scaled(120)) as client:
        km = client.init("MiniBatchKMeans", n_clusters=4, random_state=0, **long_fit)
        rids = [client.submit("call", instance=km, method="fit", params={"X": X}) for _ in range(5)]
        refused = 0
        for rid in rids:
            try:
                client.result(rid)
            except errors.ResourceExhausted as exc:
                assert "max_queued_per_session=3" in str(exc)
                refused += 1
        assert refused == 2
        # Another session is not affected by this one's queue.
        with Client(limited.endpoint, timeout=scaled(30)) as other:
            assert other.ping()["pong"]
        client.dispose(km)


def test_huge_header_and_many_keys_are_refused_cheaply(limited):
    sock = raw_dealer(limited.endpoint)
    try:
        # A 2 MB unknown option key: over max_header_bytes, refused without parsing.
        header = {"v": 1, "id": 1, "op": "init", "class": "MiniBatchKMeans",
                  "instance": "k1", "options": {"x" * (2 * MiB): 1}}  # fmt: skip
        sock.send(msgpack.packb(header))
        assert sock.poll(int(scaled(30) * 1000))
        raw = sock.recv()
        reply = msgpack.unpackb(raw)
        assert reply["error"]["code"] == "resource_exhausted"
        assert "max_header_bytes" in reply["error"]["message"]
        assert len(raw) < 2048
        # 100,000 unknown option keys: over max_map_len, refused while parsing.
        header["options"] = {f"k{i}": i for i in range(100_000)}
        header["id"] = 2
        sock.send(msgpack.packb(header))
        assert sock.poll(int(scaled(30) * 1000))
        raw = sock.recv()
        reply = msgpack.unpackb(raw)
        assert reply["error"]["code"] in ("protocol_error", "resource_exhausted")
        assert len(raw) < 2048
    finally:
        sock.close()
