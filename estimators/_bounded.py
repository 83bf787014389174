"""The mini-batch loop over float64 data, with batch inertias from the norm expansion.

The exact batch inertia (direct differences, summed in scikit-learn's order) costs more
than the rest of a step when rows are long, yet it steers only the early-stopping rule.
Here it comes from what the step computes anyway: each row's ``|x|^2`` (once per fit)
plus its best ranking score ``|c|^2 - 2 x.c``. A rigorous bound on its distance from the
exact value goes with it. ``EarlyStopping`` carries the bound along and raises
``UncertainStop`` when a decision could go either way, and the caller then runs the fit
again with exact inertias. So centers, labels, step count and ``inertia_`` are those of
the exact loop; only the batch inertias shown to progress listeners may differ from it,
in the last digits.

The bound, per row with ``a = |x| + |c|``: the expansion's terms (a dot product of d
products, two squared norms, two additions) are each off by at most about
``(d + 3) u a^2`` (u the unit roundoff), and the exact route's direct sum by at most
``(d + 1) u a^2``; summing b rows in any order adds at most ``b u sum(a^2)`` to each
side. We use twice those constants.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from . import _kernels as K
from ._stopping import UNIT_ROUNDOFF
from ._threads import PoolTrial


def label_rows(X, rows, cs: K.Centers, out, pool=None):
    """Gather ``X[rows]`` into ``out`` (dense X) and rank the centers for each row.

    Returns (the batch, (b,) int32 labels, (b,) best scores ``|c|^2 - 2 x.c``). With
    ``pool`` a second thread gathers and multiplies the second part of a dense batch
    while this one does the first.
    """
    if sp.issparse(X):
        batch = X[rows]
        scores = K._scores(batch, cs)
        return batch, scores.argmin(axis=1).astype(np.int32), scores.min(axis=1)
    b = rows.shape[0]
    scores = np.empty((b, cs.neg2.shape[0]), dtype=X.dtype)
    labels_wide = np.empty(b, dtype=np.intp)  # argmin's own output type
    best = np.empty(b, dtype=X.dtype)
    neg2_t = cs.neg2.T
    # The parts meet at a multiple of 256 rows, where scikit-learn's row chunks meet: a
    # BLAS product rounds rows by their place in its register blocks, so parts cut
    # elsewhere (333 rows, say) can differ from the whole product in the last bit.
    half = b // 2 // 256 * 256 if pool is not None else 0
    half = half or b
    # The helper gets two GIL-free calls and nothing else, so it needs the GIL (taken
    # from this thread) as few times as possible.
    other = (
        None
        if half == b
        else pool.submit(_product, X, rows[half:], out[half:], neg2_t, scores[half:])
    )
    _product(X, rows[:half], out[:half], neg2_t, scores[:half])
    _rank(scores[:half], cs, labels_wide[:half], best[:half])
    if other is not None:
        other.result()
        _rank(scores[half:], cs, labels_wide[half:], best[half:])
    return out, labels_wide.astype(np.int32), best


def _product(X, rows, out, neg2_t, scores) -> None:
    """Gather ``X[rows]`` into ``out`` and write ``-2 x.c`` into ``scores``."""
    # mode="clip" (the rows are valid): with out=, "raise" copies the output first.
    X.take(rows, axis=0, out=out, mode="clip")
    np.matmul(out, neg2_t, out=scores)


def _rank(scores, cs: K.Centers, labels, best) -> None:
    """Add ``|c|^2`` to the products, then each row's best center and its score."""
    scores += cs.sq_norms
    scores.argmin(axis=1, out=labels)
    # Each row's best score read at its label: no second pass over the scores.
    np.take(scores.ravel(), labels + np.arange(0, scores.size, scores.shape[1]), out=best)


def descend_bounded(est, X, x_sq, centers, rng, sampler, stopper, reporter, n_steps, pool):
    """Run up to ``n_steps`` steps of ``est`` on float64 X; returns (centers, steps).

    ``x_sq`` holds ``|x|^2`` of every row. Raises ``UncertainStop`` (from the stopping
    rule) when the approximate inertias cannot decide a step.
    """
    b, d = est._batch_size, X.shape[1]
    ones = np.ones(b, dtype=X.dtype)
    buffer = None if sp.issparse(X) else np.empty((b, d), dtype=X.dtype)
    spare = np.empty_like(centers)
    scale = (4 * (d + 4) + 2 * b + 8) * UNIT_ROUNDOFF
    trial = PoolTrial(pool, b * d)
    step = 0
    start = time.perf_counter()
    while step < n_steps:
        # Whole steps are timed: a helper thread also slows what runs after it returns.
        use = trial.pool_for(step)
        rows = sampler.draw(b, rng)
        reassign = est._due_for_reassignment()
        cs = K.Centers(centers)
        batch, labels, best = label_rows(X, rows, cs, buffer, use)
        shift = est._apply_batch(batch, ones, centers, spare, labels, reassign, rng, use)
        rows_sq = x_sq[rows]
        terms = rows_sq + best
        np.maximum(terms, 0, out=terms)
        reach = np.sqrt(rows_sq)
        reach += np.sqrt(cs.sq_norms)[labels]
        error = float(reach @ reach) * scale
        inertia = float(terms.sum())
        centers, spare = spare, centers
        step += 1
        stop = stopper.should_stop(step - 1, inertia, shift, error)
        if reporter.active:
            reporter.step(step, inertia / b, stopper.smoothed)
        if stop:
            break
        now = time.perf_counter()
        trial.record(step - 1, now - start)
        start = now
    return centers, step
