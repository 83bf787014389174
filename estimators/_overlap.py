"""The mini-batch loop over dense data with each step's batch inertia measured on a
second thread.

A step's batch inertia (exact squared distances of the batch to the centers it was
labelled with) feeds only the early-stopping rule; nothing in the next step needs it. So
while a helper thread measures step t, the calling thread already takes step t + 1. When
the rule then says that step t was the last, step t + 1 is undone: it wrote its centers
to a third buffer, and the state it changed (the random generator, the weight seen per
center, the reassignment counter) is put back from a copy taken before it. Results, step
count, progress events and the random generator's final state are those of the
one-thread loop, to the bit.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K


def _measure(batch, cs: K.Centers, labels, n_parts: int):
    """The batch inertia (unit weights); uses the batch as scratch space."""
    return K.ordered_sum(K.sq_dist_to_assigned(batch, cs, labels, overwrite=True), n_parts)


def descend_overlapped(est, X, centers, rng, sampler, stopper, reporter, n_steps, pool):
    """Run up to ``n_steps`` steps of ``est`` on dense X; returns (centers, steps taken)."""
    b = est._batch_size
    ones = np.ones(b, dtype=X.dtype)
    # Centers rotate through three buffers: the helper reads step t's while step t + 1
    # reads the next ones and writes the third.
    buffers = [centers, np.empty_like(centers), np.empty_like(centers)]
    batches = [np.empty((b, X.shape[1]), dtype=X.dtype) for _ in range(2)]
    current = 0
    pending = None  # (future of the previous step's inertia, its center shift)
    step = 0
    try:
        while step < n_steps:
            if pending is not None:
                saved = (rng.get_state(), est._center_weight.copy(), est._since_reassign)
            old, new = buffers[current], buffers[(current + 1) % 3]
            rows = sampler.draw(b, rng)
            # mode="clip" (the rows are valid): with out=, "raise" copies the output first.
            batch = X.take(rows, axis=0, out=batches[step % 2], mode="clip")
            reassign = est._due_for_reassignment()
            cs = K.Centers(old)
            labels = K.assign(batch, cs)
            shift = est._apply_batch(batch, ones, old, new, labels, reassign, rng)
            future = pool.submit(_measure, batch, cs, labels, est._n_parts)
            if pending is not None and _record(stopper, reporter, step - 1, b, *pending):
                # The previous step was the last: undo this one.
                future.result()
                rng.set_state(saved[0])
                est._center_weight[:] = saved[1]
                est._since_reassign = saved[2]
                pending = None
                return old, step
            pending = (future, shift)
            current = (current + 1) % 3
            step += 1
        if pending is not None:
            _record(stopper, reporter, step - 1, b, *pending)
            pending = None
        return buffers[current], step
    finally:
        if pending is not None:  # an error or a cancel: let the helper finish with the buffers
            pending[0].exception()


def _record(stopper, reporter, step: int, batch_size: int, future, shift) -> bool:
    """Give step ``step`` (0-based) to the stopping rule and the progress reporter."""
    inertia = future.result()
    stop = stopper.should_stop(step, inertia, shift)
    if reporter.active:
        reporter.step(step + 1, inertia / batch_size, stopper.smoothed)
    return stop
