"""Containers that tie an estimator class's option, method and attribute schemas together.

A :class:`ClassContract` is the single description of what may cross the wire for one
estimator class. The server validates against it and whitelists names from it; the JSON
Schema export (and from it the TypeScript types) is derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["AttributeContract", "ClassContract", "MethodContract", "WireModel", "RETURNS"]

# What a method hands back, as a JSON Schema fragment. "self" means the estimator itself,
# which travels as {"instance": id}.
RETURNS: dict[str, dict[str, Any]] = {
    "self": {"x-kind": "self"},
    "vector": {"x-kind": "vector"},
    "matrix": {"x-kind": "matrix"},
    "strings": {"x-kind": "strings"},
    "number": {"type": "number"},
    "object": {"type": "object"},
}


class WireModel(BaseModel):
    """Base for every wire model: unknown keys are errors and nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class MethodContract:
    """One callable method: its keyword parameters and the kind of value it returns."""

    description: str
    params: type[WireModel]
    returns: str

    def __post_init__(self) -> None:
        if self.returns not in RETURNS:
            raise ValueError(f"unknown return kind {self.returns!r}")


@dataclass(frozen=True)
class AttributeContract:
    """One readable fitted attribute and its JSON Schema type (or x-kind)."""

    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ClassContract:
    """Everything the bridge exposes for one estimator class."""

    name: str
    description: str
    options: type[WireModel]
    methods: MappingProxyType[str, MethodContract] = field(repr=False)
    attributes: MappingProxyType[str, AttributeContract] = field(repr=False)

    def to_json_schema(self) -> dict[str, Any]:
        """The class's entry in ``contract.schema.json``."""
        return {
            "description": self.description,
            "options": self.options.model_json_schema(),
            "methods": {
                name: {
                    "description": method.description,
                    "params": method.params.model_json_schema(),
                    "returns": dict(RETURNS[method.returns]),
                }
                for name, method in self.methods.items()
            },
            "attributes": {
                name: {"description": attr.description, **attr.schema}
                for name, attr in self.attributes.items()
            },
        }
