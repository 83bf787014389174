"""scikit-learn's own estimator checks, with the expected failures it grants its own
MiniBatchKMeans (sample weights are not equivalent to repeating samples, because batches
are drawn at random)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from estimators import MiniBatchKMeans

EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
}


@parametrize_with_checks(
    # scikit-learn tests its MiniBatchKMeans with these settings to keep checks fast.
    [MiniBatchKMeans(n_init=2, n_clusters=2, max_iter=5, batch_size=10)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
