"""The bridge's core cases against a Ray-backed server on a local two-node cluster, each
compared bit for bit with the same requests to an in-process server."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bridge.errors import Cancelled, EstimatorError, InvalidParams, NotFitted, UnknownMethod
from schemas import MINIBATCH_KMEANS
from tests.bridge.test_methods import OPTIONS, assert_same, make_data

pytestmark = pytest.mark.ray


def both(ray_client, local_client, action):
    """``action(client)`` on both servers, results returned side by side."""
    return action(ray_client), action(local_client)


def test_fit_predict_accessors_match_in_process(ray_client, local_client):
    for dtype, layout in [("float64", "dense"), ("float32", "csr")]:
        X = make_data(dtype, layout)
        ids = {c: c.init("MiniBatchKMeans", **OPTIONS) for c in (ray_client, local_client)}
        for client, instance in ids.items():
            assert client.call(instance, "fit", X=X) == instance
        for method in ("predict", "transform", "score", "fit_predict"):
            remote, local = both(
                ray_client, local_client, lambda c, m=method, i=ids, X=X: c.call(i[c], m, X=X)
            )
            assert_same(remote, local)
        for name in MINIBATCH_KMEANS.attributes:
            try:
                local = local_client.get(ids[local_client], name)
            except NotFitted:
                with pytest.raises(NotFitted):
                    ray_client.get(ids[ray_client], name)
                continue
            assert_same(ray_client.get(ids[ray_client], name), local)
        remote, local = both(
            ray_client, local_client, lambda c, i=ids: c.call(i[c], "get_feature_names_out")
        )
        assert_same(remote, local)


def test_concurrent_models_on_both_nodes(ray_client, local_client):
    data = [make_data("float64", "dense", n=400, seed=seed) for seed in range(4)]
    ids = [ray_client.init("MiniBatchKMeans", **OPTIONS, max_iter=20) for _ in data]
    # Submitted together: each instance's fit runs on the node holding it, all at once.
    rids = [ray_client.submit_call(i, "fit", X=X) for i, X in zip(ids, data, strict=True)]
    assert [ray_client.result(rid) for rid in rids] == [{"instance": i} for i in ids]
    for instance, X in zip(ids, data, strict=True):
        local = local_client.init("MiniBatchKMeans", **OPTIONS, max_iter=20)
        local_client.call(local, "fit", X=X)
        assert_same(
            ray_client.get(instance, "cluster_centers_"),
            local_client.get(local, "cluster_centers_"),
        )
    listing = {item["instance"]: item for item in ray_client.instances()}
    assert {listing[i]["node_ip"] for i in ids} == {"127.0.0.1"}
    assert len({listing[i]["node"] for i in ids}) == 2, "instances should use both nodes"
    assert all(listing[i]["fitted"] and listing[i]["nbytes"] > 0 for i in ids)


def test_errors_match_in_process(ray_client, local_client):
    X = make_data("float64", "dense")
    ids = {c: c.init("MiniBatchKMeans", **OPTIONS) for c in (ray_client, local_client)}
    cases = [
        (NotFitted, lambda c: c.call(ids[c], "predict", X=X)),
        (UnknownMethod, lambda c: c.call(ids[c], "no_such_method")),
        (InvalidParams, lambda c: c.call(ids[c], "fit", X=X, sample_weight="heavy")),
        (EstimatorError, lambda c: c.call(ids[c], "fit", X=X[:2])),
    ]
    for error, action in cases:
        messages = []
        for client in (ray_client, local_client):
            with pytest.raises(error) as caught:
                action(client)
            messages.append(caught.value.message)
        assert messages[0] == messages[1]
    # A failed fit leaves both instances answering the same way afterwards.
    for client in (ray_client, local_client):
        client.call(ids[client], "fit", X=X)
    assert_same(*both(ray_client, local_client, lambda c: c.call(ids[c], "predict", X=X)))


def test_progress_and_cancel(ray_client, local_client):
    X = make_data("float64", "dense", n=2000)
    options = {**OPTIONS, "batch_size": 16, "max_iter": 5, "n_init": 1}
    ids = {c: c.init("MiniBatchKMeans", **options) for c in (ray_client, local_client)}
    events = {c: [] for c in ids}
    for client, instance in ids.items():
        client.call(instance, "fit", X=X, progress=events[client].append)
    ray_steps = [{k: v for k, v in e.items() if k != "elapsed"} for e in events[ray_client]]
    local_steps = [{k: v for k, v in e.items() if k != "elapsed"} for e in events[local_client]]
    assert ray_steps[0] == local_steps[0] and ray_steps[-1] == local_steps[-1]
    # A long fit, cancelled once it reported progress: it stops and leaves the
    # instance as it was.
    long = {**options, "max_iter": 10_000, "tol": 0.0, "max_no_improvement": None}
    instance = ray_client.init("MiniBatchKMeans", **long)
    ray_client.call(instance, "partial_fit", X=X)
    before = ray_client.get(instance, "cluster_centers_")
    started = threading.Event()
    rid = ray_client.submit_call(instance, "fit", X=X, progress=lambda e: started.set())
    for _ in range(2000):  # the client reads progress while it waits for a reply
        if started.is_set():
            break
        ray_client.ping()
        started.wait(0.05)
    assert started.is_set()
    assert ray_client.cancel(rid)["state"] == "stopping"
    with pytest.raises(Cancelled):
        ray_client.result(rid)
    assert np.array_equal(ray_client.get(instance, "cluster_centers_"), before)


def test_datasets_shared_by_instances(ray_client, local_client):
    X = make_data("float64", "dense", n=500)
    handle = ray_client.dataset(X)
    ids = [ray_client.init("MiniBatchKMeans", **OPTIONS) for _ in range(2)]
    local = local_client.init("MiniBatchKMeans", **OPTIONS)
    local_client.call(local, "fit", X=X)
    expected = local_client.call(local, "predict", X=X)
    for instance in ids:
        ray_client.call(instance, "fit", X=handle)
        assert_same(ray_client.call(instance, "predict", X=handle), expected)
    (listed,) = [d for d in ray_client.datasets() if d["dataset"] == handle.id]
    assert listed["shape"] == [500, 5] and listed["dtype"] == "float64"
    ray_client.dispose(handle)
    with pytest.raises(Exception, match="unknown dataset"):
        ray_client.call(ids[0], "predict", X=handle)


def test_save_and_load_across_backends(ray_client, local_client):
    X = make_data("float64", "dense")
    fitted = ray_client.init("MiniBatchKMeans", **OPTIONS)
    ray_client.call(fitted, "fit", X=X)
    into_local = local_client.load(ray_client.save(fitted))
    back_to_ray = ray_client.load(local_client.save(into_local))
    expected = ray_client.call(fitted, "predict", X=X)
    assert_same(local_client.call(into_local, "predict", X=X), expected)
    assert_same(ray_client.call(back_to_ray, "predict", X=X), expected)
    ray_client.dispose(back_to_ray)
    assert back_to_ray not in {i["instance"] for i in ray_client.instances()}
