"""Validate wire values against the contract models and explain failures.

A pydantic ValidationError becomes an :class:`InvalidParams` whose message names the
field and value, with one ``details`` entry per offending field (at most
:data:`MAX_DETAILS` of them; the message counts the rest). Client input is quoted through
:mod:`bridge.quoting`, so a reply stays small whatever was sent.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from bridge.errors import InvalidParams
from bridge.quoting import clip, name, quote, wire_safe
from schemas import WireModel

__all__ = ["MAX_DETAILS", "validate"]

MAX_DETAILS = 20
# Longer unknown names get no "did you mean" (difflib is quadratic in the name's length).
_SUGGEST_UP_TO = 64


def validate(
    model: type[WireModel], data: dict[str, Any], *, noun: str, where: str
) -> dict[str, Any]:
    """Validate ``data``; return the keyword arguments the client actually gave.

    ``noun`` is "option" or "parameter" and ``where`` names the target (e.g.
    "MiniBatchKMeans.fit"); both only shape the error messages.
    """
    fields = model.model_fields
    unknown = [key for key in data if key not in fields]
    if len(unknown) > MAX_DETAILS:
        # Many unknown keys: pydantic would report each one, slowly; the names suffice.
        raise _unknown_keys(unknown, data, model, noun=noun, where=where)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, model, noun=noun, where=where) from None
    # Only the fields the client set are passed on, so the callee applies its own defaults
    # exactly as a direct Python call would. Attributes are read directly rather than via
    # model_dump so arrays are passed through untouched.
    return {name: getattr(parsed, name) for name in fields if name in parsed.model_fields_set}


def _unknown_message(field: str, model: type[WireModel], noun: str) -> str:
    message = f"unknown {noun}"
    if len(field) <= _SUGGEST_UP_TO:
        close = difflib.get_close_matches(field, list(model.model_fields), n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _unknown_keys(
    unknown: list[Any],
    data: dict[str, Any],
    model: type[WireModel],
    *,
    noun: str,
    where: str,
) -> InvalidParams:
    keys = unknown[:MAX_DETAILS]
    shown = [name(key) for key in keys]
    details = [
        {
            "field": field,
            "value": wire_safe(data[key]),
            "message": _unknown_message(field, model, noun),
        }
        for key, field in zip(keys, shown, strict=True)
    ]
    listed = ", ".join(f"'{field}'" for field in shown)
    return InvalidParams(
        f"{len(unknown)} unknown {noun}s for {where}: {listed} and "
        f"{len(unknown) - len(shown)} more",
        details=details,
    )


def _explain(
    exc: ValidationError, model: type[WireModel], *, noun: str, where: str
) -> InvalidParams:
    by_field: dict[str, dict[str, Any]] = {}
    inputs: dict[str, Any] = {}
    skipped: set[str] = set()
    for error in exc.errors(include_url=False):
        field = name(error["loc"][0]) if error["loc"] else ""
        kind = error["type"]
        if kind == "extra_forbidden":
            message = _unknown_message(field, model, noun)
        elif kind == "missing":
            message = f"missing required {noun}"
        else:
            message = clip(error["msg"])
        entry = by_field.get(field)
        if entry is None:
            if len(by_field) == MAX_DETAILS:
                skipped.add(field)
                continue
            value = None if kind == "missing" else error.get("input")
            inputs[field] = value
            by_field[field] = {
                "field": field,
                "value": wire_safe(value),
                "message": message,
                "kind": kind,
            }
        elif message not in entry["message"] and len(entry["message"]) < 1000:
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
                f"invalid {noun} '{field}' = {quote(inputs[field])} for {where}: {entry['message']}"
            )
    if skipped:
        summaries.append(f"and {len(skipped)} more")
    return InvalidParams("; ".join(summaries), details=list(by_field.values()))
