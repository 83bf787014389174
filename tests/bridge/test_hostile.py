"""A hostile client against a real server process: malformed arrays, deep nesting, huge
input and a short fuzz. Each bad request gets a typed error (never ``internal``), replies
stay small, and the server keeps serving."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

from bridge.client import Client

from .conftest import scaled

X = np.random.default_rng(0).normal(size=(40, 3))


def _load_fuzz():
    path = Path(__file__).resolve().parents[2] / "bench" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("skbridge_bench_fuzz", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Raw:
    """A bare DEALER socket sending messages the reference client never would."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.last_size = 0

    def send(self, header, *buffers) -> dict:
        head = header if isinstance(header, bytes) else msgpack.packb(header, use_bin_type=True)
        self.sock.send_multipart([head, *buffers])
        assert self.sock.poll(int(scaled(30) * 1000)), "no reply"
        frames = self.sock.recv_multipart()
        self.last_size = sum(len(f) for f in frames)
        return msgpack.unpackb(frames[0])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(ipc_server) -> Iterator[Raw]:
    raw = Raw(ipc_server.endpoint)
    yield raw
    # The server is alive and still answers after whatever the test sent.
    assert ipc_server.process.poll() is None, "the server process died"
    assert raw.send({"v": 1, "id": 1, "op": "ping"})["result"]["pong"] is True
    raw.close()


def ref(frame, dtype, shape, **extra) -> dict:
    return {"$type": "ndarray", "frame": frame, "dtype": dtype, "shape": list(shape), **extra}


def csr(shape, data, indices, indptr, first=0) -> tuple[dict, list[bytes]]:
    """A CSR reference over the given parts (numpy arrays), with its buffer frames."""
    parts = {"data": data, "indices": indices, "indptr": indptr}
    header = {"$type": "csr", "shape": list(shape)}
    for i, (key, part) in enumerate(parts.items()):
        header[key] = ref(first + i, part.dtype.name, part.shape)
    return header, [part.tobytes() for part in parts.values()]


def call(instance, method, params, rid=9) -> dict:
    return {"v": 1, "id": rid, "op": "call", "instance": instance, "method": method,
            "params": params}  # fmt: skip


@pytest.fixture
def fresh(ipc_client) -> Iterator[str]:
    instance = ipc_client.init("MiniBatchKMeans", n_clusters=2, random_state=0)
    yield instance
    ipc_client.dispose(instance)


@pytest.fixture
def fitted(ipc_client, fresh) -> str:
    ipc_client.call(fresh, "fit", X=X)
    return fresh


def assert_protocol_error(reply: dict, needle: str = "") -> None:
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == "protocol_error", reply
    assert needle in reply["error"]["message"]


# -- malformed CSR: once a segfault ------------------------------------------------------------

I32 = np.int32


def test_csr_whose_indptr_ends_at_zero(raw, fresh):
    x_ref, buffers = csr(
        (2, 3), np.array([1.0, 2.0]), np.array([0, 1], I32), np.array([0, 2, 0], I32)
    )
    reply = raw.send(call(fresh, "fit", {"X": x_ref}), *buffers)
    assert_protocol_error(reply, "indptr")
    assert reply["id"] == 9


@pytest.mark.parametrize("method", ["predict", "partial_fit", "transform", "score"])
def test_csr_with_wild_indptr_on_a_fitted_model(raw, fitted, method):
    x_ref, buffers = csr(
        (2, 3), np.array([1.0, 2.0]), np.array([0, 1], I32), np.array([0, 1_000_000, -1], I32)
    )
    assert_protocol_error(raw.send(call(fitted, method, {"X": x_ref}), *buffers), "indptr")


@pytest.mark.parametrize(
    ("parts", "needle"),
    [
        (([1.0, 2.0], [0, 1], [1, 2, 2]), "start at 0"),
        (([1.0, 2.0], [0, 1], [0, 2, 1]), "end at"),
        (([1.0, 2.0], [0, 1], [0, 3, 2]), "non-decreasing"),
        (([1.0, 2.0], [0, -1], [0, 1, 2]), "column index -1"),
        (([1.0, 2.0], [0, 3], [0, 1, 2]), "column index 3"),
        (([1.0, 2.0], [0], [0, 1, 2]), "indices has 1"),
        (([1.0], [0], [0, 1]), "needs 3"),
    ],
    ids=["start", "end", "decreasing", "negative-column", "column-past-end", "short", "rows"],
)
def test_bad_csr_structure(raw, fitted, parts, needle):
    data, indices, indptr = parts
    x_ref, buffers = csr((2, 3), np.array(data), np.array(indices, I32), np.array(indptr, I32))
    assert_protocol_error(raw.send(call(fitted, "predict", {"X": x_ref}), *buffers), needle)


@pytest.mark.parametrize("n_cols", [2**31, 2**63 - 1, 2**63, 2**64 - 1])
def test_csr_column_count_beyond_its_index_dtype(raw, fitted, n_cols):
    x_ref, buffers = csr((1, 1), np.array([1.0]), np.array([0], I32), np.array([0, 1], I32))
    x_ref["shape"] = [1, n_cols]
    assert_protocol_error(raw.send(call(fitted, "predict", {"X": x_ref}), *buffers))


def test_valid_csr_with_int64_indices_still_works(ipc_client, fitted):
    from scipy import sparse

    matrix = sparse.csr_matrix(X)
    matrix.indices = matrix.indices.astype(np.int64)
    matrix.indptr = matrix.indptr.astype(np.int64)
    assert np.array_equal(ipc_client.call(fitted, "predict", X=matrix),
                          ipc_client.call(fitted, "predict", X=X))  # fmt: skip


# -- bad references are protocol_error wherever they are -------------------------------------

EMPTY = b""
BAD_REFS = [
    (ref(0, ["float64"], (2, 3)), [np.ones(6).tobytes()], "dtype"),
    (ref(0, {"a": 1}, (2, 3)), [np.ones(6).tobytes()], "dtype"),
    (ref(0, "float64", (0, 2**62)), [EMPTY], "shape"),
    (ref(0, "float64", (0, 2**40, 2**40)), [EMPTY], "too large"),
    (ref(0, "float64", (2**63, 0)), [EMPTY], "shape"),
    (ref(0, "float64", (2, 3.0)), [np.ones(6).tobytes()], "shape"),
    (ref(0, "float64", [1] * 40), [np.ones(1).tobytes()], "dimensions"),
    (ref([0], "float64", (2, 3)), [np.ones(6).tobytes()], "frame"),
    (ref(0, "bool", (2, 3)), [bytes([0, 1, 2, 0, 1, 1])], "bool"),
    ({**ref(0, "float64", (2, 3)), b"bin": 1}, [np.ones(6).tobytes()], "unexpected keys"),
    ({"$type": [[["deep"]]]}, [], "$type"),
]


@pytest.mark.parametrize(("x_ref", "buffers", "needle"), BAD_REFS)
def test_bad_reference_in_call_is_protocol_error(raw, fresh, x_ref, buffers, needle):
    reply = raw.send(call(fresh, "fit", {"X": x_ref}), *buffers)
    assert_protocol_error(reply, needle)


@pytest.mark.parametrize(("x_ref", "buffers", "needle"), BAD_REFS)
def test_bad_reference_in_init_is_protocol_error(raw, x_ref, buffers, needle):
    header = {"v": 1, "id": 3, "op": "init", "class": "MiniBatchKMeans", "instance": "bad-init",
              "options": {"n_clusters": 2, "init": x_ref}}  # fmt: skip
    assert_protocol_error(raw.send(header, *buffers), needle)


def test_failed_fit_then_predict_is_not_fitted(ipc_client, fresh):
    from bridge import errors

    with pytest.raises(errors.EstimatorError):
        ipc_client.call(fresh, "fit", X=X[:1])  # fewer samples than clusters
    with pytest.raises(errors.NotFitted, match="did not complete"):
        ipc_client.call(fresh, "predict", X=X)


# -- deep nesting and huge input in the envelope ---------------------------------------------


def deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("key", ["v", "id", "op", "class", "instance", "method", "attribute"])
@pytest.mark.parametrize("value", [deep(400), {"a": deep(400)}, "é" * 1_000_000],
                         ids=["list", "map", "long-string"])  # fmt: skip
def test_wild_envelope_values(raw, fresh, key, value):
    header = {"v": 1, "id": 5, "op": "call", "instance": fresh, "method": "fit",
              "attribute": "x", "class": "MiniBatchKMeans"}  # fmt: skip
    if key in ("class", "attribute"):
        header["op"] = "init" if key == "class" else "get"
    header[key] = value
    reply = raw.send(header)
    assert reply["ok"] is False
    expected = {"v": "unsupported_version", "op": "unknown_op"}.get(key, "protocol_error")
    if key == "op" and not isinstance(value, str):
        expected = "protocol_error"
    assert reply["error"]["code"] == expected, reply
    assert raw.last_size < 2000


def test_unknown_option_key_of_50_mb(raw):
    key = "k" * 50_000_000
    header = {"v": 1, "id": 4, "op": "init", "class": "MiniBatchKMeans", "instance": "big-key",
              "options": {key: 1}}  # fmt: skip
    reply = raw.send(header)
    assert reply["error"]["code"] == "invalid_params"
    assert "unknown option 'kkk" in reply["error"]["message"]
    assert raw.last_size < 2000


def test_100000_unknown_option_keys(raw):
    options = {f"opt{i}": i for i in range(100_000)}
    header = {"v": 1, "id": 4, "op": "init", "class": "MiniBatchKMeans", "instance": "many",
              "options": options}  # fmt: skip
    reply = raw.send(header)
    error = reply["error"]
    assert error["code"] == "invalid_params"
    assert "100000 unknown options" in error["message"]
    assert len(error["details"]) == 20
    assert error["details"][0] == {"field": "opt0", "value": 0, "message": "unknown option"}
    assert raw.last_size < 10_000


def test_huge_invalid_option_value_is_clipped(raw):
    header = {"v": 1, "id": 4, "op": "init", "class": "MiniBatchKMeans", "instance": "clip",
              "options": {"n_clusters": "9" * 10_000_000, "init": deep(30)}}  # fmt: skip
    reply = raw.send(header)
    assert reply["error"]["code"] == "invalid_params"
    fields = {d["field"]: d["value"] for d in reply["error"]["details"]}
    assert fields["n_clusters"].startswith("999") and len(fields["n_clusters"]) <= 200
    assert raw.last_size < 5000


# -- a short fuzz ----------------------------------------------------------------------------


def test_short_fuzz(ipc_server):
    fuzz = _load_fuzz()
    stats = fuzz.run(
        ipc_server,
        fuzz.Generator(seed=20240601, prefix="hostile"),
        messages=3000,
        ping_every=500,
        timeout=scaled(20),
        max_seconds=scaled(600),
    )
    summary = stats.table()
    assert stats.sent == 3000, summary
    assert (stats.crashes, stats.hangs, stats.internal, stats.failed_pings) == (0, 0, 0, 0), summary
    assert len(stats.pings) == 6
    # The fuzz reaches past the envelope: typed errors of several layers, and successes.
    assert {"protocol_error", "invalid_params", "ok", "estimator_error"} <= set(stats.codes)
    with Client(ipc_server.endpoint, timeout=scaled(30)) as client:
        assert client.ping()["pong"] is True


# -- the quoting helper on its own ---------------------------------------------------------


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    "value",
    [deep(5000), "x" * 10_000_000, b"\x00" * 10_000_000, {f"k{i}": i for i in range(100_000)},
     list(range(100_000)), -(2**63), _BadRepr(), np.zeros((1000, 1000))],
    ids=["deep", "str", "bytes", "map", "list", "int", "bad-repr", "array"],
)  # fmt: skip
def test_quote_is_bounded(value):
    from bridge.quoting import MAX_QUOTE, quote, wire_safe

    assert 0 < len(quote(value)) <= MAX_QUOTE
    assert len(msgpack.packb(wire_safe(value), use_bin_type=True)) <= 4 * MAX_QUOTE


def test_quote_keeps_small_values_readable():
    from bridge.quoting import quote, wire_safe

    assert quote("n_cluster") == "'n_cluster'"
    assert quote([1, 2.5, None]) == "[1, 2.5, None]"
    assert wire_safe([1, "a"]) == [1, "a"] and wire_safe(-1) == -1
    assert len(quote(10**5000)) <= 200  # past Python's int-to-str digit limit
