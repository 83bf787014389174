"""Every error code of PROTOCOL.md section 4, and the server surviving each of them."""

from __future__ import annotations

from collections.abc import Iterator

import msgpack
import numpy as np
import pytest
import zmq

from bridge import errors
from bridge.classes import Offered
from bridge.client import Client
from bridge.launcher import spawn_server
from estimators import MiniBatchKMeans
from schemas import MINIBATCH_KMEANS

from .conftest import in_process_server, scaled

X = np.random.default_rng(0).normal(size=(40, 3))


@pytest.fixture(autouse=True)
def server_survives(ipc_server) -> Iterator[None]:
    yield
    with Client(ipc_server.endpoint, timeout=scaled(30)) as client:
        assert client.ping()["pong"] is True


class Raw:
    """A bare DEALER socket, for messages the reference client would never send."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, header, *buffers) -> dict:
        head = header if isinstance(header, bytes) else msgpack.packb(header)
        self.sock.send_multipart([head, *buffers])
        return self.recv()

    def recv(self) -> dict:
        assert self.sock.poll(int(scaled(30) * 1000)), "no reply"
        frames = self.sock.recv_multipart()
        return msgpack.unpackb(frames[0])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(ipc_server) -> Iterator[Raw]:
    raw = Raw(ipc_server.endpoint)
    yield raw
    raw.close()


def ref(frame=0, dtype="float64", shape=(2, 2), **extra):
    return {"$type": "ndarray", "frame": frame, "dtype": dtype, "shape": list(shape), **extra}


def fit_header(instance: str, X_ref) -> dict:
    return {
        "v": 1,
        "id": 9,
        "op": "call",
        "instance": instance,
        "method": "fit",
        "params": {"X": X_ref},
    }


@pytest.fixture
def fresh(ipc_client) -> str:
    return ipc_client.init("MiniBatchKMeans", n_clusters=2, random_state=0)


BUF = np.arange(4, dtype=np.float64).tobytes()


# -- protocol_error ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [b"\xc1", b"", msgpack.packb([1, 2]), msgpack.packb({"v": 1, "op": "ping"})],
    ids=["not-msgpack", "empty", "not-a-map", "no-id"],
)
def test_unparsable_request_has_null_id(raw, header):
    reply = raw.send(header)
    assert reply["ok"] is False and reply["id"] is None
    assert reply["error"]["code"] == "protocol_error"


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ({"v": 1, "id": 1, "op": 5}, "'op'"),
        ({"v": 1, "id": True, "op": "ping"}, "'id'"),
        ({"v": 1, "id": 2**53, "op": "ping"}, "'id'"),
        ({"v": 1, "id": 1, "op": "get", "attribute": "n_iter_"}, "'instance'"),
        ({"v": 1, "id": 1, "op": "get", "instance": "a b", "attribute": "x"}, "'a b'"),
        ({"v": 1, "id": 1, "op": "get", "instance": "x" * 129, "attribute": "x"}, "1-128"),
        ({"v": 1, "id": 1, "op": "init", "class": "MiniBatchKMeans"}, "'instance'"),
        (
            {
                "v": 1,
                "id": 1,
                "op": "init",
                "class": "MiniBatchKMeans",
                "instance": "a",
                "options": [1],
            },
            "'options'",
        ),
    ],
)
def test_bad_envelope(raw, header, needle):
    reply = raw.send(header)
    assert reply["error"]["code"] == "protocol_error"
    assert needle in reply["error"]["message"]
    if (
        isinstance(header["id"], int)
        and not isinstance(header["id"], bool)
        and header["id"] < 2**53
    ):
        assert reply["id"] == header["id"]


@pytest.mark.parametrize(
    ("x_ref", "buffers", "needle"),
    [
        ({"$type": "tensor"}, [BUF], "'tensor'"),
        (ref(dtype="float16"), [BUF], "float16"),
        (ref(dtype="complex128"), [BUF], "complex128"),
        (ref(frame=1), [BUF], "out of range"),
        (ref(frame=-1), [BUF], "out of range"),
        (ref(shape=(3, 2)), [BUF], "needs 48"),
        (ref(shape=(2, -2)), [BUF], "shape"),
        (ref(shape="2x2"), [BUF], "shape"),
        (ref(), [BUF, BUF], "not referenced"),
        (ref(columns=["a"]), [BUF], "columns"),
        (ref(columns=[1, 2]), [BUF], "columns"),
        (ref(order="F"), [BUF], "unexpected keys"),
        (
            {"$type": "table", "columns": ["a", "b"], "data": ref()},
            [BUF],
            "only used in results",
        ),
        (
            {
                "$type": "csr",
                "shape": [2, 2],
                "data": ref(shape=[2]),
                "indices": ref(frame=1, dtype="int32", shape=[2]),
                "indptr": ref(frame=2, dtype="int32", shape=[3]),
            },
            [
                np.ones(2).tobytes(),
                np.array([0, 7], np.int32).tobytes(),  # column 7 of a 2-column matrix
                np.array([0, 1, 2], np.int32).tobytes(),
            ],
            "invalid csr",
        ),
        (
            {
                "$type": "csr",
                "shape": [2, 2],
                "data": ref(shape=[2]),
                "indices": ref(frame=1, dtype="float64", shape=[2]),
                "indptr": ref(frame=2, dtype="int32", shape=[3]),
            },
            [np.ones(2).tobytes(), np.ones(2).tobytes(), np.array([0, 1, 2], np.int32).tobytes()],
            "indices",
        ),
        (
            {
                "$type": "csr",
                "shape": [2, 2],
                "data": ref(shape=[2]),
                "indices": ref(frame=0, dtype="int64", shape=[2]),
                "indptr": ref(frame=1, dtype="int32", shape=[3]),
            },
            [np.ones(2).tobytes(), np.array([0, 1, 2], np.int32).tobytes()],
            "twice",
        ),
    ],
    ids=[
        "unknown-type",
        "float16",
        "complex",
        "frame-range",
        "frame-negative",
        "length",
        "negative-dim",
        "shape-type",
        "unused-frame",
        "columns-length",
        "columns-type",
        "extra-key",
        "table-in-request",
        "csr-index-range",
        "csr-index-dtype",
        "frame-twice",
    ],
)
def test_bad_array_reference(raw, fresh, x_ref, buffers, needle):
    reply = raw.send(fit_header(fresh, x_ref), *buffers)
    assert reply["id"] == 9
    assert reply["error"]["code"] == "protocol_error", reply
    assert needle in reply["error"]["message"]


def test_buffers_on_an_op_without_arrays(raw):
    reply = raw.send({"v": 1, "id": 3, "op": "ping"}, b"xx")
    assert reply["error"]["code"] == "protocol_error"


# -- envelope-level codes --------------------------------------------------------------------


def test_unsupported_version(raw):
    reply = raw.send({"v": 2, "id": 4, "op": "ping"})
    assert reply["id"] == 4
    assert reply["error"]["code"] == "unsupported_version"
    assert "2" in reply["error"]["message"]


def test_unknown_op(raw):
    reply = raw.send({"v": 1, "id": 5, "op": "explode"})
    assert reply["error"]["code"] == "unknown_op"
    assert "'explode'" in reply["error"]["message"]


# -- registry codes ------------------------------------------------------------------------


def test_unknown_class(ipc_client):
    with pytest.raises(errors.UnknownClass, match="'KMeans'"):
        ipc_client.init("KMeans")


def test_duplicate_instance(ipc_client):
    ipc_client.init("MiniBatchKMeans", instance="dup-1")
    with pytest.raises(errors.DuplicateInstance, match="'dup-1'") as info:
        ipc_client.init("MiniBatchKMeans", instance="dup-1")
    assert info.value.code == "duplicate_instance"
    ipc_client.dispose("dup-1")
    ipc_client.init("MiniBatchKMeans", instance="dup-1")  # ids may be reused after dispose
    ipc_client.dispose("dup-1")


def test_unknown_instance(ipc_client):
    with pytest.raises(errors.UnknownInstance, match="'nobody'") as info:
        ipc_client.call("nobody", "fit", X=X)
    assert info.value.code == "unknown_instance"
    with pytest.raises(errors.UnknownInstance, match="'nobody'"):
        ipc_client.get("nobody", "n_iter_")
    with pytest.raises(errors.UnknownInstance, match="'nobody'"):
        ipc_client.dispose("nobody")


def test_use_after_dispose(ipc_client, fresh):
    ipc_client.dispose(fresh)
    with pytest.raises(errors.UnknownInstance, match="disposed"):
        ipc_client.call(fresh, "fit", X=X)
    with pytest.raises(errors.UnknownInstance, match="disposed"):
        ipc_client.get(fresh, "cluster_centers_")
    with pytest.raises(errors.UnknownInstance):
        ipc_client.dispose(fresh)


@pytest.mark.parametrize("method", ["fitt", "__init__", "__class__", "_step", "get_params"])
def test_unknown_method(ipc_client, fresh, method):
    with pytest.raises(errors.UnknownMethod, match=repr(method)) as info:
        ipc_client.call(fresh, method)
    assert info.value.code == "unknown_method"


@pytest.mark.parametrize("attribute", ["centers_", "__dict__", "_counts", "n_clusters"])
def test_unknown_attribute(ipc_client, fresh, attribute):
    with pytest.raises(errors.UnknownAttribute, match=repr(attribute)):
        ipc_client.get(fresh, attribute)


# -- invalid_params ------------------------------------------------------------------------


def test_unknown_option_is_named(ipc_client):
    with pytest.raises(errors.InvalidParams, match="unknown option 'n_cluster'") as info:
        ipc_client.init("MiniBatchKMeans", n_cluster=3)
    [detail] = info.value.details
    assert detail["field"] == "n_cluster" and detail["value"] == 3
    assert "n_clusters" in detail["message"]  # the suggestion


@pytest.mark.parametrize(
    ("options", "field", "value"),
    [
        ({"n_clusters": -1}, "n_clusters", -1),
        ({"n_clusters": "3"}, "n_clusters", "3"),
        ({"n_clusters": True}, "n_clusters", True),
        ({"random_state": 2**32}, "random_state", 2**32),
        ({"n_init": 0}, "n_init", 0),
        ({"tol": -1.0}, "tol", -1.0),
        ({"init": "kmeans"}, "init", "kmeans"),
    ],
)
def test_invalid_option_values(ipc_client, options, field, value):
    with pytest.raises(errors.InvalidParams) as info:
        ipc_client.init("MiniBatchKMeans", **options)
    assert f"'{field}'" in info.value.message
    assert repr(value) in info.value.message
    assert info.value.details[0]["field"] == field
    assert info.value.details[0]["value"] == value
    assert info.value.details[0]["message"]


def test_invalid_init_is_not_registered(ipc_client):
    with pytest.raises(errors.InvalidParams):
        ipc_client.init("MiniBatchKMeans", instance="never", n_clusters=0)
    with pytest.raises(errors.UnknownInstance):
        ipc_client.get("never", "n_iter_")


def test_invalid_call_params(ipc_client, fresh):
    with pytest.raises(errors.InvalidParams, match="missing required parameter 'X'"):
        ipc_client.call(fresh, "fit")
    with pytest.raises(errors.InvalidParams, match="unknown parameter 'Y'"):
        ipc_client.call(fresh, "fit", X=X, Y=None)
    with pytest.raises(errors.InvalidParams, match="'X'") as info:
        ipc_client.call(fresh, "fit", X=[[1.0, 2.0]])
    assert info.value.details[0]["value"] == [[1.0, 2.0]] or "list" in str(
        info.value.details[0]["value"]
    )
    with pytest.raises(errors.InvalidParams, match="'sample_weight'"):
        ipc_client.call(fresh, "fit", X=X, sample_weight=np.ones((40, 1)))
    with pytest.raises(errors.InvalidParams, match="'transform'"):
        ipc_client.call(fresh, "set_output", transform="arrow")
    with pytest.raises(errors.InvalidParams, match="'y'"):
        ipc_client.call(fresh, "fit", X=X, y=1)


# -- estimator-side codes ------------------------------------------------------------------


def test_not_fitted(ipc_client, fresh):
    with pytest.raises(errors.NotFitted, match="not fitted") as info:
        ipc_client.call(fresh, "predict", X=X)
    assert info.value.code == "not_fitted"
    with pytest.raises(errors.NotFitted, match="'cluster_centers_'"):
        ipc_client.get(fresh, "cluster_centers_")


def test_feature_names_in_absent_without_columns(ipc_client, fresh):
    ipc_client.call(fresh, "fit", X=X)
    with pytest.raises(errors.NotFitted, match="feature_names_in_"):
        ipc_client.get(fresh, "feature_names_in_")


def test_estimator_error(ipc_client):
    km = ipc_client.init("MiniBatchKMeans", n_clusters=3)
    with pytest.raises(errors.EstimatorError, match="n_samples=2 should be >= n_clusters=3"):
        ipc_client.call(km, "fit", X=X[:2])
    ipc_client.call(km, "fit", X=X)
    with pytest.raises(errors.EstimatorError, match="features") as info:
        ipc_client.call(km, "predict", X=np.ones((3, 5)))
    assert info.value.code == "estimator_error"
    assert info.value.traceback is None  # only sent in --debug mode


def test_missing_dependency_polars(ipc_client, fresh):
    pytest.importorskip("pandas")
    try:
        import polars  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("polars is installed")
    with pytest.raises(errors.MissingDependency, match="polars") as info:
        ipc_client.call(fresh, "set_output", transform="polars")
    assert info.value.code == "missing_dependency"
    # The failed set_output left the estimator usable and unchanged.
    out = ipc_client.call(fresh, "fit_transform", X=X)
    assert isinstance(out, np.ndarray)


# -- internal and debug --------------------------------------------------------------------


class _Buggy(MiniBatchKMeans):
    def predict(self, X):
        raise RuntimeError("kaboom")


def test_internal_error_keeps_serving():
    """A non-estimator failure replies 'internal' and the same server keeps answering."""
    classes = {"MiniBatchKMeans": Offered(_Buggy, MINIBATCH_KMEANS)}
    with in_process_server(classes=classes) as (_, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=2)
            client.call(km, "fit", X=X)
            with pytest.raises(errors.InternalError, match="kaboom") as info:
                client.call(km, "predict", X=X)
            assert info.value.code == "internal"
            assert client.get(km, "n_features_in_") == 3
            assert client.ping()["pong"]


def test_debug_mode_sends_tracebacks():
    with spawn_server(debug=True, workers=1, timeout=scaled(60)) as server:
        with Client(server.endpoint, timeout=scaled(30)) as client:
            km = client.init("MiniBatchKMeans", n_clusters=3)
            with pytest.raises(errors.EstimatorError) as info:
                client.call(km, "fit", X=X[:2])
            assert "Traceback" in info.value.traceback


def test_error_classes_cover_every_code():
    for code in errors.ERROR_CODES:
        assert errors.error_class(code).code == code
    unknown = errors.error_class("from_the_future")
    assert unknown is errors.BridgeError


def test_client_warns_on_an_unattributable_reply_and_keeps_going():
    """A reply with id: null (the server could not read one of our requests) belongs to
    no pending request: the client warns, and the real reply still arrives."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=scaled(30)) as client:
            rid = client.submit("ping")
            assert router.poll(int(scaled(30) * 1000)), "no request"
            identity, raw = router.recv_multipart()
            assert msgpack.unpackb(raw)["id"] == rid
            bad = {
                "v": 1,
                "id": None,
                "ok": False,
                "error": {"code": "protocol_error", "message": "x"},
            }
            good = {"v": 1, "id": rid, "ok": True, "result": {"pong": True}}
            router.send_multipart([identity, msgpack.packb(bad)])
            router.send_multipart([identity, msgpack.packb(good)])
            with pytest.warns(RuntimeWarning, match="could not read a request"):
                assert client.result(rid) == {"pong": True}
    finally:
        router.close()
