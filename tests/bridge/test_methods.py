"""Every documented method and attribute over the bridge equals the same call in process.

Results are compared bit for bit (np.array_equal / ==), across float32/float64, dense/CSR
input and the ipc/tcp transports.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy import sparse

from bridge.errors import InvalidParams, NotFitted
from estimators import MiniBatchKMeans
from schemas import MINIBATCH_KMEANS

OPTIONS = {"n_clusters": 3, "random_state": 0, "batch_size": 64, "n_init": 2}


def make_data(dtype: str, layout: str, n: int = 300, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=5.0, size=(3, d))
    X = (centers[rng.integers(0, 3, size=n)] + rng.normal(size=(n, d))).astype(dtype)
    if layout == "csr":
        X[rng.random(X.shape) < 0.5] = 0
        return sparse.csr_matrix(X)
    return X


def assert_same(remote, local):
    if isinstance(local, np.ndarray):
        assert isinstance(remote, np.ndarray)
        assert remote.dtype == local.dtype
        assert remote.shape == local.shape
        assert np.array_equal(remote, local)
    else:
        assert type(remote) is type(local) or isinstance(local, (np.floating, np.integer))
        assert remote == local


def assert_attributes_equal(client, instance, est):
    for name in MINIBATCH_KMEANS.attributes:
        if not hasattr(est, name):  # e.g. n_iter_ after partial_fit only
            with pytest.raises(NotFitted):
                client.get(instance, name)
            continue
        remote = client.get(instance, name)
        local = getattr(est, name)
        if name == "feature_names_in_":
            assert remote == list(local)
        else:
            assert_same(remote, local)


@pytest.fixture(params=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture(params=["dense", "csr"])
def layout(request):
    return request.param


def test_fit_and_every_query_method(client, dtype, layout):
    X = make_data(dtype, layout)
    X_new = make_data(dtype, layout, n=50, seed=1)
    weights = np.random.default_rng(2).random(X.shape[0]).astype(dtype)
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS)

    assert client.call(km, "fit", X=X, sample_weight=weights) == km
    est.fit(X, sample_weight=weights)
    assert_attributes_equal(client, km, est)
    assert client.get(km, "cluster_centers_").dtype == np.dtype(dtype)

    assert_same(client.call(km, "predict", X=X_new), est.predict(X_new))
    assert_same(client.call(km, "transform", X=X_new), est.transform(X_new))
    assert client.call(km, "score", X=X_new) == est.score(X_new)
    w_new = np.linspace(0.5, 1.5, X_new.shape[0]).astype(dtype)
    assert client.call(km, "score", X=X_new, sample_weight=w_new) == est.score(
        X_new, sample_weight=w_new
    )
    assert client.call(km, "get_feature_names_out") == list(est.get_feature_names_out())
    client.dispose(km)


@pytest.mark.parametrize("method", ["fit_predict", "fit_transform"])
def test_fit_then_output(client, dtype, layout, method):
    X = make_data(dtype, layout)
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS)
    assert_same(client.call(km, method, X=X), getattr(est, method)(X))
    assert_attributes_equal(client, km, est)
    client.dispose(km)


def test_partial_fit_sequence(client, dtype, layout):
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS)
    for seed in range(4):
        batch = make_data(dtype, layout, n=80, seed=seed)
        assert client.call(km, "partial_fit", X=batch) == km
        est.partial_fit(batch)
        assert_attributes_equal(client, km, est)
    client.dispose(km)


def test_fit_predict_labels_are_not_aliased(ipc_client):
    """fit_predict returns labels_; a later partial_fit must not change the sent copy."""
    X = make_data("float64", "dense")
    km = ipc_client.init("MiniBatchKMeans", **OPTIONS)
    labels = ipc_client.call(km, "fit_predict", X=X)
    ipc_client.call(km, "partial_fit", X=X[:100])
    est = MiniBatchKMeans(**OPTIONS)
    assert np.array_equal(labels, est.fit_predict(X))


def test_every_option_round_trips(client):
    X = make_data("float64", "dense")
    init = X[:3].copy()
    options = {
        "n_clusters": 3,
        "init": init,
        "max_iter": 7,
        "batch_size": 50,
        "verbose": False,
        "compute_labels": False,
        "random_state": 2**32 - 1,
        "tol": 1e-4,
        "max_no_improvement": None,
        "init_size": 30,
        "n_init": 1,
        "reassignment_ratio": 0.05,
    }
    assert list(options) == list(MINIBATCH_KMEANS.options.model_fields)
    km = client.init("MiniBatchKMeans", **options)
    est = MiniBatchKMeans(**options)
    client.call(km, "fit", X=X)
    est.fit(X)
    assert_same(client.get(km, "cluster_centers_"), est.cluster_centers_)
    assert client.get(km, "inertia_") == est.inertia_
    assert client.get(km, "n_steps_") == est.n_steps_
    client.dispose(km)


@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_string_init_and_integer_tol(ipc_client, init):
    X = make_data("float32", "dense")
    km = ipc_client.init("MiniBatchKMeans", n_clusters=3, init=init, tol=0, random_state=5)
    est = MiniBatchKMeans(n_clusters=3, init=init, tol=0, random_state=5)
    ipc_client.call(km, "fit", X=X)
    est.fit(X)
    assert_attributes_equal(ipc_client, km, est)


def test_feature_names_from_columns(client):
    X = make_data("float64", "dense")
    columns = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS).fit(frame)
    client.call(km, "fit", X=frame)
    assert client.get(km, "feature_names_in_") == columns
    assert_attributes_equal(client, km, est)
    assert client.call(km, "get_feature_names_out", input_features=columns) == list(
        est.get_feature_names_out(columns)
    )
    assert_same(client.call(km, "predict", X=frame), est.predict(frame))
    client.dispose(km)


def test_metadata_routing_methods(client):
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS)
    assert client.call(km, "get_metadata_routing") == est.get_metadata_routing()._serialize()
    with sklearn.config_context(enable_metadata_routing=True):
        est.set_fit_request(sample_weight=True)
        est.set_partial_fit_request(sample_weight="weights")
        est.set_score_request(sample_weight=False)
        est.set_score_request()  # unchanged
    assert client.call(km, "set_fit_request", sample_weight=True) == km
    assert client.call(km, "set_partial_fit_request", sample_weight="weights") == km
    assert client.call(km, "set_score_request", sample_weight=False) == km
    assert client.call(km, "set_score_request") == km
    assert client.call(km, "get_metadata_routing") == est.get_metadata_routing()._serialize()
    # scikit-learn-ts's `routing` option is accepted as null and nothing else.
    assert client.call(km, "get_metadata_routing", routing=None) == client.call(
        km, "get_metadata_routing"
    )
    with pytest.raises(InvalidParams, match="routing"):
        client.call(km, "get_metadata_routing", routing={"fit": True})
    client.dispose(km)


def test_set_output_default_and_none(client):
    X = make_data("float64", "dense")
    km = client.init("MiniBatchKMeans", **OPTIONS)
    assert client.call(km, "set_output", transform="default") == km
    assert client.call(km, "set_output") == km
    out = client.call(km, "fit_transform", X=X)
    assert isinstance(out, np.ndarray)
    assert np.array_equal(out, MiniBatchKMeans(**OPTIONS).fit_transform(X))


def test_set_output_pandas_returns_a_table(client):
    X = make_data("float32", "dense")
    km = client.init("MiniBatchKMeans", **OPTIONS)
    est = MiniBatchKMeans(**OPTIONS).set_output(transform="pandas")
    assert client.call(km, "set_output", transform="pandas") == km
    remote = client.call(km, "fit_transform", X=X)
    local = est.fit_transform(X)
    assert isinstance(remote, pd.DataFrame)
    assert list(remote.columns) == list(local.columns)
    assert np.array_equal(remote.to_numpy(), local.to_numpy())
    assert remote.to_numpy().dtype == np.float32
    remote = client.call(km, "transform", X=X[:10])
    assert np.array_equal(remote.to_numpy(), est.transform(X[:10]).to_numpy())
    client.dispose(km)


def test_instances_and_info(ipc_client):
    info = ipc_client.info()
    assert info["protocol"] == 1
    assert info["classes"] == ["MiniBatchKMeans"]
    assert info["scikit_learn"] == sklearn.__version__
    km = ipc_client.init("MiniBatchKMeans", n_clusters=2)
    listed = {entry["instance"]: entry for entry in ipc_client.instances()}
    entry = listed[km]
    assert entry.pop("lease_expires") > time.time()
    assert entry == {
        "instance": km,
        "class": "MiniBatchKMeans",
        "fitted": False,
        "nbytes": 0,
        "owner": ipc_client.session,
    }
    ipc_client.call(km, "fit", X=make_data("float64", "dense"))
    entry = {e["instance"]: e for e in ipc_client.instances()}[km]
    assert entry["fitted"] is True and entry["nbytes"] > 0
    ipc_client.dispose(km)
    assert km not in {entry["instance"] for entry in ipc_client.instances()}


def test_returned_arrays_view_the_received_frame(ipc_client):
    X = make_data("float64", "dense", n=5000)
    km = ipc_client.init("MiniBatchKMeans", **OPTIONS)
    out = ipc_client.call(km, "fit_transform", X=X)
    assert not out.flags.owndata  # a view over the ZeroMQ frame, not a copy
    assert out.flags.c_contiguous and out.flags.aligned


def test_empty_and_integer_inputs(ipc_client):
    X = make_data("float64", "dense")
    km = ipc_client.init("MiniBatchKMeans", **OPTIONS)
    ipc_client.call(km, "fit", X=X)
    est = MiniBatchKMeans(**OPTIONS).fit(X)
    X_int = np.arange(20, dtype=np.int64).reshape(4, 5)
    assert_same(ipc_client.call(km, "predict", X=X_int), est.predict(X_int))
