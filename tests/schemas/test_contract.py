"""The contract against the estimator it describes, and the exported JSON Schema."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from pydantic import ValidationError

from estimators import MiniBatchKMeans
from schemas import CONTRACTS, MINIBATCH_KMEANS, PROTOCOL_VERSION, export

from . import documented_api

OPTIONS = MINIBATCH_KMEANS.options


def _init_parameters() -> list[inspect.Parameter]:
    params = list(inspect.signature(MiniBatchKMeans.__init__).parameters.values())
    return params[1:]  # drop self


def test_option_names_and_order_match_constructor():
    assert list(OPTIONS.model_fields) == [p.name for p in _init_parameters()]


def test_option_defaults_match_constructor():
    for param in _init_parameters():
        field = OPTIONS.model_fields[param.name]
        assert field.default == param.default, param.name
        assert type(field.default) is type(param.default), param.name


def test_defaults_match_sklearn_documentation():
    sklearn_cls = pytest.importorskip("sklearn.cluster").MiniBatchKMeans
    for name, field in OPTIONS.model_fields.items():
        expected = inspect.signature(sklearn_cls).parameters[name].default
        assert field.default == expected, name


# Parameters the documented API has but current scikit-learn's signature does not; the
# contract accepts them as null only.
COMPATIBILITY_ONLY = {"get_metadata_routing": ["routing"]}


@pytest.mark.parametrize("method", list(MINIBATCH_KMEANS.methods))
def test_method_params_match_signature(method):
    fn = getattr(MiniBatchKMeans, method)
    names = [p for p in inspect.signature(fn).parameters if p != "self"]
    params = MINIBATCH_KMEANS.methods[method].params
    extra = COMPATIBILITY_ONLY.get(method, [])
    assert list(params.model_fields) == names + extra
    for name in extra:
        assert params.model_fields[name].default is None
        assert "only null" in params.model_fields[name].description
    for name in names:
        default = inspect.signature(fn).parameters[name].default
        field = params.model_fields[name]
        if default is inspect.Parameter.empty:
            assert field.is_required(), name
        else:
            assert field.default == default, name


def test_documented_attributes_exist_after_fit():
    X = np.random.default_rng(0).normal(size=(60, 3))
    import pandas as pd

    est = MiniBatchKMeans(n_clusters=2, random_state=0).fit(
        pd.DataFrame(X, columns=["a", "b", "c"])
    )
    for name in MINIBATCH_KMEANS.attributes:
        assert hasattr(est, name), name


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"n_clusters": "3"}, "n_clusters"),  # no string-to-int coercion
        ({"n_clusters": True}, "n_clusters"),  # bool is not an int
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 2.0}, "n_clusters"),
        ({"max_iter": 0}, "max_iter"),
        ({"batch_size": 0}, "batch_size"),
        ({"verbose": -1}, "verbose"),
        ({"compute_labels": 1}, "compute_labels"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": 2**32}, "random_state"),
        ({"tol": -0.1}, "tol"),
        ({"tol": "0"}, "tol"),
        ({"max_no_improvement": -1}, "max_no_improvement"),
        ({"init_size": 0}, "init_size"),
        ({"n_init": 0}, "n_init"),
        ({"n_init": "many"}, "n_init"),
        ({"init": "kmeans++"}, "init"),
        ({"init": [[0.0, 1.0]]}, "init"),  # arrays travel as frames, never as lists
        ({"reassignment_ratio": -1.0}, "reassignment_ratio"),
        ({"n_cluster": 3}, "n_cluster"),
    ],
)
def test_options_are_strict(options, field):
    with pytest.raises(ValidationError) as info:
        OPTIONS.model_validate(options)
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


@pytest.mark.parametrize(
    "options",
    [
        {"verbose": True},
        {"verbose": 2},
        {"random_state": 0},
        {"random_state": 2**32 - 1},
        {"random_state": None},
        {"tol": 0},
        {"max_no_improvement": None},
        {"init_size": None},
        {"n_init": 3},
        {"init": "random"},
        {"init": np.zeros((3, 2))},
    ],
)
def test_options_accept_documented_values(options):
    OPTIONS.model_validate(options)


def test_set_output_and_request_values():
    set_output = MINIBATCH_KMEANS.methods["set_output"].params
    for value in ("default", "pandas", "polars", None):
        set_output.model_validate({"transform": value})
    with pytest.raises(ValidationError):
        set_output.model_validate({"transform": "arrow"})
    request = MINIBATCH_KMEANS.methods["set_fit_request"].params
    for value in (True, False, None, "weights"):
        request.model_validate({"sample_weight": value})
    with pytest.raises(ValidationError):
        request.model_validate({"sample_weight": 1})


def test_export_is_current():
    on_disk = export.SCHEMA_PATH.read_text(encoding="utf-8")
    assert on_disk == export.render(), "run: python -m schemas.export"


def test_export_layout():
    doc = json.loads(export.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert doc["$comment"].startswith("Generated by python -m schemas.export")
    assert doc["protocol"]["version"] == PROTOCOL_VERSION
    assert set(doc["classes"]) == set(CONTRACTS)
    cls = doc["classes"]["MiniBatchKMeans"]
    assert set(cls) == {"description", "options", "methods", "attributes"}
    assert cls["options"]["additionalProperties"] is False
    assert list(cls["options"]["properties"]) == [p.name for p in _init_parameters()]
    returns = {name: m["returns"] for name, m in cls["methods"].items()}
    assert returns["fit"] == {"x-kind": "self"}
    assert returns["predict"] == {"x-kind": "vector"}
    assert returns["transform"] == {"x-kind": "matrix"}
    assert returns["score"] == {"type": "number"}
    assert returns["get_feature_names_out"] == {"x-kind": "strings"}
    assert returns["get_metadata_routing"] == {"type": "object"}
    for method in cls["methods"].values():
        assert method["description"]
        assert method["params"]["additionalProperties"] is False
    attrs = cls["attributes"]
    assert attrs["cluster_centers_"]["x-kind"] == "matrix"
    assert attrs["labels_"]["x-kind"] == "vector"
    assert attrs["feature_names_in_"]["x-kind"] == "strings"
    assert attrs["inertia_"]["type"] == "number"
    assert attrs["n_iter_"]["type"] == "integer"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_every_field_is_described_and_arrays_have_x_kind():
    doc = json.loads(export.render())["classes"]["MiniBatchKMeans"]
    models = [doc["options"], *(m["params"] for m in doc["methods"].values())]
    for model in models:
        for name, prop in model["properties"].items():
            assert prop.get("description"), name
    fit = doc["methods"]["fit"]["params"]["properties"]
    assert fit["X"]["x-kind"] == "matrix"
    assert {"x-kind": "vector"} in fit["sample_weight"]["anyOf"]
    assert {"x-kind": "matrix"} in doc["options"]["properties"]["init"]["anyOf"]
    names_out = doc["methods"]["get_feature_names_out"]["params"]["properties"]
    assert names_out["input_features"]["anyOf"][0]["x-kind"] == "strings"


def test_schemas_are_self_contained():
    doc = json.loads(export.render())["classes"]["MiniBatchKMeans"]
    models = [doc["options"], *(m["params"] for m in doc["methods"].values())]
    for model in models:
        defs = model.get("$defs", {})
        for node in _walk(model):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/$defs/") and ref.split("/")[-1] in defs


def test_export_check_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "SCHEMA_PATH", tmp_path / "contract.schema.json")
    assert export.main(["--check"]) == 1
    assert export.main([]) == 0
    assert export.main(["--check"]) == 0


def test_contract_has_exactly_the_documented_names():
    assert sorted(MINIBATCH_KMEANS.options.model_fields) == sorted(documented_api.OPTIONS)
    assert sorted(MINIBATCH_KMEANS.methods) == sorted(documented_api.METHOD_PARAMS)
    for method, names in documented_api.METHOD_PARAMS.items():
        assert sorted(MINIBATCH_KMEANS.methods[method].params.model_fields) == sorted(names)
    assert sorted(MINIBATCH_KMEANS.attributes) == sorted(documented_api.ACCESSORS)
