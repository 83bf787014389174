"""The save and load operations: bit-for-bit round trips, hostile bytes refused."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from bridge import errors
from bridge.client import Client
from estimators import MiniBatchKMeans, dump_model

from .conftest import in_process_server, scaled

X = np.random.default_rng(3).normal(size=(400, 5))
InvalidModel = errors.error_class("invalid_model")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_save_and_load_round_trip_bit_for_bit(client):
    km = client.init("MiniBatchKMeans", n_clusters=4, random_state=2, n_init=2)
    client.call(km, "fit", X=X)
    client.call(km, "partial_fit", X=X[:100])
    saved = client.save(km)
    reference = MiniBatchKMeans(n_clusters=4, random_state=2, n_init=2).fit(X).partial_fit(X[:100])
    assert saved == dump_model(reference)
    copy = client.load(saved)
    assert client.save(copy) == saved
    assert np.array_equal(client.call(copy, "predict", X=X), reference.predict(X))
    # Both go on from the same state, generator included.
    client.call(km, "partial_fit", X=X[100:200])
    client.call(copy, "partial_fit", X=X[100:200])
    assert client.save(copy) == client.save(km)
    # A model saved in Python loads too, unfitted or not.
    fresh = client.load(dump_model(MiniBatchKMeans(n_clusters=7)), "from-python")
    assert fresh == "from-python"
    assert not next(e for e in client.instances() if e["instance"] == fresh)["fitted"]
    for instance in (km, copy, fresh):
        client.dispose(instance)


def _hostile() -> list[tuple[str, bytes]]:
    good = dump_model(MiniBatchKMeans(n_clusters=2).fit(X))
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    manifest = json.loads(members["manifest.json"])
    manifest["attributes"]["cluster_centers_"]["shape"] = [10**11, 5]
    huge = json.dumps(manifest)
    return [
        ("empty", b""),
        ("not a zip", b"hello world" * 10),
        ("truncated", good[: len(good) // 2]),
        ("flipped byte", good[:200] + bytes([good[200] ^ 0xFF]) + good[201:]),
        ("pickle member", _zip({"manifest.json": b"{}", "attributes/x.pkl": b"\x80\x04."})),
        ("huge declared shape", _zip({**members, "manifest.json": huge.encode()})),
        ("foreign class", good.replace(b'"MiniBatchKMeans"', b'"os.system______"', 1)),
    ]


@pytest.mark.parametrize(("what", "data"), _hostile(), ids=[name for name, _ in _hostile()])
def test_hostile_bytes_are_invalid_model_and_the_server_keeps_serving(client, what, data):
    with pytest.raises(InvalidModel) as raised:
        client.load(data, "hostile")
    assert raised.value.code == "invalid_model" and raised.value.message
    assert client.ping()["pong"]
    # The id was only held while loading: it is free again.
    assert client.init("MiniBatchKMeans", instance="hostile", n_clusters=2) == "hostile"
    client.dispose("hostile")


def test_load_request_checks(client):
    km = client.init("MiniBatchKMeans", n_clusters=2)
    with pytest.raises(errors.DuplicateInstance):
        client.load(dump_model(MiniBatchKMeans()), km)
    with pytest.raises(errors.ProtocolError, match="uint8"):
        client.request("load", instance="x1", model=np.zeros(8))
    with pytest.raises(errors.ProtocolError, match="ndarray"):
        client.request("load", instance="x1", model="bytes?")
    with pytest.raises(errors.UnknownInstance):
        client.save("never-made")
    client.dispose(km)


def test_load_never_allocates_past_the_memory_limit():
    from bridge.limits import Limits

    big = dump_model(MiniBatchKMeans(n_clusters=200, n_init=1).fit(np.tile(X, (4, 40))))
    limits = Limits(max_memory_bytes=len(big) + 50_000)
    with in_process_server(limits=limits) as (_, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            # The request's bytes take most of the budget; the model's arrays no longer fit.
            with pytest.raises((InvalidModel, errors.ResourceExhausted), match="max_"):
                client.load(big, "big")
            small = client.load(dump_model(MiniBatchKMeans(n_clusters=2).fit(X)), "small")
            assert client.get(small, "cluster_centers_").shape == (2, 5)
