"""Bad input and options: the same exception types, messages and warnings as scikit-learn."""

import re
import warnings

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans as Reference
from sklearn.exceptions import NotFittedError

from estimators import MiniBatchKMeans

X = np.random.RandomState(0).rand(60, 3)


def outcome(cls, action):
    """(exception type name, message) raised by ``action(cls)``, or None."""
    try:
        action(cls)
    except Exception as exc:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(exc).__name__, str(exc)
    return None


def assert_same_rejection(action):
    ours = outcome(MiniBatchKMeans, action)
    ref = outcome(Reference, action)
    assert ref is not None, "scikit-learn accepted this input; the case is wrong"
    assert ours == ref


BAD_OPTIONS = [
    dict(n_clusters=0),
    dict(n_clusters=2.5),
    dict(n_clusters="3"),
    dict(init="kmeans"),
    dict(init=7),
    dict(max_iter=0),
    dict(batch_size=0),
    dict(batch_size=-5),
    dict(verbose=-1),
    dict(verbose="loud"),
    dict(compute_labels="yes"),
    dict(random_state="seed"),
    dict(tol=-0.1),
    dict(max_no_improvement=-1),
    dict(init_size=0),
    dict(n_init=0),
    dict(n_init="many"),
    dict(reassignment_ratio=-0.5),
    dict(reassignment_ratio=np.inf),
    dict(n_clusters=None),
    dict(n_clusters=np.int64(0)),
    dict(init=None),
    dict(verbose=2.0),
    dict(compute_labels=1),
    dict(random_state=-1),
    dict(random_state=2**33),
    dict(tol=np.nan),
    dict(tol="0.1"),
    dict(max_no_improvement=1.5),
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: "-".join(map(str, o.items())))
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_out_of_range_options_rejected_like_sklearn(options, method):
    assert_same_rejection(lambda cls: getattr(cls(**options), method)(X))


def with_nan():
    bad = X.copy()
    bad[3, 1] = np.nan
    return bad


def with_inf():
    bad = X.copy()
    bad[5, 0] = np.inf
    return bad


BAD_DATA = {
    "nan": lambda cls: cls(n_clusters=2).fit(with_nan()),
    "inf": lambda cls: cls(n_clusters=2).fit(with_inf()),
    "one_dimensional": lambda cls: cls(n_clusters=2).fit(X[:, 0]),
    "three_dimensional": lambda cls: cls(n_clusters=2).fit(X[:, :, None]),
    "empty": lambda cls: cls(n_clusters=2).fit(np.empty((0, 3))),
    "strings": lambda cls: cls(n_clusters=2).fit([["a", "b"], ["c", "d"]]),
    "too_few_samples": lambda cls: cls(n_clusters=61).fit(X),
    "too_few_samples_partial": lambda cls: cls(n_clusters=61).partial_fit(X),
    "init_wrong_rows": lambda cls: cls(n_clusters=3, init=X[:2]).fit(X),
    "init_wrong_cols": lambda cls: cls(n_clusters=2, init=X[:2, :2]).fit(X),
    "init_callable_wrong_shape": lambda cls: cls(
        n_clusters=3, init=lambda data, k, random_state: data[:2]
    ).fit(X),
    "negative_weight": lambda cls: cls(n_clusters=2, random_state=0).fit(
        X, sample_weight=np.r_[-1.0, np.ones(59)]
    ),
    "all_zero_weights": lambda cls: cls(n_clusters=2).fit(X, sample_weight=np.zeros(60)),
    "nan_weight": lambda cls: cls(n_clusters=2).fit(X, sample_weight=np.r_[np.nan, np.ones(59)]),
    "weight_length": lambda cls: cls(n_clusters=2).fit(X, sample_weight=np.ones(59)),
    "weight_2d": lambda cls: cls(n_clusters=2).fit(X, sample_weight=np.ones((60, 2))),
    "predict_unfitted": lambda cls: cls().predict(X),
    "transform_unfitted": lambda cls: cls().transform(X),
    "score_unfitted": lambda cls: cls().score(X),
    "predict_wrong_features": lambda cls: (
        cls(n_clusters=2, random_state=0).fit(X).predict(X[:, :2])
    ),
    "partial_fit_wrong_features": lambda cls: (
        cls(n_clusters=2, random_state=0).partial_fit(X).partial_fit(X[:, :2])
    ),
    "score_weight_length": lambda cls: (
        cls(n_clusters=2, random_state=0).fit(X).score(X, sample_weight=np.ones(3))
    ),
}


# Messages scikit-learn reworded after its oldest release we support.
REWORDED = {"all_zero_weights", "weight_2d"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.sklearn_latest) if case in REWORDED else case
        for case in sorted(BAD_DATA)
    ],
)
def test_bad_data_rejected_like_sklearn(case):
    assert_same_rejection(BAD_DATA[case])


def test_option_errors_are_value_and_type_errors():
    for options in (dict(n_clusters=0), dict(init="kmeans")):
        with pytest.raises(ValueError) as caught:
            MiniBatchKMeans(**options).fit(X)
        assert isinstance(caught.value, TypeError)


def test_accepted_edge_options_like_sklearn():
    # Booleans of either kind, numpy scalars and a RandomState pass the checks there too.
    for options in (
        dict(verbose=False, compute_labels=np.bool_(True)),
        dict(tol=np.float32(0.0), reassignment_ratio=np.float64(0.02)),
        dict(random_state=np.random.RandomState(0), n_init=np.int64(2)),
        dict(max_no_improvement=None, init_size=None),
    ):
        for cls in (MiniBatchKMeans, Reference):
            assert cls(n_clusters=2, **options).fit(X).n_steps_ > 0


def test_skip_parameter_validation_setting_is_honoured():
    import sklearn

    with sklearn.config_context(skip_parameter_validation=True):
        # n_init=0 would be rejected; unchecked, it leaves no candidate to pick.
        for cls in (MiniBatchKMeans, Reference):
            failure = outcome(cls, lambda c: c(n_clusters=2, n_init=0).fit(X))
            assert failure is not None and "parameter of" not in failure[1]


@pytest.mark.sklearn_latest  # compares fits: see test_parity.py
@pytest.mark.parametrize("weight", [2.5, 3, np.float32(0.5)])
def test_scalar_sample_weight_like_sklearn(weight):
    ours = MiniBatchKMeans(n_clusters=3, random_state=0).fit(X, sample_weight=weight)
    ref = Reference(n_clusters=3, random_state=0).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)


def test_unfitted_error_is_not_fitted_error():
    with pytest.raises(NotFittedError, match="MiniBatchKMeans instance is not fitted yet"):
        MiniBatchKMeans().predict(X)


def caught_warnings(action):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        action()
    return [(w.category, str(w.message)) for w in seen]


@pytest.mark.parametrize(
    "options",
    [
        dict(n_clusters=5, init_size=3, random_state=0),
        dict(n_clusters=2, init=X[:2], n_init=3, random_state=0),
    ],
    ids=["init_size_small", "explicit_init_with_n_init"],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_same_warnings_as_sklearn(options, method):
    ours = caught_warnings(lambda: getattr(MiniBatchKMeans(**options), method)(X))
    ref = caught_warnings(lambda: getattr(Reference(**options), method)(X))
    assert ours and ours == ref


@pytest.mark.sklearn_latest  # compares fits: see test_parity.py
def test_all_negative_weights_behave_like_sklearn():
    # Normalising by the (negative) total makes every probability positive: accepted.
    weight = -np.ones(60)
    ours = MiniBatchKMeans(n_clusters=3, random_state=0).fit(X, sample_weight=weight)
    ref = Reference(n_clusters=3, random_state=0).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


def test_dtype_kept_and_ints_converted():
    assert (
        MiniBatchKMeans(n_clusters=2, random_state=0)
        .fit(X.astype(np.float32))
        .cluster_centers_.dtype
        == np.float32
    )
    ints = (X * 100).astype(np.int32)
    assert (
        MiniBatchKMeans(n_clusters=2, random_state=0).fit(ints).cluster_centers_.dtype == np.float64
    )


def test_input_is_never_modified():
    data = X.copy()
    data.setflags(write=False)  # a read-only buffer, as arrays received over the bridge are
    weight = np.linspace(1, 2, 60)
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(data, sample_weight=weight)
    model.partial_fit(data)
    np.testing.assert_array_equal(data, X)
    np.testing.assert_array_equal(weight, np.linspace(1, 2, 60))


def test_error_messages_name_the_value():
    with pytest.raises(ValueError, match=re.escape("n_samples=60 should be >= n_clusters=61.")):
        MiniBatchKMeans(n_clusters=61).fit(X)
