"""Saving and loading MiniBatchKMeans restores everything later calls depend on, bit for bit.

Each test saves a model, loads it, then runs the same calls on both copies and compares
every attribute (types, dtypes and bytes) and every result.
"""

import io

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from estimators import MiniBatchKMeans, ModelFormatError, dump_model, load_model

from .archive_tools import manifest_of, members
from .conftest import as_input

DTYPES = [np.float64, np.float32]
CONTAINERS = ["dense", "csr"]


def same_value(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.hasobject:
            return a.tolist() == b.tolist()
        return a.tobytes() == b.tobytes()
    if isinstance(a, np.random.RandomState):
        sa, sb = a.get_state(), b.get_state()
        return sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]
    if isinstance(a, (float, np.floating)) and np.isnan(a):
        return bool(np.isnan(b))
    return a == b


def assert_same_state(original, loaded):
    """Same attribute names, and each value of the same type with the same bits."""
    assert vars(original).keys() == vars(loaded).keys()
    for name, value in vars(original).items():
        assert same_value(value, vars(loaded)[name]), name
    shared = getattr(original, "_rng", None) is original.random_state
    assert (getattr(loaded, "_rng", None) is loaded.random_state) == shared


def assert_same_results(original, loaded, X):
    for method in ("predict", "transform"):
        ours, theirs = getattr(original, method)(X), getattr(loaded, method)(X)
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes(), method
    assert original.score(X) == loaded.score(X)


def through(model, transport, tmp_path, **kwargs):
    """Save then load ``model`` by ``transport`` (a path, a BytesIO, or bytes)."""
    if transport == "path":
        model.save(tmp_path / "model.skb", **kwargs)
        return MiniBatchKMeans.load(tmp_path / "model.skb")
    if transport == "bytesio":
        buffer = io.BytesIO()
        model.save(buffer, **kwargs)
        buffer.seek(0)
        return MiniBatchKMeans.load(buffer)
    loaded, _ = load_model(dump_model(model, **kwargs))
    return loaded


def continue_both(original, loaded, X, steps=6):
    """The same partial_fit calls on both copies, comparing the full state after each."""
    rows = np.random.RandomState(1).permutation(X.shape[0])
    for step in range(steps):
        batch = X[rows[step * 90 : (step + 1) * 90]]
        original.partial_fit(batch)
        loaded.partial_fit(batch)
        assert_same_state(original, loaded)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("history", ["fit", "partial_fit", "fit+partial_fit"])
@pytest.mark.parametrize("transport", ["path", "bytesio"])
def test_round_trip_is_bit_identical_and_continues_identically(
    blobs, dtype, container, history, transport, tmp_path
):
    X = as_input(blobs, dtype, container)
    # Many small clusters and a high ratio, so the continued calls do reassign centers.
    model = MiniBatchKMeans(n_clusters=12, batch_size=60, random_state=3, reassignment_ratio=0.3)
    if "fit" in history.split("+"):
        model.fit(X)
    if "partial_fit" in history:
        for start in range(0, 600, 150):
            model.partial_fit(X[start : start + 150])
    loaded = through(model, transport, tmp_path)
    assert type(loaded) is MiniBatchKMeans
    assert_same_state(model, loaded)
    assert_same_results(model, loaded, X[:500])
    continue_both(model, loaded, X)
    assert_same_results(model, loaded, X[:500])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_reassignments_after_loading_match(blobs, dtype, capsys):
    X = blobs.astype(dtype)
    model = MiniBatchKMeans(
        n_clusters=20, batch_size=40, random_state=0, verbose=1, reassignment_ratio=0.5
    )
    model.partial_fit(X[:200])
    loaded, _ = load_model(dump_model(model))
    capsys.readouterr()
    continue_both(model, loaded, X, steps=8)
    printed = capsys.readouterr().out
    # Both copies reassigned, the same number of times: the generator state was restored.
    assert printed.count("Reassigning") >= 2 and printed.count("Reassigning") % 2 == 0


def test_a_shared_random_state_object_stays_shared(blobs):
    model = MiniBatchKMeans(n_clusters=5, batch_size=50, random_state=np.random.RandomState(9))
    model.fit(blobs).partial_fit(blobs[:100])
    assert model._rng is model.random_state
    loaded, _ = load_model(dump_model(model))
    assert loaded._rng is loaded.random_state
    assert_same_state(model, loaded)
    continue_both(model, loaded, blobs)
    # fit draws from the same (shared) generator too.
    model.fit(blobs[:900])
    loaded.fit(blobs[:900])
    assert_same_state(model, loaded)


def test_a_model_using_the_global_generator_continues_from_its_state(blobs):
    np.random.seed(11)
    model = MiniBatchKMeans(n_clusters=6, batch_size=50).partial_fit(blobs[:200])
    loaded, _ = load_model(dump_model(model))
    # The original keeps drawing from numpy's global generator, the copy from a private
    # generator holding the state the global one had when saved: the draws coincide.
    model.partial_fit(blobs[200:400])
    loaded.partial_fit(blobs[200:400])
    np.testing.assert_array_equal(model.cluster_centers_, loaded.cluster_centers_)
    assert loaded._rng is not np.random.mtrand._rand


@pytest.mark.parametrize("transport", ["path", "bytesio", "bytes"])
def test_unfitted_model_keeps_its_options(blobs, transport, tmp_path):
    init = blobs[[0, 600, 1200, 1800]].copy()
    model = MiniBatchKMeans(
        n_clusters=4,
        init=init,
        random_state=np.random.RandomState(5),
        batch_size=77,
        max_no_improvement=None,
        n_init=1,
        tol=1e-4,
    )
    loaded = through(model, transport, tmp_path)
    assert not hasattr(loaded, "cluster_centers_")
    params, loaded_params = model.get_params(), loaded.get_params()
    assert params.keys() == loaded_params.keys()
    for name in params:
        assert same_value(params[name], loaded_params[name]), name
    model.fit(blobs)
    loaded.fit(blobs)
    assert_same_state(model, loaded)


@pytest.mark.parametrize("transport", ["path", "bytesio"])
def test_feature_names_survive(blobs, transport, tmp_path):
    frame = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(blobs.shape[1])])
    model = MiniBatchKMeans(n_clusters=4, random_state=0, batch_size=100).fit(frame)
    loaded = through(model, transport, tmp_path)
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == frame.columns.tolist()
    assert_same_state(model, loaded)
    assert_same_results(model, loaded, frame)
    renamed = frame.rename(columns={"f0": "other"})
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(renamed)
    assert loaded.get_feature_names_out().tolist() == model.get_feature_names_out().tolist()


def test_output_config_survives(blobs):
    model = MiniBatchKMeans(n_clusters=3, random_state=0).set_output(transform="pandas")
    model.fit(blobs)
    loaded, _ = load_model(dump_model(model))
    out = loaded.transform(blobs[:5])
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, model.transform(blobs[:5]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_numpy_scalar_attributes_keep_their_type(blobs, dtype):
    # Without labels the inertia is a numpy scalar; a positive tol makes _tol one too.
    X = blobs.astype(dtype)
    model = MiniBatchKMeans(n_clusters=4, compute_labels=False, tol=1e-3, random_state=2)
    model.fit(X)
    assert isinstance(model.inertia_, np.generic) and isinstance(model._tol, np.generic)
    loaded, _ = load_model(dump_model(model))
    assert_same_state(model, loaded)


def test_numpy_scalar_options_keep_their_type(blobs):
    model = MiniBatchKMeans(
        n_clusters=np.int64(3), random_state=np.int32(4), tol=np.float32(0), compute_labels=np.True_
    )
    loaded, _ = load_model(dump_model(model.fit(blobs)))
    assert type(loaded.n_clusters) is np.int64 and type(loaded.random_state) is np.int32
    assert type(loaded.tol) is np.float32 and type(loaded.compute_labels) is np.bool_
    assert_same_state(model, loaded)


def test_extra_metadata_comes_back_unchanged(blobs):
    extra = {"name": "stores", "tags": ["a", "é"], "rows": 3000, "nested": {"x": None}}
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(blobs)
    _, got = load_model(dump_model(model, extra=extra))
    assert got == extra
    _, none = load_model(dump_model(model))
    assert none == {}


@pytest.mark.parametrize("extra", [{"x": float("nan")}, {"x": object()}, ["list"]])
def test_extra_that_is_not_a_json_object_is_refused(extra):
    with pytest.raises(ModelFormatError, match="JSON"):
        dump_model(MiniBatchKMeans(), extra=extra)


def test_dumps_are_repeatable(blobs):
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(blobs)
    assert dump_model(model) == dump_model(model)


def test_layout(blobs):
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(sp.csr_matrix(blobs))
    data = dump_model(model)
    names = list(members(data))
    assert names[0] == "manifest.json"
    assert set(names[1:]) == {
        "attributes/cluster_centers_.npy",
        "attributes/labels_.npy",
        "attributes/_center_weight.npy",
    }
    manifest = manifest_of(data)
    assert manifest["format"] == "skbridge-model" and manifest["format_version"] == 1
    assert manifest["estimator"] == "MiniBatchKMeans"
    assert set(manifest["library_versions"]) == {"skbridge", "numpy", "scikit-learn", "python"}
    centers = manifest["attributes"]["cluster_centers_"]
    assert centers["dtype"] == "<f8" and centers["shape"] == [3, 5]
    assert manifest["params"]["n_clusters"] == {"type": "int", "value": 3}


def test_a_callable_init_cannot_be_stored():
    def init(X, k, random_state):
        return X[:k]

    with pytest.raises(ModelFormatError, match=r"params\.init.*function"):
        dump_model(MiniBatchKMeans(init=init))


def test_an_attribute_outside_the_spec_is_refused_not_dropped(blobs):
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(blobs)
    model.note_ = "kept by the user"
    with pytest.raises(ModelFormatError, match="'note_'.*would be lost"):
        dump_model(model)


def test_load_refuses_another_class(blobs):
    class Other(MiniBatchKMeans):
        pass

    data = dump_model(Other(n_clusters=3))
    with pytest.raises(ModelFormatError, match="'Other' is not one this reader accepts"):
        MiniBatchKMeans.load(io.BytesIO(data))
    loaded, _ = load_model(data, classes={"Other": Other})
    assert type(loaded) is Other


def test_a_non_seekable_file_is_read(blobs):
    class Pipe(io.RawIOBase):
        def __init__(self, payload):
            self._inner = io.BytesIO(payload)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self._inner.readinto(buffer)

    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(blobs)
    loaded = MiniBatchKMeans.load(io.BufferedReader(Pipe(dump_model(model))))
    assert_same_state(model, loaded)


def test_the_spec_lists_exactly_the_constructor_options():
    assert set(MiniBatchKMeans._model_spec.params) == set(MiniBatchKMeans().get_params())
