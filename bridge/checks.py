"""Structural checks of arrays from the wire, made before any compiled code sees them.

numpy's reshape, scipy's sparse constructors and the estimator's kernels trust the sizes
and indices they are given; a CSR matrix whose ``indptr`` runs past its data makes them
read outside their buffers and the process dies. So everything that decides where memory
is read is checked here first, completely and in O(size) with vectorised numpy: shapes
and their products, CSR index dtypes, ``indptr`` and every column index. A failure is a
:class:`~bridge.errors.ProtocolError` quoting the offending value, bounded in size.

Example::

    >>> check_shape([2, 3], itemsize=8, nbytes=48, what="frame 0")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bridge.errors import ProtocolError
from bridge.quoting import quote

__all__ = ["MAX_DIMS", "MAX_EXTENT", "build_csr", "check_csr", "check_csr_shape", "check_shape"]

MAX_DIMS = 32
# Bound on every dimension, on their product and on the byte size: below numpy's intp
# limit with room to spare, so no size computation downstream can overflow.
MAX_EXTENT = 2**62


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_EXTENT


def check_shape(shape: Any, *, itemsize: int, nbytes: int, what: str) -> tuple[int, ...]:
    """A valid shape for ``nbytes`` bytes of ``itemsize``-byte items, as a tuple.

    Besides the element count, the product of the non-zero dimensions is bounded: numpy
    refuses an empty array whose other dimensions multiply past its limit.
    """
    if not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
        raise ProtocolError(f"shape must be a list of integers in 0..2^62-1, got {quote(shape)}")
    if len(shape) > MAX_DIMS:
        raise ProtocolError(f"arrays may have at most {MAX_DIMS} dimensions, got {len(shape)}")
    extent = itemsize
    count = 1
    for n in shape:
        extent *= max(n, 1)
        count *= n
        if extent >= MAX_EXTENT:
            raise ProtocolError(f"shape {quote(shape)} is too large")
    expected = count * itemsize
    if nbytes != expected:
        raise ProtocolError(
            f"{what} holds {nbytes} bytes but shape {quote(shape)} needs {expected}"
        )
    return tuple(shape)


def check_csr_shape(shape: Any) -> tuple[int, int]:
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_count(n) for n in shape)):
        raise ProtocolError(f"csr shape must be [n_rows, n_cols], got {quote(shape)}")
    return shape[0], shape[1]


def check_csr(
    shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray
) -> None:
    """Check the CSR structure completely (1-D parts of wire dtypes already checked)."""
    try:
        _check_csr(shape, data, indices, indptr)
    except ProtocolError as exc:
        raise ProtocolError(f"invalid csr matrix: {exc.message}") from None


def _check_csr(
    shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray
) -> None:
    n_rows, n_cols = shape
    nnz = len(data)
    if len(indptr) != n_rows + 1:
        raise ProtocolError(
            f"indptr has {len(indptr)} entries; a matrix with {n_rows} rows needs {n_rows + 1}"
        )
    if len(indices) != nnz:
        raise ProtocolError(f"indices has {len(indices)} entries but data has {nnz}")
    for part, label in ((indices, "indices"), (indptr, "indptr")):
        # The index dtype must hold every index and offset, or scipy would cast (copy).
        top = np.iinfo(part.dtype).max
        if max(n_rows, n_cols, nnz) > top:
            raise ProtocolError(
                f"{label} is {part.dtype.name}, which cannot index a {n_rows} x "
                f"{n_cols} matrix with {nnz} stored values; use int64"
            )
    if indptr[0] != 0:
        raise ProtocolError(f"indptr must start at 0, got {int(indptr[0])}")
    if indptr[-1] != nnz:
        raise ProtocolError(f"indptr must end at len(data) = {nnz}, got {int(indptr[-1])}")
    if n_rows > 1 and not (indptr[1:] >= indptr[:-1]).all():
        row = int(np.argmax(indptr[1:] < indptr[:-1]))
        raise ProtocolError(
            f"indptr must be non-decreasing; it falls from {int(indptr[row])} to "
            f"{int(indptr[row + 1])} at row {row}"
        )
    if nnz:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n_cols:
            bad = low if low < 0 else high
            raise ProtocolError(f"column index {bad} is out of range for {n_cols} columns")


def build_csr(
    shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray
) -> Any:
    """A scipy CSR matrix over checked parts.

    The checks bound every index by ``max(shape)`` and ``nnz``, so the index dtype follows
    from those alone: int32 when they fit (as scipy's own constructor would choose; many
    scikit-learn estimators accept no other), else int64. The parts are placed into an
    empty matrix of the right shape instead of going through that constructor, which would
    scan the indices again; its structure attributes are public and hold nothing cached.
    """
    from scipy import sparse

    n_rows, n_cols = shape
    wide = max(n_rows, n_cols, len(data)) > np.iinfo(np.int32).max
    index_dtype = np.dtype(np.int64 if wide else np.int32)
    matrix = sparse.csr_matrix(shape, dtype=data.dtype)
    matrix.data = data
    matrix.indices = indices.astype(index_dtype, copy=False)
    matrix.indptr = indptr.astype(index_dtype, copy=False)
    return matrix
