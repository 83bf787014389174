"""Client input quoted in error messages: short, bounded and never recursive.

A message that echoes what the client sent must stay small whatever was sent (a 50 MB
key, a list nested a thousand deep), and building it must not fail; otherwise the reply
to a bad request would be huge, or an ``internal`` error.

Example::

    >>> quote("x" * 10_000)[:12]
    "'xxxxxxxxxxx"
    >>> len(quote("x" * 10_000)) <= MAX_QUOTE
    True
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["MAX_QUOTE", "clip", "name", "quote", "wire_safe"]

# Characters of client input any one quote may show.
MAX_QUOTE = 200
_BYTES_SHOWN = 48
_SCALARS = (type(None), bool, int, float)


class _Repr(reprlib.Repr):
    def repr_bytes(self, value: bytes, level: int) -> str:
        # reprlib would call the built-in repr on the whole object before truncating.
        shown = repr(bytes(value[:_BYTES_SHOWN]))
        return shown if len(value) <= _BYTES_SHOWN else f"{shown}...({len(value)} bytes)"

    repr_bytearray = repr_bytes
    repr_memoryview = repr_bytes


_REPR = _Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 8
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlong = 40


def clip(text: str, limit: int = MAX_QUOTE) -> str:
    """``text`` cut to at most ``limit`` characters, marked with "..." when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def quote(value: Any) -> str:
    """A repr of client input of at most :data:`MAX_QUOTE` characters."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails still gets an error message
        text = f"<{type(value).__name__}>"
    return clip(text)


def name(key: Any) -> str:
    """A map key as it appears between quotes in a message or as a ``details`` field."""
    return clip(key) if isinstance(key, str) else quote(key)


def wire_safe(value: Any) -> Any:
    """A client value to echo in ``details``: small scalars as they are, strings clipped,
    short flat lists kept, anything else described by its type (and shape)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, list) and len(value) <= 16:
        if all(isinstance(v, (*_SCALARS, str)) for v in value):
            return [clip(v, 40) if isinstance(v, str) else v for v in value]
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return clip(f"<{type(value).__name__} shape={list(shape)}>")
    return f"<{type(value).__name__}>"
