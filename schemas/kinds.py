"""Array-valued field types for the wire contract.

Arrays never travel as JSON numbers, so their JSON Schema cannot say much about structure.
Instead each array field carries a custom keyword, ``"x-kind"``, that tells code generators
which wire form to expect:

- ``"matrix"``: a 2-D ndarray reference (optionally with ``columns``) or a CSR reference;
- ``"vector"``: a 1-D ndarray reference;
- ``"strings"``: a list of strings.

On the Python side the validators accept the decoded objects (numpy arrays, scipy sparse
matrices, pandas DataFrames). They duck-type on ``ndim`` so this package imports neither
scipy nor pandas.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["Matrix", "Strings", "Vector", "XKind"]


def _describe(value: Any) -> str:
    """Name the kind of a rejected value for error messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    return type(value).__name__


class XKind:
    """Pydantic annotation marking a field as an array of the given wire kind."""

    def __init__(self, kind: str, ndim: int | None) -> None:
        self.kind = kind
        self.ndim = ndim

    def _validate(self, value: Any) -> Any:
        if self.kind == "strings":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise PydanticCustomError(
                "x_kind", "Input should be a list of strings, got {got}", {"got": _describe(value)}
            )
        # Lists, strings and mappings also lack ndim, so the check rejects them: arrays must
        # arrive as frame references, never as msgpack lists of numbers.
        ndim = getattr(value, "ndim", None)
        if isinstance(ndim, int) and ndim == self.ndim and hasattr(value, "shape"):
            return value
        raise PydanticCustomError(
            "x_kind",
            "Input should be a {ndim}-D array reference ({kind}), got {got}",
            {"ndim": self.ndim, "kind": self.kind, "got": _describe(value)},
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self._validate)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.kind == "strings":
            return {"type": "array", "items": {"type": "string"}, "x-kind": "strings"}
        return {"x-kind": self.kind}


Matrix = Annotated[Any, XKind("matrix", 2)]
Vector = Annotated[Any, XKind("vector", 1)]
Strings = Annotated[list[str], XKind("strings", None)]
