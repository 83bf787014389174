"""Numerical kernels for mini-batch k-means.

Every function here trusts its inputs: the estimator has already validated them. Dense
arrays are C-contiguous and share one floating dtype (float32 or float64), called
``dtype`` below; sparse matrices are CSR with that dtype. Shapes use n (samples),
d (features) and k (centers).

The floating-point recipes mirror scikit-learn's so that, for the same random state, the
same samples are drawn and the same labels come out (see tests/estimators/test_parity.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Rows per block in whole-dataset passes: bounds the temporary (block, k) distance matrix
# and the (block, d) difference buffer whatever n is.
LABEL_CHUNK_ROWS = 1 << 15


def row_sq_norms(X) -> np.ndarray:
    """Squared L2 norm of each row; dense (n, d) or CSR. Returns (n,) of X's dtype."""
    if sp.issparse(X):
        sq = X.multiply(X)
        return np.asarray(sq.sum(axis=1), dtype=X.dtype).ravel()
    return np.einsum("ij,ij->i", X, X)


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


def kmeans_plusplus(X, n_clusters: int, x_sq_norms, sample_weight, rng, n_local_trials=None):
    """Greedy k-means++ seeding.

    X: (n, d) dense or CSR; x_sq_norms: (n,); sample_weight: (n,) dtype; rng: RandomState.
    Each new center is the best (lowest potential) of ``2 + log(k)`` candidates drawn with
    probability proportional to weight times squared distance to the nearest chosen center.
    The random draws are made in the same order and with the same calls as scikit-learn's
    ``kmeans_plusplus``. Returns centers (k, d) dense of X's dtype.
    """
    n_samples, n_features = X.shape
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    first = rng.choice(n_samples, p=sample_weight / sample_weight.sum())
    centers[0] = _dense_row(X, first)
    closest = sq_distances(centers[0:1], X, x_sq_norms)[0]
    potential = closest @ sample_weight

    for c in range(1, n_clusters):
        targets = rng.uniform(size=n_local_trials) * potential
        candidates = np.searchsorted(np.cumsum(sample_weight * closest), targets)
        # Rounding in the cumulative sum can put a target just past the last bin.
        np.clip(candidates, None, closest.size - 1, out=candidates)
        cand_dist = sq_distances(_rows(X, candidates), X, x_sq_norms)
        np.minimum(closest, cand_dist, out=cand_dist)
        cand_pot = cand_dist @ sample_weight.reshape(-1, 1)
        best = int(np.argmin(cand_pot))
        potential = cand_pot[best]
        closest = cand_dist[best]
        centers[c] = _dense_row(X, candidates[best])
    return centers


def _rows(X, idx):
    return X[idx] if sp.issparse(X) else np.take(X, idx, axis=0)


def _dense_row(X, i):
    return X[[i]].toarray()[0] if sp.issparse(X) else X[i]


def nearest_center(X, centers, c_sq_norms) -> np.ndarray:
    """Index of the nearest center for each row of X (n, d), dense or CSR.

    Ranks centers by ``|c|^2 - 2 x.c`` (the |x|^2 term does not change the ranking), the
    same quantity scikit-learn's Lloyd kernel compares; ties go to the lowest index.
    Returns (n,) int32.
    """
    scores = X @ centers.T
    scores = np.asarray(scores.toarray() if sp.issparse(scores) else scores)
    scores *= -2
    scores += c_sq_norms
    return scores.argmin(axis=1).astype(np.int32, copy=False)


def sq_dist_to_assigned(X, centers, labels) -> np.ndarray:
    """Squared distance of each row of X to ``centers[labels]``, computed directly.

    Direct differences rather than the norm expansion keep inertia accurate when points
    sit close to their center. Returns (n,) of X's dtype.
    """
    if sp.issparse(X):
        # Per stored entry (x - c)^2 - c^2, plus |c|^2 for the whole row: the same sum as
        # |x - c|^2 without densifying X.
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        c_vals = centers[labels[row_of], X.indices]
        terms = (X.data - c_vals) ** 2 - c_vals**2
        per_row = np.bincount(row_of, weights=terms, minlength=X.shape[0]).astype(X.dtype)
        per_row += np.einsum("ij,ij->i", centers, centers)[labels]
        np.maximum(per_row, 0, out=per_row)
        return per_row
    diff = X - np.take(centers, labels, axis=0)
    return np.einsum("ij,ij->i", diff, diff)


def labels_inertia(X, sample_weight, centers, return_inertia: bool = True, n_parts: int = 1):
    """Nearest-center labels (n,) int32 and weighted inertia for a whole dataset.

    Works block by block so that temporary memory stays bounded for any n. The inertia is
    summed as ``ordered_sum`` does, in X's dtype, over ``n_parts`` contiguous parts.
    """
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int32)
    terms = np.empty(n, dtype=X.dtype) if return_inertia else None
    c_sq = np.einsum("ij,ij->i", centers, centers)
    step = max(256, LABEL_CHUNK_ROWS // max(1, centers.shape[0] // 8))
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = X[start:stop]
        lab = nearest_center(block, centers, c_sq)
        labels[start:stop] = lab
        if return_inertia:
            np.multiply(sq_dist_to_assigned(block, centers, lab), sample_weight[start:stop],
                        out=terms[start:stop])
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
    total = terms.dtype.type(0)
    start = 0
    for part in range(n_parts):
        size = base + (1 if part < extra else 0)
        if size:
            total = total + np.cumsum(terms[start : start + size])[-1]
        start += size
    return total


def center_sums(X, sample_weight, labels, n_clusters: int):
    """Weighted sum of the rows assigned to each center.

    X: (b, d) dense or CSR; sample_weight: (b,); labels: (b,) int32. Returns
    (sums (k, d), weight_per_center (k,)), both of X's dtype. A weighted one-hot matrix
    turns the grouped sum into one GEMM (or one sparse product).
    """
    b = X.shape[0]
    if sp.issparse(X):
        onehot = sp.csr_matrix(
            (sample_weight, (labels, np.arange(b))), shape=(n_clusters, b), dtype=X.dtype
        )
        sums = np.asarray((onehot @ X).toarray(), dtype=X.dtype)
        wsum = np.asarray(onehot.sum(axis=1), dtype=X.dtype).ravel()
        return sums, wsum
    onehot = np.zeros((n_clusters, b), dtype=X.dtype)
    onehot[labels, np.arange(b)] = sample_weight
    return onehot @ X, onehot.sum(axis=1)


def minibatch_update(X, sample_weight, centers, centers_new, weight_sums, labels) -> None:
    """Move each center to the running weighted mean of all points it has received.

    X: (b, d) dense or CSR batch; centers: (k, d) before the step; centers_new: (k, d)
    output, may be the same array as ``centers``; weight_sums: (k,) accumulated weight per
    center, updated in place; labels: (b,) int32 assignment of the batch. The effective
    per-center learning rate is (batch weight) / (total weight seen).
    """
    sums, wsum = center_sums(X, sample_weight, labels, centers.shape[0])
    moved = wsum > 0
    if not moved.all():
        still = ~moved
        centers_new[still] = centers[still]
    totals = weight_sums[moved] + wsum[moved]
    scale = (1 / totals).astype(centers.dtype, copy=False)
    updated = centers[moved] * weight_sums[moved][:, None]
    updated += sums[moved]
    updated *= scale[:, None]
    centers_new[moved] = updated
    weight_sums[moved] = totals


def prepare_weighted_sampler(normalized_weight):
    """Cumulative distribution for drawing batch indices with probability ``normalized_weight``.

    Built once per fit so each draw costs O(b log n). Drawing ``searchsorted(cdf,
    random_sample(b), side='right')`` from it consumes the generator exactly as
    ``RandomState.choice(n, b, p=normalized_weight)`` does and yields the same indices;
    the checks raise the same errors ``choice`` raises.
    """
    given = np.asarray(normalized_weight)
    p = given.astype(np.float64)
    total = p.sum()
    if np.isnan(total):
        raise ValueError("probabilities contain NaN")
    if (p < 0).any():
        raise ValueError("probabilities are not non-negative")
    atol = max(np.sqrt(np.finfo(np.float64).eps), np.sqrt(np.finfo(given.dtype).eps))
    if abs(total - 1.0) > atol:
        raise ValueError("probabilities do not sum to 1")
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return cdf


def draw_batch(cdf, batch_size: int, rng) -> np.ndarray:
    """Indices of one mini-batch, drawn with replacement from ``cdf``. Returns (b,) int64."""
    return cdf.searchsorted(rng.random_sample(batch_size), side="right")
