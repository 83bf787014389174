"""Array references <-> raw frames (PROTOCOL.md section 2.3).

:class:`Decoder` turns the ``{"$type": ...}`` maps of a message into numpy arrays that view
the received frames without copying; :class:`Encoder` does the reverse, collecting the
buffers to send after the header. Both sides of the wire use them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from bridge.checks import build_csr, check_csr, check_csr_shape, check_shape
from bridge.errors import MissingDependency, ProtocolError
from bridge.quoting import clip, quote
from schemas.protocol import DTYPES as WIRE_DTYPES
from schemas.protocol import SPARSE_DATA_DTYPES, SPARSE_INDEX_DTYPES

__all__ = ["DTYPES", "DatasetRef", "Decoder", "Encoder", "Table"]

# Wire dtype names; every one is read and written little-endian.
DTYPES: dict[str, np.dtype] = {name: np.dtype(name).newbyteorder("<") for name in WIRE_DTYPES}
_NAME_OF = {dtype.newbyteorder("="): name for name, dtype in DTYPES.items()}
_MAX_DEPTH = 32
_NDARRAY_KEYS = frozenset({"$type", "frame", "dtype", "shape", "columns"})
_DATASET_KEYS = frozenset({"$type", "id"})
_CSR_KEYS = frozenset({"$type", "shape", "data", "indices", "indptr"})
# numpy byteorder codes that mean little-endian on this machine ("|": single byte).
_LITTLE = "<|=" if sys.byteorder == "little" else "<|"


class Table(NamedTuple):
    """A table result when pandas is not available on the receiving side."""

    columns: list[str]
    data: np.ndarray


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _import_pandas(why: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependency(f"{why} needs pandas, which is not installed") from None
    return pandas


class Decoder:
    """Resolve array references in one message against that message's buffer frames.

    Every reference is checked completely (see :mod:`bridge.checks`) before numpy or
    scipy build anything over the frames; a bad one is a :class:`ProtocolError`.
    """

    def __init__(
        self,
        buffers: Sequence[Any],
        *,
        accept_tables: bool,
        resolve: Callable[[Any], Any] | None = None,
    ) -> None:
        """``resolve(id)`` returns the stored array of a ``dataset`` reference (server
        side, see :mod:`bridge.datasets`); without it such references are refused."""
        # memoryview gives byte lengths and lets np.frombuffer share the frame memory.
        self._buffers = [memoryview(buf) for buf in buffers]
        self._used: set[int] = set()
        self._accept_tables = accept_tables
        self._resolve = resolve

    def decode(self, value: Any) -> Any:
        try:
            return self._value(value, 0)
        except (ValueError, TypeError, OverflowError) as exc:
            # The checks should leave numpy nothing to refuse; if they miss a case, it is
            # still the message that is wrong, not the server.
            raise ProtocolError(f"invalid array reference: {clip(str(exc))}") from None

    def _value(self, value: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise ProtocolError(f"values nest deeper than {_MAX_DEPTH} levels")
        if isinstance(value, dict):
            if "$type" in value:
                return self._decode_ref(value)
            return {key: self._value(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self._value(item, depth + 1) for item in value]
        return value

    def check_all_used(self) -> None:
        """Unreferenced frames point at a client bug, so they are an error, not ignored."""
        unused = [i for i in range(len(self._buffers)) if i not in self._used]
        if unused:
            raise ProtocolError(
                f"{len(unused)} buffer frames are not referenced by the header: {quote(unused)}"
            )

    def _decode_ref(self, ref: dict[str, Any]) -> Any:
        kind = ref["$type"]
        if kind == "ndarray":
            return self._ndarray(ref)
        if kind == "csr":
            return self._csr(ref)
        if kind == "table":
            if not self._accept_tables:
                raise ProtocolError("'$type': 'table' is only used in results")
            return self._table(ref)
        if kind == "dataset":
            if self._resolve is None:
                raise ProtocolError("'$type': 'dataset' is only accepted in call params")
            self._check_keys(ref, _DATASET_KEYS, "dataset")
            return self._resolve(ref.get("id"))
        raise ProtocolError(
            f"unknown '$type' {quote(kind)}; expected ndarray, csr, dataset or table"
        )

    @staticmethod
    def _check_keys(ref: dict[str, Any], allowed: frozenset[str], what: str) -> None:
        extra = [key for key in ref if key not in allowed]
        if extra:
            raise ProtocolError(f"unexpected keys {quote(extra)} in {what} reference")

    def _ndarray(self, ref: dict[str, Any], *, allow_columns: bool = True) -> Any:
        self._check_keys(ref, _NDARRAY_KEYS, "ndarray")
        name = ref.get("dtype")
        if not (isinstance(name, str) and name in DTYPES):
            raise ProtocolError(f"dtype {quote(name)} is not one of {', '.join(DTYPES)}")
        dtype = DTYPES[name]
        index = ref.get("frame")
        if not _is_int(index) or not 0 <= index < len(self._buffers):
            raise ProtocolError(
                f"frame {quote(index)} is out of range; the message has "
                f"{len(self._buffers)} buffer frames"
            )
        if index in self._used:
            raise ProtocolError(f"frame {index} is referenced twice")
        self._used.add(index)
        buf = self._buffers[index]
        shape = check_shape(
            ref.get("shape"), itemsize=dtype.itemsize, nbytes=buf.nbytes, what=f"frame {index}"
        )
        array = np.frombuffer(buf, dtype=dtype).reshape(shape)
        if not array.flags.aligned:
            # ZeroMQ packs small frames into a shared receive buffer at arbitrary offsets;
            # copying those few bytes keeps every array we hand out naturally aligned.
            array = array.copy()
        if name == "bool" and array.size and array.view(np.uint8).max() > 1:
            # numpy assumes a bool byte is 0 or 1; other bytes give undefined results.
            raise ProtocolError(f"frame {index}: bool values must be the bytes 0 or 1")
        columns = ref.get("columns")
        if columns is None:
            return array
        if not allow_columns:
            raise ProtocolError("'columns' is only allowed on a top-level ndarray")
        self._check_columns(columns, shape)
        pandas = _import_pandas("an ndarray with 'columns'")
        # copy=False keeps the DataFrame a view over the received frame.
        return pandas.DataFrame(array, columns=columns, copy=False)

    @staticmethod
    def _check_columns(columns: Any, shape: tuple[int, ...]) -> None:
        if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            raise ProtocolError("'columns' must be a list of strings")
        if len(shape) != 2 or len(columns) != shape[1]:
            raise ProtocolError(
                f"'columns' names {len(columns)} columns but the array has shape {list(shape)}"
            )

    def _part(self, ref: dict[str, Any], key: str, dtypes: tuple[str, ...]) -> np.ndarray:
        part = ref.get(key)
        if not (isinstance(part, dict) and part.get("$type") == "ndarray"):
            raise ProtocolError(f"csr '{key}' must be an ndarray reference")
        array = self._ndarray(part, allow_columns=False)
        if array.ndim != 1 or part["dtype"] not in dtypes:
            raise ProtocolError(f"csr '{key}' must be a 1-D array of {' or '.join(dtypes)}")
        return array

    def _csr(self, ref: dict[str, Any]) -> Any:
        self._check_keys(ref, _CSR_KEYS, "csr")
        shape = check_csr_shape(ref.get("shape"))
        data = self._part(ref, "data", SPARSE_DATA_DTYPES)
        indices = self._part(ref, "indices", SPARSE_INDEX_DTYPES)
        indptr = self._part(ref, "indptr", SPARSE_INDEX_DTYPES)
        check_csr(shape, data, indices, indptr)
        return build_csr(shape, data, indices, indptr)

    def _table(self, ref: dict[str, Any]) -> Any:
        columns = ref.get("columns")
        data = ref.get("data")
        if not (isinstance(data, dict) and data.get("$type") == "ndarray"):
            raise ProtocolError("table 'data' must be an ndarray reference")
        array = self._ndarray(data, allow_columns=False)
        self._check_columns(columns, array.shape)
        try:
            import pandas
        except ImportError:
            return Table(columns, array)
        return pandas.DataFrame(array, columns=columns, copy=False)


class DatasetRef(NamedTuple):
    """A dataset stored on the server (``Client.dataset``), sent as a reference."""

    id: str


class Encoder:
    """Replace arrays in a value by references, collecting the buffers to send.

    ``tables=True`` (the server side) sends DataFrames as ``table`` values; otherwise
    (the client side) a DataFrame becomes an ndarray reference with ``columns``.
    """

    def __init__(self, *, tables: bool) -> None:
        self.buffers: list[Any] = []
        self._tables = tables

    def encode(self, value: Any, _depth: int = 0) -> Any:
        if _depth > _MAX_DEPTH:
            raise ValueError(f"values nest deeper than {_MAX_DEPTH} levels")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, DatasetRef):  # before tuples: a NamedTuple is one
            return {"$type": "dataset", "id": value.id}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return self._ndarray(value)
        if isinstance(value, dict):
            return {str(key): self.encode(item, _depth + 1) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.encode(item, _depth + 1) for item in value]
        if getattr(value, "format", None) == "csr" and hasattr(value, "indptr"):
            return self._csr(value)
        if hasattr(value, "tocsr") and hasattr(value, "nnz"):
            return self._csr(value.tocsr())
        if hasattr(value, "columns") and hasattr(value, "to_numpy"):
            return self._frame(value)
        raise TypeError(f"cannot send a value of type {type(value).__name__}")

    def _ndarray(self, array: np.ndarray, columns: list[str] | None = None) -> Any:
        if array.dtype.kind in "OUS":
            if array.ndim != 1:
                raise TypeError("only 1-D arrays of strings can be sent (as a list)")
            items = array.tolist()
            if not all(isinstance(item, str) for item in items):
                raise TypeError("arrays of non-numeric objects can only hold strings")
            return items
        if array.ndim == 0:
            return array.item()
        name = _NAME_OF.get(array.dtype.newbyteorder("="))
        if name is None:
            raise TypeError(f"dtype {array.dtype} cannot be sent; use one of {', '.join(DTYPES)}")
        # Already C-ordered little-endian arrays go out as they are (no copy).
        if not (array.flags.c_contiguous and array.dtype.byteorder in _LITTLE):
            array = np.ascontiguousarray(array, dtype=DTYPES[name])
        ref: dict[str, Any] = {
            "$type": "ndarray",
            "frame": len(self.buffers),
            "dtype": name,
            "shape": list(array.shape),
        }
        if columns is not None:
            ref["columns"] = columns
        self.buffers.append(array)
        return ref

    def _csr(self, matrix: Any) -> dict[str, Any]:
        return {
            "$type": "csr",
            "shape": [int(n) for n in matrix.shape],
            "data": self._ndarray(np.asarray(matrix.data)),
            "indices": self._ndarray(np.asarray(matrix.indices)),
            "indptr": self._ndarray(np.asarray(matrix.indptr)),
        }

    def _frame(self, frame: Any) -> dict[str, Any]:
        columns = [str(c) if self._tables else c for c in frame.columns]
        array = frame.to_numpy()
        if self._tables:
            return {"$type": "table", "columns": columns, "data": self._ndarray(array)}
        # Mirror scikit-learn: names count as feature names only when all are strings.
        names = columns if all(isinstance(c, str) for c in columns) else None
        if array.dtype.kind not in "biuf":
            raise TypeError("a DataFrame must have numeric columns only to be sent")
        return self._ndarray(array, columns=names)
