"""Validate wire values against the contract models and explain failures.

A pydantic ValidationError becomes an :class:`InvalidParams` whose message names the
field and value, with one ``details`` entry per offending field.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from bridge.errors import InvalidParams
from schemas import WireModel

__all__ = ["validate"]

_SCALARS = (type(None), bool, int, float, str)


def _wire_safe(value: Any) -> Any:
    """A value that can be echoed back in msgpack: plain scalars as-is, others described."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list) and len(value) <= 16 and all(isinstance(v, _SCALARS) for v in value):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{type(value).__name__} shape={list(shape)}>"
    return f"<{type(value).__name__}>"


def validate(
    model: type[WireModel], data: dict[str, Any], *, noun: str, where: str
) -> dict[str, Any]:
    """Validate ``data``; return the keyword arguments the client actually gave.

    ``noun`` is "option" or "parameter" and ``where`` names the target (e.g.
    "MiniBatchKMeans.fit"); both only shape the error messages.
    """
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, model, noun=noun, where=where) from None
    # Only the fields the client set are passed on, so the callee applies its own defaults
    # exactly as a direct Python call would. Attributes are read directly rather than via
    # model_dump so arrays are passed through untouched.
    return {
        name: getattr(parsed, name)
        for name in model.model_fields
        if name in parsed.model_fields_set
    }


def _explain(
    exc: ValidationError, model: type[WireModel], *, noun: str, where: str
) -> InvalidParams:
    by_field: dict[str, dict[str, Any]] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        kind = error["type"]
        if kind == "extra_forbidden":
            message = f"unknown {noun}"
            close = difflib.get_close_matches(field, list(model.model_fields), n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        elif kind == "missing":
            message = f"missing required {noun}"
        else:
            message = error["msg"]
        entry = by_field.get(field)
        if entry is None:
            value = None if kind == "missing" else _wire_safe(error.get("input"))
            by_field[field] = {"field": field, "value": value, "message": message, "kind": kind}
        elif message not in entry["message"]:
            # A union reports one error per alternative; show them together.
            entry["message"] += f", or {message}"
    summaries = []
    for entry in by_field.values():
        kind = entry.pop("kind")
        field = entry["field"]
        if kind == "extra_forbidden":
            summaries.append(f"unknown {noun} '{field}' for {where}")
        elif kind == "missing":
            summaries.append(f"missing required {noun} '{field}' for {where}")
        else:
            summaries.append(
                f"invalid {noun} '{field}' = {entry['value']!r} for {where}: {entry['message']}"
            )
    return InvalidParams("; ".join(summaries), details=list(by_field.values()))
