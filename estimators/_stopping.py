"""When to stop a mini-batch k-means fit early.

Batch inertias are noisy, so progress is judged on an exponentially weighted average of
them (weight ``2 b / (n + 1)`` per step, capped at 1), and the fit stops when that average
has not reached a new low for ``patience`` steps, or when the centers moved by at most
``center_tol`` (squared, summed) in one step. The first step is skipped: it measures the
initial centers, not progress.

This is scikit-learn's MiniBatchKMeans early-stopping rule (BSD-3-Clause), followed step
by step, and its ``verbose`` progress lines are kept word for word, so that fits stop at
the same step and print the same lines.
"""

from __future__ import annotations

# Unit roundoff of float64.
UNIT_ROUNDOFF = 2.0**-53


class UncertainStop(Exception):
    """A decision hinged on a difference within the error bound of approximate inertias."""


class EarlyStopping:
    """Stopping rule for one fit of ``n_steps`` steps over ``n_samples`` rows."""

    def __init__(
        self,
        *,
        batch_size: int,
        n_samples: int,
        n_steps: int,
        center_tol: float,
        patience: int | None,
        verbose: bool,
    ) -> None:
        self.batch_size = batch_size
        self.weight = min(batch_size * 2.0 / (n_samples + 1), 1)
        self.n_steps = n_steps
        self.center_tol = center_tol
        self.patience = patience
        self.verbose = verbose
        self.smoothed: float | None = None  # the weighted average of mean batch inertias
        self.first_mean: float | None = None  # step 1's mean, which the average skips
        self._lowest: float | None = None
        self._stalled = 0
        # Bounds on how far the average and the lowest one may be from the values exact
        # batch inertias would give (zero while every inertia given is exact).
        self._smoothed_error = 0.0
        self._lowest_error = 0.0

    def should_stop(
        self, step: int, batch_inertia: float, center_shift: float, error: float | None = None
    ) -> bool:
        """Record step ``step`` (0-based); True when the fit should end after it.

        ``error`` bounds ``|batch_inertia - exact|`` for an approximate inertia. The
        decision is then the exact one, or ``UncertainStop`` is raised when the
        comparison it rests on is closer than the accumulated error bounds.
        """
        mean = batch_inertia / self.batch_size
        shown = step + 1
        if shown == 1:
            self.first_mean = mean
            self._say(f"Minibatch step {shown}/{self.n_steps}: mean batch inertia: {mean}")
            return False
        previous = self.smoothed
        if previous is None:
            self.smoothed = mean
        else:
            self.smoothed = previous * (1 - self.weight) + mean * self.weight
        if error is not None:
            self._track_error(previous, mean, error)
        self._say(
            f"Minibatch step {shown}/{self.n_steps}: mean batch inertia: {mean}, "
            f"ewa inertia: {self.smoothed}"
        )
        if self.center_tol > 0.0 and center_shift <= self.center_tol:
            self._say(f"Converged (small centers change) at step {shown}/{self.n_steps}")
            return True
        if (
            self._smoothed_error
            and self._lowest is not None
            and abs(self.smoothed - self._lowest) <= self._smoothed_error + self._lowest_error
        ):
            raise UncertainStop(f"step {shown}")
        if self._lowest is not None and not self.smoothed < self._lowest:
            self._stalled += 1
        else:
            self._lowest = self.smoothed
            self._lowest_error = self._smoothed_error
            self._stalled = 0
        if self.patience is not None and self._stalled >= self.patience:
            self._say(f"Converged (lack of improvement in inertia) at step {shown}/{self.n_steps}")
            return True
        return False

    def _track_error(self, previous: float | None, mean: float, error: float) -> None:
        """Carry a bound on the batch inertia's error into the bound on the average,
        with room for the roundings of both computations (each a few ulps)."""
        mean_error = error / self.batch_size + 2 * UNIT_ROUNDOFF * abs(mean)
        if previous is None:
            self._smoothed_error = mean_error
            return
        rounding = 8 * UNIT_ROUNDOFF * (abs(previous) + abs(mean) + abs(self.smoothed))
        self._smoothed_error = (
            self._smoothed_error * (1 - self.weight) + mean_error * self.weight + rounding
        )

    def _say(self, line: str) -> None:
        if self.verbose:
            print(line)
