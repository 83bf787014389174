"""The estimator's progress hook, used from Python directly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans as SkMiniBatchKMeans

from estimators import MiniBatchKMeans, progress_callback

from .conftest import StopFit, stop_at_step

X = np.random.default_rng(0).normal(size=(3_000, 5))


@pytest.mark.sklearn_latest  # compares with scikit-learn's own fit
def test_events_per_step_and_identical_results(capsys):
    events: list[dict] = []
    with progress_callback(events.append):
        ours = MiniBatchKMeans(n_clusters=3, random_state=0, batch_size=100, verbose=1).fit(X)
    printed = capsys.readouterr().out
    assert [e["step"] for e in events] == list(range(1, ours.n_steps_ + 1))
    assert all(e["steps"] == 100 * 3_000 // 100 for e in events)
    assert events[0]["ewa_inertia"] is None and events[1]["ewa_inertia"] is not None
    # verbose output is unchanged by the hook: one line per step, as scikit-learn prints.
    assert printed.count("Minibatch step") == ours.n_steps_
    # The hook changes nothing in the result.
    ref = SkMiniBatchKMeans(n_clusters=3, random_state=0, batch_size=100).fit(X)
    assert np.array_equal(ours.cluster_centers_, ref.cluster_centers_)
    ewa = [e["ewa_inertia"] for e in events[1:]]
    assert all(value > 0 for value in ewa)


def test_an_exception_from_the_hook_stops_the_fit():
    with progress_callback(stop_at_step(3)), pytest.raises(StopFit):
        MiniBatchKMeans(n_clusters=3, random_state=0, batch_size=100).fit(X)


def test_no_hook_outside_the_block():
    events: list[dict] = []
    with progress_callback(events.append):
        pass
    MiniBatchKMeans(n_clusters=3, random_state=0).fit(X)
    assert events == []
