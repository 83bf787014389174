"""Numerical kernels for mini-batch k-means.

Every function here trusts its inputs: the estimator has already validated them. Dense
arrays are C-contiguous and share one floating dtype (float32 or float64), called
``dtype`` below; sparse matrices are CSR with that dtype. Shapes use n (samples),
d (features) and k (centers).

The floating-point recipes follow scikit-learn's k-means kernels (BSD-3-Clause): the
running-mean center update, the ranking of centers by ``|c|^2 - 2 x.c``, and the order in
which squared distances and inertias are added. So, for the same random state, the same
labels, centers and inertias come out to the last bit (tests/estimators/test_parity.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._threads import STEP_SURE_CELLS

try:  # scipy's CSR x dense kernel, the one behind ``csr_array @ ndarray``
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - a scipy that moved it: use the public operator
    _csr_matvecs = None

# Block sizes of whole-dataset passes. Smaller blocks keep the (block, k) scores and the
# block of a dense X in cache from the product through the ranking: measured on 100k x 32
# (k = 8 to 100) and 20k x 784 rows, blocks of ~1-8k rows ran up to 2x faster than blocks
# of 16-64k, while each block costs ~30 us of Python.
BLOCK_CELLS = 1 << 17  # rows x centers
BLOCK_X_CELLS = 1 << 20  # rows x features, dense X
BLOCK_MAX_ROWS = 8192

# Elements per temporary in row-group loops (64K float64 = 512 KiB, well inside L2).
CACHE_CELLS = 1 << 16


class Centers:
    """Centers (k, d) with the derived arrays every assignment needs.

    ``neg2`` is ``-2 * centers`` (exact: a power-of-two scale), so one GEMM yields
    ``-2 x.c`` directly; ``sq_norms`` is (k,) ``|c|^2`` in the centers' dtype.
    """

    __slots__ = ("values", "neg2", "sq_norms")

    def __init__(self, centers: np.ndarray):
        self.values = centers
        self.neg2 = -2 * centers
        self.sq_norms = np.einsum("ij,ij->i", centers, centers)


def _scores(X, cs: Centers) -> np.ndarray:
    """(n, k) ``|c|^2 - 2 x.c`` for rows of X (dense or CSR): what the ranking compares."""
    scores = np.asarray(X @ cs.neg2.T)  # scipy returns dense for sparse @ dense
    scores += cs.sq_norms
    return scores


def assign(X, cs: Centers):
    """Nearest center of each row of X (n, d), dense or CSR.

    Ranks centers by ``|c|^2 - 2 x.c`` (|x|^2 does not change the ranking), the quantity
    scikit-learn's Lloyd kernel compares; ties go to the lowest index. Returns (n,) int32.
    """
    return _scores(X, cs).argmin(axis=1).astype(np.int32, copy=False)


def assign_and_measure(X, cs: Centers, x_sq=None):
    """``assign`` plus each row's squared distance to its center via the norm expansion
    ``|x|^2 + (|c|^2 - 2 x.c)``, reusing the scores already computed for the ranking.

    One extra pass over X instead of five, for whole-dataset passes over float64 data
    (dense or CSR), where the expansion is accurate to ~1e-15 relative per row. Returns
    ((n,) int32 labels, (n,) float64 squared distances). ``x_sq``: the rows' ``|x|^2``
    if already known (dense X).
    """
    scores = _scores(X, cs)
    labels = scores.argmin(axis=1)
    dist = np.take_along_axis(scores, labels[:, None], axis=1)[:, 0]
    if x_sq is not None:
        dist += x_sq
    elif sp.issparse(X):
        dist += np.asarray(X.multiply(X).sum(axis=1)).ravel()
    else:
        dist += np.einsum("ij,ij->i", X, X)
    np.maximum(dist, 0, out=dist)
    return labels.astype(np.int32, copy=False), dist


def sq_dist_to_assigned(X, cs: Centers, labels, overwrite: bool = False) -> np.ndarray:
    """Squared distance of each row of X to its center ``cs.values[labels]``. (n,) X dtype.

    With ``overwrite`` a dense X is used as scratch space (its rows end up holding the
    squared differences), which saves a copy of the batch on the hot path.

    Computed from direct differences (not the norm expansion, which loses digits when
    points sit close to their center) and summed in the order scikit-learn's kernel sums:
    dense rows in groups of four features, sparse rows entry by entry. That makes the
    batch inertias, and so the early-stopping decisions, agree to the last bit.
    """
    centers = cs.values
    if sp.issparse(X):
        # Per stored entry (x - c)^2 - c^2, plus |c|^2 for the whole row: the same sum as
        # |x - c|^2 without densifying X.
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        c_vals = centers[labels[row_of], X.indices]
        terms = (X.data - c_vals) ** 2 - c_vals**2
        per_row = np.bincount(row_of, weights=terms, minlength=X.shape[0]).astype(X.dtype)
        per_row += cs.sq_norms[labels]
        np.maximum(per_row, 0, out=per_row)
        return per_row
    out = np.empty(X.shape[0], dtype=X.dtype)
    # Row groups small enough for the temporaries to stay in cache: several cheap passes
    # over cached data beat one materialised (n, d) difference array.
    rows = max(16, CACHE_CELLS // max(1, X.shape[1]))
    for start in range(0, X.shape[0], rows):
        stop = start + rows
        _dense_sq_dist(X[start:stop], centers, labels[start:stop], out[start:stop], overwrite)
    return out


def label_batch(X, rows, cs: Centers):
    """Gather rows ``rows`` of a dense X, then label them and measure their squared
    distances to their centers exactly (as ``assign`` and ``sq_dist_to_assigned``).

    Rows go in groups small enough to stay in cache from the gather through the ranking
    product to the differences, so the batch is never materialised whole.
    Returns ((b,) int32 labels, (b,) X-dtype squared distances).
    """
    b, d = rows.shape[0], X.shape[1]
    labels = np.empty(b, dtype=np.int32)
    dist = np.empty(b, dtype=X.dtype)
    group = max(16, CACHE_CELLS // max(1, d))
    for start in range(0, b, group):
        stop = min(start + group, b)
        part = X.take(rows[start:stop], axis=0)
        lab = labels[start:stop]
        lab[:] = _scores(part, cs).argmin(axis=1)
        _dense_sq_dist(part, cs.values, lab, dist[start:stop], overwrite=True)
    return labels, dist


def _dense_sq_dist(X, centers, labels, out, overwrite: bool) -> None:
    if overwrite:
        diff = X
        diff -= centers.take(labels, axis=0)
    else:
        diff = centers.take(labels, axis=0)
        np.subtract(X, diff, out=diff)
    diff *= diff
    n_features = diff.shape[1]
    whole = n_features // 4 * 4
    if whole:
        # Each row's quads ((d0 + d1) + d2) + d3, then the quads added strictly left to
        # right as scikit-learn's loop does: reducing a (n_quads, rows) array over axis 0
        # adds row after row (a reduction along the contiguous axis would be pairwise).
        groups = diff[:, :whole].reshape(diff.shape[0], whole // 4, 4)
        quads = groups[:, :, 0] + groups[:, :, 1]
        quads += groups[:, :, 2]
        quads += groups[:, :, 3]
        np.add.reduce(np.ascontiguousarray(quads.T), axis=0, out=out)
    else:
        out[:] = 0
    for j in range(whole, n_features):
        out += diff[:, j]


def labels_inertia(
    X,
    sample_weight,
    centers,
    return_inertia: bool = True,
    n_parts: int = 1,
    pool=None,
    expansion: bool = False,
    x_sq=None,
):
    """Nearest-center labels (n,) int32 and weighted inertia for a whole dataset.

    With ``expansion`` (float64, dense or CSR) distances come from ``assign_and_measure``:
    faster, and equal to the direct differences to ~1e-15 relative rather than bit for bit.

    Works block by block so that temporary memory stays bounded for any n; with ``pool``
    (a ``concurrent.futures`` executor) blocks run in parallel, NumPy releasing the GIL.
    The inertia is summed as ``ordered_sum`` does, in X's dtype, over ``n_parts`` parts.
    """
    n = X.shape[0]
    cs = Centers(centers)
    fast = expansion and X.dtype == np.float64
    labels = np.empty(n, dtype=np.int32)
    terms = np.empty(n, dtype=X.dtype) if return_inertia else None
    step = min(BLOCK_MAX_ROWS, BLOCK_CELLS // centers.shape[0])
    if not sp.issparse(X):
        step = min(step, BLOCK_X_CELLS // max(1, X.shape[1]))
    if pool is not None:
        # At least four blocks, so that two or more threads share the work evenly.
        step = min(step, -(-n // 4))
    # Blocks start at multiples of 256 rows, as scikit-learn's chunks do: a BLAS product
    # rounds a row by its place in the product's register blocks.
    step = max(256, step // 256 * 256)

    def run(start: int) -> None:
        stop = min(start + step, n)
        block = X[start:stop]
        if return_inertia and fast:
            lab, dist = assign_and_measure(block, cs, None if x_sq is None else x_sq[start:stop])
        else:
            lab = assign(block, cs)
            dist = sq_dist_to_assigned(block, cs, lab) if return_inertia else None
        labels[start:stop] = lab
        if return_inertia:
            np.multiply(dist, sample_weight[start:stop], out=terms[start:stop])

    starts = range(0, n, step)
    if pool is not None and len(starts) > 1:
        for _ in pool.map(run, starts):
            pass
    else:
        for start in starts:
            run(start)
    if return_inertia:
        return labels, float(ordered_sum(terms, n_parts))
    return labels


def ordered_sum(terms, n_parts: int):
    """Sum of ``terms`` (n,) accumulated one by one in their own dtype.

    The range is split into ``n_parts`` contiguous parts (the way an OpenMP static
    schedule splits it across threads), each part summed in order, and the part sums
    added in order. This reproduces, rounding included, the float32 inertia that
    scikit-learn's threaded kernels report; a pairwise or float64 sum would differ from
    it by about 1e-6 relative.
    """
    n = terms.shape[0]
    base, extra = divmod(n, n_parts)
    if extra == 0 and base:
        # Equal parts: one cumsum over a (parts, base) view does every part at once.
        partial = np.cumsum(terms.reshape(n_parts, base), axis=1)[:, -1]
    else:
        sizes = [base + (1 if part < extra else 0) for part in range(n_parts)]
        ends = np.cumsum(sizes)
        partial = [np.cumsum(terms[e - z : e])[-1] for e, z in zip(ends, sizes, strict=True) if z]
    total = terms.dtype.type(0)
    for value in partial:
        total = total + value
    return total


def minibatch_update(
    X, sample_weight, centers, centers_new, weight_sums, labels, rows=None, pool=None
) -> None:
    """Move each center to the running weighted mean of all points it has received.

    X: (b, d) dense or CSR batch; sample_weight: (b,); centers: (k, d) before the step;
    centers_new: (k, d) output, may be ``centers`` itself; weight_sums: (k,) accumulated
    weight per center, updated in place; labels: (b,) int32 assignment of the batch. The
    effective per-center learning rate is (batch weight) / (total weight seen).

    The new center is ``(c * w_c + sum of w_i x_i) / (w_c + sum of w_i)``, the points
    added onto ``c * w_c`` one after another in batch order. That is the order
    scikit-learn's kernel adds in, so the centers agree to the last bit in float64 and
    float32 alike. Dense batches use scipy's CSR kernel with a selector listing each
    center's points in batch order; CSR batches use ``_added_in_order``.

    With ``rows`` (dense only) X is the whole data set and the batch is ``X[rows]``: the
    selector points into X, so the batch need not be gathered. With ``pool`` (an
    executor) a large dense batch is summed on two threads, each taking whole centers, so
    every center still receives its points in batch order.
    """
    k = centers.shape[0]
    dtype = centers.dtype
    counts = np.bincount(labels, minlength=k)
    # Batch weight per center: bincount adds in batch order, like scikit-learn's kernel
    # (in float64, which only matters for non-unit float32 weights).
    wsum = np.bincount(labels, weights=sample_weight, minlength=k)
    if counts.all():
        moved = slice(None)
    else:
        moved = np.flatnonzero(counts)
        still = counts == 0
        centers_new[still] = centers[still]
        counts = counts[moved]
        wsum = wsum[moved]
    old_weight = weight_sums[moved]
    if rows is not None and _csr_matvecs is None:  # pragma: no cover - see the import
        X, rows = X.take(rows, axis=0), None
    if sp.issparse(X) or _csr_matvecs is None:
        numer = _added_in_order(X, centers[moved], old_weight, labels, moved, sample_weight)
    else:
        indptr = np.zeros(counts.size + 1, dtype=np.intp)
        np.cumsum(counts, out=indptr[1:])
        # Stable sorts of 8- and 16-bit integers are radix sorts: much faster than int32's.
        small = np.uint8 if k <= 256 else np.uint16 if k <= 65536 else labels.dtype
        order = labels.astype(small, copy=False).argsort(kind="stable")
        member_w = sample_weight[order].astype(dtype, copy=False)
        numer = centers[moved] * old_weight[:, None]
        members = order if rows is None else rows[order]
        _sum_members(X, indptr, members, member_w, numer, pool)
    totals = old_weight + wsum.astype(dtype)
    numer *= (1 / totals).astype(dtype, copy=False)[:, None]
    centers_new[moved] = numer
    weight_sums[moved] = totals


def _sum_members(X, indptr, members, member_w, numer, pool) -> None:
    """``numer[c] += sum of member_w[i] * X[members[i]]`` over each center c's slice
    ``indptr[c]:indptr[c + 1]``, added one row after another (scipy's CSR kernel adds
    onto ``numer`` row by row in entry order). With ``pool`` and a batch of at least
    ``STEP_SURE_CELLS`` cells (smaller ones cost more to hand over than they save), the
    centers are split in two groups of about equal rows, summed at once."""
    m = indptr.size - 1
    n, d = X.shape
    flat = X.ravel()
    split = 0
    if pool is not None and m > 1 and members.size * d >= STEP_SURE_CELLS:
        split = min(max(int(np.searchsorted(indptr, members.size // 2)), 1), m - 1)
    if not split:
        _csr_matvecs(m, n, d, indptr, members, member_w, flat, numer.ravel())
        return
    # The kernel reads indptr's values as positions in members, so a slice of it works.
    upper, lower = numer[split:].ravel(), numer[:split].ravel()  # views: C-ordered rows
    other = pool.submit(
        _csr_matvecs, m - split, n, d, indptr[split:], members, member_w, flat, upper
    )
    _csr_matvecs(split, n, d, indptr[: split + 1], members, member_w, flat, lower)
    other.result()


def _added_in_order(X, heads, head_w, labels, moved, sample_weight) -> np.ndarray:
    """``heads * head_w`` plus each batch row's weighted values added onto its center's
    row, one row after another in batch order: the order of the kernel path.

    For CSR X (entry by entry, in storage order) and for a scipy without the raw kernel.
    ``np.add.at`` applies its additions in the order given, so each cell receives them
    in batch order.
    """
    numer = heads * head_w[:, None]
    target = labels
    if not isinstance(moved, slice):  # rows of ``numer`` are the moved centers only
        position = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.intp)
        position[moved] = np.arange(moved.size)
        target = position[labels]
    weights = sample_weight.astype(numer.dtype, copy=False)
    if sp.issparse(X):
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        # Flat positions: NumPy's fast path for ``add.at`` takes one 1-D index.
        cells = target[row_of] * numer.shape[1] + X.indices
        np.add.at(numer.ravel(), cells, X.data * weights[row_of])
    else:
        np.add.at(numer, target, X * weights[:, None])
    return numer
