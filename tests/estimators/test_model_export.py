"""Exports of a fitted MiniBatchKMeans: to scikit-learn's class, and to ONNX.

The ONNX tests need the optional extra ``skbridge[onnx]`` (also in the ``test`` extra);
they install nothing and forbid network access while converting and running the graph.
"""

import socket
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import MiniBatchKMeans as Reference

from estimators import MiniBatchKMeans

from .conftest import as_input

DTYPES = [np.float64, np.float32]


def fitted(X, **opts):
    options = {"n_clusters": 6, "batch_size": 100, "random_state": 0, **opts}
    model = MiniBatchKMeans(**options).fit(X)
    model.partial_fit(X[:300])
    return model


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", ["dense", "csr"])
def test_to_sklearn_predicts_transforms_and_scores_the_same(blobs, dtype, container):
    X = as_input(blobs, dtype, container)
    model = fitted(X)
    reference = model.to_sklearn()
    assert type(reference) is Reference
    assert reference.get_params() == model.get_params()
    np.testing.assert_array_equal(reference.cluster_centers_, model.cluster_centers_)
    assert reference.cluster_centers_ is not model.cluster_centers_
    np.testing.assert_array_equal(reference.predict(X), model.predict(X))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(reference.transform(X), model.transform(X), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(reference.score(X), model.score(X), rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_to_sklearn_continues_partial_fit_like_ours(blobs, dtype):
    X = blobs.astype(dtype)
    model = fitted(X, reassignment_ratio=0.3, n_clusters=12)
    reference = model.to_sklearn()
    for start in range(0, 900, 90):
        model.partial_fit(X[start : start + 90])
        reference.partial_fit(X[start : start + 90])
    assert reference.n_steps_ == model.n_steps_
    scale = np.abs(model.cluster_centers_).max()
    atol = (1e-12 if dtype == np.float64 else 1e-5) * scale
    np.testing.assert_allclose(reference.cluster_centers_, model.cluster_centers_, atol=atol)
    np.testing.assert_array_equal(reference.labels_, model.labels_)


def test_to_sklearn_copies_a_shared_generator_once(blobs):
    model = fitted(blobs, random_state=np.random.RandomState(4))
    reference = model.to_sklearn()
    assert reference._random_state is reference.random_state
    assert reference.random_state is not model.random_state
    np.testing.assert_array_equal(reference._counts, model._center_weight)


def test_to_sklearn_keeps_feature_names(blobs):
    frame = pd.DataFrame(blobs, columns=list("abcde"))
    reference = fitted(frame).to_sklearn()
    assert reference.feature_names_in_.tolist() == list("abcde")
    with pytest.raises(ValueError, match="feature names"):
        reference.predict(frame.rename(columns={"a": "z"}))


def test_to_sklearn_of_an_unfitted_model():
    reference = MiniBatchKMeans(n_clusters=3, random_state=1).to_sklearn()
    assert not hasattr(reference, "cluster_centers_")
    assert reference.get_params()["n_clusters"] == 3


# ------------------------------------------------------------------------------- ONNX


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during ONNX export or inference")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_onnx_runtime_agrees_with_the_model(blobs, dtype, no_network):
    import onnxruntime

    X = blobs.astype(dtype)
    model = fitted(X)
    graph = model.to_onnx()
    session = onnxruntime.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    assert [o.name for o in session.get_outputs()] == ["label", "scores"]
    labels, distances = session.run(None, {"X": X})
    np.testing.assert_array_equal(labels, model.predict(X))
    assert distances.dtype == dtype
    # ONNX computes the distances with its own operators; float32 rounding differs a little.
    scale = np.abs(model.transform(X)).max()
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(distances, model.transform(X), rtol=tol, atol=tol * scale)


def test_onnx_of_an_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MiniBatchKMeans().to_onnx()


def test_onnx_without_the_extra_names_it(blobs, monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # makes the import fail
    model = fitted(blobs)
    with pytest.raises(ImportError, match=r"skbridge\[onnx\]"):
        model.to_onnx()
