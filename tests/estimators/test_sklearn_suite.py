"""scikit-learn's own k-means tests, run against our MiniBatchKMeans.

``sklearn/cluster/tests/test_k_means.py`` ships inside the installed scikit-learn. It is
loaded here under another module name while ``sklearn.cluster.MiniBatchKMeans`` names our
class, so every ``MiniBatchKMeans`` in it (test bodies and parametrize lists alike) is
ours. Each test that involves MiniBatchKMeans is collected from this module, with the
parameter sets that pick scikit-learn's KMeans left out (KMeans is not ours to test).

Tests that cannot apply are listed in NOT_APPLICABLE with the reason; a test that
mentions MiniBatchKMeans and is neither collected nor listed fails
``test_every_minibatch_test_is_accounted_for``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import types
from pathlib import Path

import numpy as np
import pytest
import sklearn.cluster
from _pytest.mark.structures import ParameterSet

from estimators import MiniBatchKMeans

NOT_APPLICABLE = {
    "test_minibatch_update_consistency": (
        "calls scikit-learn's private _mini_batch_step and _labels_inertia kernels "
        "directly; our update and labelling kernels are compared with them through "
        "whole fits in test_parity.py (dense and CSR, float32 and float64); the same "
        "dense/CSR consistency is checked on our step in test_kernels.py"
    ),
    "test_minibatch_reassign": (
        "drives scikit-learn's private _mini_batch_step with reassignment_ratio=1 and "
        "1e-15; the same two checks run on our step in test_kernels.py"
    ),
}


def _load_suite() -> types.ModuleType:
    path = Path(sklearn.cluster.__file__).parent / "tests" / "test_k_means.py"
    spec = importlib.util.spec_from_file_location("_sklearn_k_means_suite", path)
    module = importlib.util.module_from_spec(spec)
    original = sklearn.cluster.MiniBatchKMeans
    sklearn.cluster.MiniBatchKMeans = MiniBatchKMeans
    try:
        spec.loader.exec_module(module)
    finally:
        sklearn.cluster.MiniBatchKMeans = original
    assert module.MiniBatchKMeans is MiniBatchKMeans
    return module


SUITE = _load_suite()


def _values(param) -> tuple:
    if isinstance(param, ParameterSet):
        return tuple(param.values)
    return param if isinstance(param, tuple) else (param,)


def _names(param, cls) -> bool:
    return any(value is cls for value in _values(param))


def _only_ours(mark):
    """A parametrize mark without the parameter sets that name scikit-learn's KMeans."""
    if mark.name != "parametrize":
        return mark, False
    names, params = mark.args[0], list(mark.args[1])
    ids = mark.kwargs.get("ids")
    keep = [i for i, p in enumerate(params) if not _names(p, SUITE.KMeans)]
    mentions_ours = any(_names(p, MiniBatchKMeans) for p in params)
    if len(keep) == len(params):
        return mark, mentions_ours
    kwargs = dict(mark.kwargs)
    if isinstance(ids, (list, tuple)):
        kwargs["ids"] = [ids[i] for i in keep]
    filtered = pytest.mark.parametrize(names, [params[i] for i in keep], **kwargs)
    return filtered.mark, mentions_ours


def _involves_ours(func) -> tuple[bool, list]:
    marks = []
    source = inspect.getsource(func)
    involved = "MiniBatchKMeans" in source or "_mini_batch_step" in source
    for mark in getattr(func, "pytestmark", []):
        kept, mentions = _only_ours(mark)
        marks.append(kept)
        involved = involved or mentions
    return involved, marks


MINIBATCH_TESTS = []
for _name, _func in sorted(vars(SUITE).items()):
    if not (_name.startswith("test_") and inspect.isfunction(_func)):
        continue
    _involved, _marks = _involves_ours(_func)
    if not _involved:
        continue
    MINIBATCH_TESTS.append(_name)
    if _name in NOT_APPLICABLE:
        continue
    # A copy of the function (same code and globals) carrying the filtered marks.
    _copy = types.FunctionType(_func.__code__, _func.__globals__, _name, _func.__defaults__)
    _copy.__dict__.update(_func.__dict__)
    _copy.pytestmark = _marks
    globals()[_name] = _copy


def _seeds() -> list[int]:
    # scikit-learn's SKLEARN_TESTS_GLOBAL_RANDOM_SEED: unset means 42, "all" 0-99, "a-b".
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if not value:
        return [42]
    if value == "all":
        return list(range(100))
    low, _, high = value.partition("-")
    return list(range(int(low), int(high or low) + 1))


@pytest.fixture(params=_seeds())
def global_random_seed(request):
    return request.param


# scikit-learn runs the float32 variant only on request; here both always run.
@pytest.fixture(params=[np.float32, np.float64])
def global_dtype(request):
    return request.param


def test_every_minibatch_test_is_accounted_for():
    assert len(MINIBATCH_TESTS) > 20  # the file has 30; far fewer would mean it moved
    assert set(NOT_APPLICABLE) <= set(MINIBATCH_TESTS)
    collected = {name for name in MINIBATCH_TESTS if name in globals()}
    assert collected | set(NOT_APPLICABLE) == set(MINIBATCH_TESTS)
