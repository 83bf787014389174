"""docs/MODEL_FORMAT.md and the code agree on the facts a reader in another language needs."""

from pathlib import Path

import pytest

from estimators import MiniBatchKMeans
from estimators._model_format import (
    ARRAY_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_MEMBERS,
    SUPPORTED_VERSIONS,
)
from estimators._model_values import _KEYS, NUMPY_SCALAR_DTYPES

DOC = (Path(__file__).parents[2] / "docs" / "MODEL_FORMAT.md").read_text()


def test_name_and_version():
    assert f"Format name: **`{FORMAT_NAME}`**, format version: **{FORMAT_VERSION}**." in DOC
    assert SUPPORTED_VERSIONS == {FORMAT_VERSION}
    assert f"at most {MAX_MEMBERS} members" in DOC


@pytest.mark.parametrize("dtype", sorted(ARRAY_DTYPES | NUMPY_SCALAR_DTYPES))
def test_every_dtype_is_documented(dtype):
    assert f"`{dtype.replace('|', chr(92) + '|')}`" in DOC


@pytest.mark.parametrize("kind", sorted(set(_KEYS) | {"array"}))
def test_every_value_type_is_documented(kind):
    assert f"`{kind}`" in DOC


@pytest.mark.parametrize("name", sorted(MiniBatchKMeans._model_spec.attributes))
def test_every_stored_attribute_is_documented(name):
    assert f"`{name}`" in DOC
