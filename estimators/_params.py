"""Checks of constructor options and sample weights, with scikit-learn's wording.

The rules and the error texts follow scikit-learn's parameter validation and
``_check_sample_weight`` (BSD-3-Clause), so that a bad option or weight raises the same
exception type with the same message from our estimator as from scikit-learn's. They are
written here instead of imported because scikit-learn keeps those helpers private.
"""

from __future__ import annotations

import math
from numbers import Integral, Number

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import check_array


class InvalidParameterError(ValueError, TypeError):
    """An option has the wrong type or value (a ValueError and a TypeError, as in sklearn)."""


def _type_name(t: type) -> str:
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


class Interval:
    """Numbers of ``kind`` (Integral or Real) between ``left`` and ``right`` (None: unbounded)."""

    def __init__(self, kind, left, right, closed: str):
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def accepts(self, value) -> bool:
        if not isinstance(value, self.kind):
            return False
        if not isinstance(value, Integral) and math.isnan(value):
            return False
        low = -math.inf if self.left is None else self.left
        high = math.inf if self.right is None else self.right
        below = value < low if self.closed in ("left", "both") else value <= low
        above = value > high if self.closed in ("right", "both") else value >= high
        return not below and not above

    def __str__(self) -> str:
        real = self.kind is not Integral
        left = "-inf" if self.left is None else float(self.left) if real else self.left
        right = "inf" if self.right is None else float(self.right) if real else self.right
        opening = "[" if self.closed in ("left", "both") else "("
        closing = "]" if self.closed in ("right", "both") else ")"
        return f"{'a float' if real else 'an int'} in the range {opening}{left}, {right}{closing}"


class InstanceOf:
    def __init__(self, kind: type):
        self.kind = kind

    def accepts(self, value) -> bool:
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return f"an instance of {_type_name(self.kind)!r}"


class OneOf:
    """One string out of ``options`` (a set, listed in its own iteration order)."""

    def __init__(self, options: set):
        self.options = options

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(repr(o) for o in self.options)}}}"


class _Fixed:
    def __init__(self, test, text: str):
        self.test, self.text = test, text

    def accepts(self, value) -> bool:
        return self.test(value)

    def __str__(self) -> str:
        return self.text


def _array_like(value) -> bool:
    if sp.issparse(value):
        return False
    shaped = hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")
    return shaped and not np.isscalar(value)


NONE = _Fixed(lambda v: v is None, "None")
CALLABLE = _Fixed(callable, "a callable")
ARRAY_LIKE = _Fixed(_array_like, "an array-like")
BOOLEAN = [InstanceOf(bool), InstanceOf(np.bool_)]
VERBOSE = [Interval(Integral, 0, None, "left"), *BOOLEAN]
RANDOM_STATE = [Interval(Integral, 0, 2**32 - 1, "both"), InstanceOf(np.random.RandomState), NONE]


def _listed(constraints) -> str:
    texts = [str(c) for c in constraints]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"


def check_params(estimator, constraints: dict) -> None:
    """Raise InvalidParameterError for the first option that meets none of its constraints.

    ``constraints`` maps an option name to a list of constraints; a list entry that is
    itself a list (BOOLEAN, VERBOSE, RANDOM_STATE) reads as one constraint in messages.
    Skipped when scikit-learn's ``skip_parameter_validation`` setting is on, as there.
    """
    if get_config().get("skip_parameter_validation", False):
        return
    for name, allowed in constraints.items():
        value = getattr(estimator, name)
        if any(_accepts(c, value) for c in allowed):
            continue
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(estimator).__name__} must be "
            f"{_listed([_listed(c) if isinstance(c, list) else c for c in allowed])}. "
            f"Got {value!r} instead."
        )


def _accepts(constraint, value) -> bool:
    if isinstance(constraint, list):
        return any(c.accepts(value) for c in constraint)
    return constraint.accepts(value)


def check_sample_weight(sample_weight, n_samples: int, dtype) -> np.ndarray:
    """(n_samples,) C-contiguous weights of ``dtype``; None means all ones, a number repeats.

    Raises ValueError for a weight array of the wrong shape or with all weights zero, and
    check_array's errors (NaN, inf, strings) for the rest. Negative weights are allowed.
    """
    if sample_weight is None:
        weights = np.ones(n_samples, dtype=dtype)
    elif isinstance(sample_weight, Number):
        weights = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        weights = check_array(
            sample_weight,
            accept_sparse=False,
            ensure_2d=False,
            dtype=dtype,
            order="C",
            input_name="sample_weight",
        )
        if weights.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {weights.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n_samples}."
            )
        if weights.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!")
    if not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights
