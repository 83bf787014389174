"""How one constructor option or fitted attribute is written into, and read from, a manifest.

Every value becomes a JSON object tagged with its ``type`` (``int``, ``float``,
``numpy_scalar``, ``array``, ``str_array``, ``random_state``, ...) so that reading gives
back the same Python type, not merely the same number: an estimator that kept a
``numpy.float32`` keeps one. What each name may hold is declared by the estimator class
in a ``Slot`` of value kinds (``int`` covers Python and NumPy integers alike); a value
outside its slot is refused when writing and when reading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._model_format import (
    Archive,
    ArchiveWriter,
    ModelFormatError,
    member_name,
    quote,
)

SCALAR_TYPES = frozenset({"none", "bool", "int", "float", "str"})
NUMPY_SCALAR_DTYPES = frozenset({"<f4", "<f8", "<i4", "<i8", "|b1"})
_NUMPY_KIND = {"f": "float", "i": "int", "b": "bool"}  # a numpy scalar's slot kind
_MT_KEY_WORDS = 624  # words of MT19937 state


@dataclass(frozen=True)
class Slot:
    """What one name may hold.

    ``types``: the allowed value types; ``dtypes`` and ``ndim``: what an ``array`` may
    be; ``low``/``high``: bounds of an ``int``; ``ref``: the constructor option a
    ``param_ref`` may point to (the same object, e.g. a shared RandomState).
    """

    types: frozenset[str]
    dtypes: frozenset[str] = frozenset()
    ndim: int | None = None
    low: int | None = None
    high: int | None = None
    ref: str | None = None


def slot(*types: str, **limits: Any) -> Slot:
    return Slot(frozenset(types), **limits)


# --------------------------------------------------------------------------- writing


def _float_json(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _kind_of(value: Any) -> str:
    """The slot kind of a value (what a Slot's ``types`` lists)."""
    if value is None:
        return "none"
    # Before the builtins: numpy.float64 is a subclass of float.
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return _NUMPY_KIND.get(value.dtype.kind, "other")
    if type(value) in (bool, int, float, str):
        return type(value).__name__
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return "str_array"
        return "array"
    if isinstance(value, np.random.RandomState):
        return "random_state"
    if isinstance(value, Mapping):
        return "str_map"
    return "other"


def encode(
    value: Any, spec: Slot, section: str, name: str, writer: ArchiveWriter, params: dict
) -> dict:
    """The manifest entry for ``value`` stored under ``section``/``name``."""
    where = f"{section}.{name}"
    if spec.ref is not None and isinstance(value, np.random.RandomState):
        if value is params.get(spec.ref):
            return {"type": "param_ref", "name": spec.ref}
    kind = _kind_of(value)
    if kind not in spec.types:
        allowed = ", ".join(sorted(spec.types - {"param_ref"}))
        raise ModelFormatError(
            f"{where}: a value of type {type(value).__name__} cannot be stored (allowed: {allowed})"
        )
    if kind == "none":
        return {"type": "none"}
    if isinstance(value, np.generic):
        dtype = value.dtype.newbyteorder("<").str
        if dtype not in NUMPY_SCALAR_DTYPES:
            raise ModelFormatError(f"{where}: numpy scalars of dtype {dtype} cannot be stored")
        number = _float_json(float(value)) if kind == "float" else value.item()
        return {"type": "numpy_scalar", "dtype": dtype, "value": number}
    if kind in ("bool", "int", "str"):
        return {"type": kind, "value": value}
    if kind == "float":
        return {"type": "float", "value": _float_json(value)}
    if kind == "array":
        _check_array_value(value, spec, where)
        return writer.add_array(member_name(section, name), value)
    if kind == "str_array":
        if value.ndim != 1 or not all(isinstance(item, str) for item in value):
            raise ModelFormatError(f"{where}: only a 1-D array of str can be stored as text")
        return {"type": "str_array", "value": list(value)}
    if kind == "str_map":
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ModelFormatError(f"{where}: only a mapping of str to str can be stored")
        return {"type": "str_map", "value": dict(value)}
    # random_state: MT19937's state words as an array, the rest as JSON.
    algorithm, key, pos, has_gauss, cached = value.get_state(legacy=True)
    return {
        "type": "random_state",
        "algorithm": algorithm,
        "key": writer.add_array(member_name(section, name, ".key"), key.astype(np.uint32)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": _float_json(float(cached)),
    }


# --------------------------------------------------------------------------- reading

_KEYS = {
    "none": {"type"},
    "bool": {"type", "value"},
    "int": {"type", "value"},
    "float": {"type", "value"},
    "str": {"type", "value"},
    "numpy_scalar": {"type", "dtype", "value"},
    "str_array": {"type", "value"},
    "str_map": {"type", "value"},
    "param_ref": {"type", "name"},
    "random_state": {"type", "algorithm", "key", "pos", "has_gauss", "cached_gaussian"},
}


def _entry_type(entry: Any, spec: Slot, where: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise ModelFormatError(f"{where}: each value must be a JSON object with a 'type'")
    kind = entry["type"]
    if kind not in _KEYS and kind != "array":
        raise ModelFormatError(f"{where}: unknown value type {quote(kind)}")
    if kind != "array" and set(entry) != _KEYS[kind]:
        raise ModelFormatError(f"{where}: a {kind} entry needs exactly {sorted(_KEYS[kind])}")
    slot_kind = kind
    if kind == "numpy_scalar":
        if entry["dtype"] not in NUMPY_SCALAR_DTYPES:
            raise ModelFormatError(f"{where}: numpy scalar dtype {quote(entry['dtype'])} refused")
        slot_kind = _NUMPY_KIND[np.dtype(entry["dtype"]).kind]
    if slot_kind not in spec.types:
        allowed = ", ".join(sorted(spec.types))
        raise ModelFormatError(f"{where}: a {slot_kind} value is not allowed here ({allowed})")
    return kind


def array_entries(entry: Any, spec: Slot, section: str, name: str) -> list[tuple[str, dict]]:
    """The (member name, array entry) pairs a value entry declares, for checking up front."""
    kind = _entry_type(entry, spec, f"{section}.{name}")
    if kind == "array":
        return [(member_name(section, name), entry)]
    if kind == "random_state":
        return [(member_name(section, name, ".key"), entry["key"])]
    return []


def _json_float(value: Any, where: str) -> float:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if type(value) not in (int, float):
        raise ModelFormatError(f"{where}: {quote(value)} is not a number")
    return float(value)


def _json_int(value: Any, spec: Slot, where: str) -> int:
    if type(value) is not int:
        raise ModelFormatError(f"{where}: {quote(value)} is not an integer")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise ModelFormatError(f"{where}: {value} is outside [{spec.low}, {spec.high}]")
    return value


def _check_array_value(array: np.ndarray, spec: Slot, where: str) -> None:
    dtype = array.dtype.newbyteorder("<").str
    if spec.dtypes and dtype not in spec.dtypes:
        allowed = ", ".join(sorted(spec.dtypes))
        raise ModelFormatError(f"{where}: dtype {dtype} is not allowed here ({allowed})")
    if spec.ndim is not None and array.ndim != spec.ndim:
        raise ModelFormatError(f"{where}: expected {spec.ndim} dimensions, got {array.ndim}")


def decode(entry: dict, spec: Slot, section: str, name: str, archive: Archive, params: dict) -> Any:
    """The value of a manifest entry whose arrays ``archive.check_arrays`` has accepted."""
    where = f"{section}.{name}"
    kind = _entry_type(entry, spec, where)
    if kind == "none":
        return None
    if kind == "bool":
        if type(entry["value"]) is not bool:
            raise ModelFormatError(f"{where}: {quote(entry['value'])} is not a boolean")
        return entry["value"]
    if kind == "int":
        return _json_int(entry["value"], spec, where)
    if kind == "float":
        return _json_float(entry["value"], where)
    if kind == "str":
        if not isinstance(entry["value"], str):
            raise ModelFormatError(f"{where}: {quote(entry['value'])} is not a string")
        return entry["value"]
    if kind == "numpy_scalar":
        return _decode_numpy_scalar(entry, spec, where)
    if kind == "array":
        array = archive.read_array(entry)
        _check_array_value(array, spec, where)
        return array
    if kind == "str_array":
        items = entry["value"]
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ModelFormatError(f"{where}: expected a list of strings")
        result = np.empty(len(items), dtype=object)
        result[:] = items
        return result
    if kind == "str_map":
        mapping = entry["value"]
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ModelFormatError(f"{where}: expected an object of strings")
        return dict(mapping)
    if kind == "param_ref":
        if entry["name"] != spec.ref or not isinstance(params.get(spec.ref), np.random.RandomState):
            raise ModelFormatError(f"{where}: cannot refer to option {quote(entry['name'])}")
        return params[spec.ref]
    return _decode_random_state(entry, archive, where)


def _decode_numpy_scalar(entry: dict, spec: Slot, where: str) -> Any:
    dtype = entry["dtype"]  # one of NUMPY_SCALAR_DTYPES, checked with the entry
    value = entry["value"]
    if dtype[1] == "f":
        return np.dtype(dtype).type(_json_float(value, where))
    if dtype == "|b1":
        if type(value) is not bool:
            raise ModelFormatError(f"{where}: {quote(value)} is not a boolean")
        return np.bool_(value)
    info = np.iinfo(np.dtype(dtype))
    if not info.min <= _json_int(value, spec, where) <= info.max:
        raise ModelFormatError(f"{where}: {quote(value)} does not fit a {np.dtype(dtype).name}")
    return np.dtype(dtype).type(value)


def _decode_random_state(entry: dict, archive: Archive, where: str) -> np.random.RandomState:
    if entry["algorithm"] != "MT19937":
        raise ModelFormatError(f"{where}: random generator {quote(entry['algorithm'])} unknown")
    key_entry = entry["key"]
    if key_entry["dtype"] != "<u4" or key_entry["shape"] != [_MT_KEY_WORDS]:
        raise ModelFormatError(f"{where}: the MT19937 key must be {_MT_KEY_WORDS} uint32 words")
    pos = entry["pos"]
    if type(pos) is not int or not 0 <= pos <= _MT_KEY_WORDS:
        raise ModelFormatError(f"{where}: pos {quote(pos)} is outside [0, {_MT_KEY_WORDS}]")
    if entry["has_gauss"] not in (0, 1) or type(entry["has_gauss"]) is not int:
        raise ModelFormatError(f"{where}: has_gauss must be 0 or 1")
    cached = _json_float(entry["cached_gaussian"], where)
    key = archive.read_array(key_entry)
    rng = np.random.RandomState(0)
    rng.set_state(("MT19937", key, pos, entry["has_gauss"], cached))
    return rng
