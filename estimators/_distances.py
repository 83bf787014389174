"""Squared euclidean distances computed the way scikit-learn computes them.

Row norms and the ``-2 a.b + |a|^2 + |b|^2`` expansion are added in scikit-learn's order
(``sklearn.metrics.euclidean_distances``, ``row_norms``; BSD-3-Clause), so the distances
that steer k-means++ seeding and ``transform`` agree with it to the last bit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:  # scipy's CSR matrix-vector kernel, the one behind ``csr_array @ vector``
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover
    _csr_matvec = None


def row_sq_norms(X, pool=None) -> np.ndarray:
    """Squared L2 norm of each row; dense (n, d) or CSR. Returns (n,) of X's dtype.

    CSR rows are summed entry by entry in storage order, as scikit-learn's
    ``csr_row_norms`` loop does (scipy's row sums add in another order): scipy's CSR
    matrix-vector kernel against a vector of ones adds each row's squares that way.
    With ``pool`` (an executor) a dense X is done in two halves at once.
    """
    if not sp.issparse(X):
        if pool is None:
            return np.einsum("ij,ij->i", X, X)
        out = np.empty(X.shape[0], dtype=X.dtype)
        mid = X.shape[0] // 2
        other = pool.submit(np.einsum, "ij,ij->i", X[mid:], X[mid:], out=out[mid:])
        np.einsum("ij,ij->i", X[:mid], X[:mid], out=out[:mid])
        other.result()
        return out
    X = X.tocsr()
    squares = X.data * X.data
    if _csr_matvec is None:  # pragma: no cover - a scipy that moved it
        return _ordered_row_sums(X, squares)
    sums = np.zeros(X.shape[0], dtype=squares.dtype)
    ones = np.ones(X.shape[1], dtype=squares.dtype)
    _csr_matvec(X.shape[0], X.shape[1], X.indptr, X.indices, squares, ones, sums)
    return sums.astype(X.dtype, copy=False)


def _ordered_row_sums(X, squares) -> np.ndarray:
    lengths = np.diff(X.indptr)
    # Rows by decreasing length: the rows still holding a j-th entry are a prefix.
    order = np.argsort(-lengths, kind="stable")
    starts = X.indptr[:-1][order]
    sums = np.zeros(X.shape[0], dtype=squares.dtype)
    active = np.searchsorted(-lengths[order], -np.arange(1, lengths.max(initial=0) + 1), "right")
    for j, count in enumerate(active):
        sums[:count] += squares[starts[:count] + j]
    norms = np.empty_like(sums)
    norms[order] = sums
    return norms.astype(X.dtype, copy=False)


def sq_distances(A, B, b_sq_norms=None) -> np.ndarray:
    """Squared euclidean distances between rows of A (m, d) and rows of B (n, d).

    Follows the norm-expansion recipe of ``sklearn.metrics.euclidean_distances``:
    float64 inputs use ``-2 A.B^T + |a|^2 + |b|^2``; float32 inputs are upcast to float64
    for the computation (their float32 norms are ignored) and the result cast back. A and
    B may be dense or CSR. Returns (m, n) of the input dtype, clipped at zero.
    """
    if A.dtype == np.float32 or B.dtype == np.float32:
        A64 = A.astype(np.float64)
        B64 = B.astype(np.float64)
        out = _expand(A64, B64, row_sq_norms(A64), row_sq_norms(B64))
        out = out.astype(np.float32)
    else:
        if b_sq_norms is None:
            b_sq_norms = row_sq_norms(B)
        out = _expand(A, B, row_sq_norms(A), b_sq_norms)
    np.maximum(out, 0, out=out)
    return out


def _expand(A, B, a_sq, b_sq) -> np.ndarray:
    dots = A @ B.T
    if sp.issparse(dots):
        dots = dots.toarray()
    dots = np.asarray(dots)
    out = -2 * dots
    out += a_sq[:, None]
    out += b_sq[None, :]
    return out


class DistancesTo:
    """``sq_distances(A, B, b_sq_norms)`` for many A against one B, B's side prepared once.

    Its float32 upcast, row norms and, for CSR, the transpose that a sparse product needs
    are made here once instead of on every call; the results are the same to the bit.
    """

    def __init__(self, B, b_sq_norms=None):
        self.upcast = B.dtype == np.float32
        if self.upcast:  # float32 norms are not used: recomputed in float64
            B = B.astype(np.float64)
            b_sq_norms = row_sq_norms(B)
        elif b_sq_norms is None:
            b_sq_norms = row_sq_norms(B)
        self.B, self.b_sq_norms = B, b_sq_norms
        # scipy would convert B.T (CSC) to CSR inside every sparse @ sparse product.
        self._sparse_BT = B.T.tocsr() if sp.issparse(B) else None

    def __call__(self, A) -> np.ndarray:
        if self.upcast:
            A = A.astype(np.float64)
        # Dense @ B.T keeps scipy's own route (its CSR kernel), so only sparse A uses it.
        BT = self._sparse_BT if self._sparse_BT is not None and sp.issparse(A) else self.B.T
        dots = A @ BT
        if sp.issparse(dots):
            dots = dots.toarray()
        out = -2 * np.asarray(dots)
        out += row_sq_norms(A)[:, None]
        out += self.b_sq_norms[None, :]
        if self.upcast:
            out = out.astype(np.float32)
        np.maximum(out, 0, out=out)
        return out
