"""Weighted sampling of mini-batch rows, the draws of ``RandomState.choice`` made faster.

The indices are those of NumPy's ``RandomState.choice`` with ``p`` (BSD-3-Clause): the
same uniform numbers looked up in the same cumulative distribution, and the same checks
on ``p`` with the same messages.
"""

from __future__ import annotations

import numpy as np


class BatchSampler:
    """Draws mini-batch indices with replacement, with probability ``normalized_weight``.

    Consumes the generator exactly as ``RandomState.choice(n, b, p=normalized_weight)``
    does (one ``random_sample(b)``) and returns the same indices, but without rebuilding
    an n-long cumulative sum on every call: the CDF is built once, so a draw costs
    O(b log n), and once as many samples have been drawn as there are rows, a guide table
    (the CDF's position at each 1/n step of [0, 1]) narrows each search to a few entries,
    making a draw O(b) (with uniform weights each search is left with about three entries).
    The checks raise the errors ``choice`` raises.
    """

    # Largest span of CDF entries resolved by vectorised stepping; wider ones use a search.
    MAX_STEPS = 12
    # Below this many rows the CDF fits in cache and plain searches are as fast.
    GUIDE_MIN_ROWS = 1 << 16

    def __init__(self, normalized_weight):
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
        self.cdf = np.cumsum(p)
        self.cdf /= self.cdf[-1]
        self._guide = None
        self._drawn = 0

    def draw(self, batch_size: int, rng) -> np.ndarray:
        """(b,) intp indices; the same as ``rng.choice(n, b, p=...)`` would return."""
        u = rng.random_sample(batch_size)
        if self._guide is None:
            self._drawn += batch_size
            n = self.cdf.size
            # The guide costs about as much as 10-30 searched batches (measured for n from
            # 1e5 to 1e6): build it once the searches have cost about that much, so a fit
            # pays at most twice the better of the two choices.
            if n < self.GUIDE_MIN_ROWS or self._drawn < n // 32:
                return self._search(u)
            self._build_guide()
        return self._guided(u)

    def _search(self, u) -> np.ndarray:
        # Searching in sorted order lets each search start where the last one ended.
        order = u.argsort()
        idx = np.empty(u.size, dtype=np.intp)
        idx[order] = self.cdf.searchsorted(u[order], side="right")
        return idx

    def _build_guide(self) -> None:
        # guide[j] = number of CDF entries whose cell floor(cdf * n) is below j.
        n = self.cdf.size
        cells = np.minimum((self.cdf * n).astype(np.intp), n)
        self._guide = np.zeros(n + 2, dtype=np.intp)
        np.cumsum(np.bincount(cells, minlength=n + 1), out=self._guide[1:])

    def _guided(self, u) -> np.ndarray:
        cdf, guide = self.cdf, self._guide
        n = cdf.size
        cell = np.minimum((u * n).astype(np.intp), n - 1)
        # The answer, searchsorted(cdf, u, 'right'), lies between these bounds: one cell
        # of slack on each side covers rounding in u * n and in cdf * n (an entry counted
        # in guide[c - 1] has cdf * n < c - 1 + eps < u * n; one at or below u has
        # cdf * n < c + 1 + eps, so it sits in a cell up to c + 1 and guide[c + 2] counts it).
        lo = guide[np.maximum(cell - 1, 0)]
        hi = guide[np.minimum(cell + 2, n + 1)]
        span = hi - lo
        idx = lo.copy()
        last = n - 1
        for _ in range(int(np.minimum(span, self.MAX_STEPS).max(initial=0))):
            idx += (idx < hi) & (cdf[np.minimum(idx, last)] <= u)
        wide = span > self.MAX_STEPS
        if wide.any():
            idx[wide] = cdf.searchsorted(u[wide], side="right")
        return idx
