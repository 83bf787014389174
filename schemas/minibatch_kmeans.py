"""Wire contract of MiniBatchKMeans: constructor options, method parameters, attributes.

Names, defaults and value ranges follow scikit-learn's MiniBatchKMeans exactly; the field
order of :class:`MiniBatchKMeansOptions` is the constructor's parameter order (a test checks
both against the estimator's signature). Rules that depend on the data, such as
``n_samples >= n_clusters``, are left to the estimator.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from schemas.contract import AttributeContract, ClassContract, MethodContract, WireModel
from schemas.kinds import Matrix, Strings, Vector

__all__ = ["CONTRACT", "MiniBatchKMeansOptions"]

# scikit-learn's sentinel for "leave this metadata request as it is".
UNCHANGED = "$UNCHANGED$"


class MiniBatchKMeansOptions(WireModel):
    """Constructor options of MiniBatchKMeans (k-means fitted on random mini-batches)."""

    n_clusters: Annotated[
        int,
        Field(ge=1, description="How many clusters (and centroids) the model looks for."),
    ] = 8
    init: Annotated[
        Literal["k-means++", "random"] | Matrix,
        Field(
            description=(
                "How the starting centroids are chosen. 'k-means++' spreads them out by "
                "sampling points far from the centroids picked so far (greedy variant); "
                "'random' picks n_clusters rows of the data; a matrix of shape "
                "(n_clusters, n_features) gives the starting centroids directly. "
                "scikit-learn also accepts a callable here, but code cannot cross the "
                "bridge, so callables are not available."
            )
        ),
    ] = "k-means++"
    max_iter: Annotated[
        int,
        Field(
            ge=1,
            description=(
                "Upper bound on full passes over the data; fitting stops here even if "
                "the early-stopping rules have not fired."
            ),
        ),
    ] = 100
    batch_size: Annotated[
        int,
        Field(
            ge=1,
            description=(
                "Rows per mini-batch. Larger batches use more cores and give smoother "
                "updates at a higher cost per step."
            ),
        ),
    ] = 1024
    verbose: Annotated[
        Annotated[int, Field(ge=0)] | bool,
        Field(
            description=(
                "How much progress to log; 0 or false is silent. The server sends this "
                "output to its stderr."
            )
        ),
    ] = 0
    compute_labels: Annotated[
        bool,
        Field(
            description=(
                "After the mini-batch updates converge, assign every training row to a "
                "cluster and compute the exact inertia (sets labels_ and inertia_)."
            )
        ),
    ] = True
    random_state: Annotated[
        Annotated[int, Field(ge=0, le=2**32 - 1)] | None,
        Field(
            description=(
                "Seed for initialisation, batch sampling and reassignment. An integer "
                "makes fits reproducible; null draws fresh randomness each time."
            )
        ),
    ] = None
    tol: Annotated[
        float,
        Field(
            ge=0,
            description=(
                "Stop early once the smoothed, variance-normalised movement of the "
                "centroids between batches falls below this value. 0 turns the rule off."
            ),
        ),
    ] = 0.0
    max_no_improvement: Annotated[
        Annotated[int, Field(ge=0)] | None,
        Field(
            description=(
                "Stop early after this many consecutive mini-batches without a better "
                "smoothed inertia. null turns the rule off."
            )
        ),
    ] = 10
    init_size: Annotated[
        Annotated[int, Field(ge=1)] | None,
        Field(
            description=(
                "How many rows to sample for choosing the starting centroids; should "
                "exceed n_clusters. null picks 3 * batch_size, raised to 3 * n_clusters "
                "when that is larger."
            )
        ),
    ] = None
    n_init: Annotated[
        Literal["auto"] | Annotated[int, Field(ge=1)],
        Field(
            description=(
                "How many initialisations to try; the one with the lowest inertia is "
                "kept and only that one is refined. 'auto' means 3 for init='random' and "
                "1 otherwise."
            )
        ),
    ] = "auto"
    reassignment_ratio: Annotated[
        float,
        Field(
            ge=0,
            description=(
                "Centroids whose sample count falls below this fraction of the largest "
                "count are moved to new points. Higher values reassign more eagerly, "
                "which can help quality but slows or destabilises convergence."
            ),
        ),
    ] = 0.01


_X_TRAIN = (
    Matrix,
    Field(description="Training rows, shape (n_samples, n_features); dense or CSR."),
)
_X_NEW = (Matrix, Field(description="Rows to process, shape (n_samples, n_features)."))
_Y = (
    None,
    Field(default=None, description="Ignored; only null is accepted. Kept for API symmetry."),
)
_SAMPLE_WEIGHT = (
    Vector | None,
    Field(
        default=None,
        description=(
            "Per-row weights, shape (n_samples,). null weighs every row equally. Not used "
            "to pick the starting centroids when init is a matrix."
        ),
    ),
)


def _params(name: str, doc: str, **fields: Any) -> type[WireModel]:
    """Build a strict params model with its own title and description."""
    model = create_model(name, __base__=WireModel, __doc__=doc, **fields)
    return model


def _request_params(method: str) -> type[WireModel]:
    title = "".join(part.title() for part in method.split("_"))
    return _params(
        f"MiniBatchKMeansSet{title}Request",
        f"Parameters of set_{method}_request.",
        sample_weight=(
            bool | None | str,
            Field(
                default=UNCHANGED,
                description=(
                    f"How metadata routing treats sample_weight for {method}: true to pass "
                    "it on, false to not pass it, null to raise if a caller supplies it, "
                    "another string to accept it under that alias. The default "
                    f"'{UNCHANGED}' keeps the current setting."
                ),
            ),
        ),
    )


_FIT = _params(
    "MiniBatchKMeansFit",
    "Parameters of fit.",
    X=_X_TRAIN,
    y=_Y,
    sample_weight=_SAMPLE_WEIGHT,
)
_PREDICT = _params("MiniBatchKMeansPredict", "Parameters of predict.", X=_X_NEW)

METHODS: dict[str, MethodContract] = {
    "fit": MethodContract(
        "Learn the centroids from X, one mini-batch at a time. Returns the instance.",
        _FIT,
        "self",
    ),
    "fit_predict": MethodContract(
        "Fit on X, then return the cluster index of each row (int32).",
        _params(
            "MiniBatchKMeansFitPredict",
            "Parameters of fit_predict.",
            X=_X_TRAIN,
            y=_Y,
            sample_weight=_SAMPLE_WEIGHT,
        ),
        "vector",
    ),
    "fit_transform": MethodContract(
        "Fit on X, then return each row's distance to every centroid, shape "
        "(n_samples, n_clusters). A table when set_output chose a table container.",
        _params(
            "MiniBatchKMeansFitTransform",
            "Parameters of fit_transform.",
            X=_X_TRAIN,
            y=_Y,
            sample_weight=_SAMPLE_WEIGHT,
        ),
        "matrix",
    ),
    "partial_fit": MethodContract(
        "Update the centroids with a single mini-batch X (starting them on the first "
        "call). Returns the instance.",
        _params(
            "MiniBatchKMeansPartialFit",
            "Parameters of partial_fit.",
            X=_X_TRAIN,
            y=_Y,
            sample_weight=_SAMPLE_WEIGHT,
        ),
        "self",
    ),
    "predict": MethodContract(
        "Return the index of the nearest centroid for each row of X (int32).",
        _PREDICT,
        "vector",
    ),
    "score": MethodContract(
        "Return minus the (weighted) sum of squared distances from rows of X to their "
        "nearest centroid; higher is better.",
        _params(
            "MiniBatchKMeansScore",
            "Parameters of score.",
            X=_X_NEW,
            y=_Y,
            sample_weight=_SAMPLE_WEIGHT,
        ),
        "number",
    ),
    "transform": MethodContract(
        "Return each row's distance to every centroid, shape (n_samples, n_clusters); "
        "dense even for CSR input. A table when set_output chose a table container.",
        _params("MiniBatchKMeansTransform", "Parameters of transform.", X=_X_NEW),
        "matrix",
    ),
    "get_feature_names_out": MethodContract(
        "Names of the transform output columns: the lower-cased class name followed by "
        "the cluster index.",
        _params(
            "MiniBatchKMeansGetFeatureNamesOut",
            "Parameters of get_feature_names_out.",
            input_features=(
                Strings | None,
                Field(
                    default=None,
                    description=(
                        "Optional input column names; only checked against the names "
                        "seen in fit, they do not change the output."
                    ),
                ),
            ),
        ),
        "strings",
    ),
    "get_metadata_routing": MethodContract(
        "Describe which metadata (sample_weight) each method requests, as a map from "
        "method name to {parameter: request}.",
        _params(
            "MiniBatchKMeansGetMetadataRouting",
            "Parameters of get_metadata_routing.",
            routing=(
                None,
                Field(
                    default=None,
                    description=(
                        "Accepted for scikit-learn-ts compatibility; only null is allowed. "
                        "Current scikit-learn builds the routing from the instance alone."
                    ),
                ),
            ),
        ),
        "object",
    ),
    "set_fit_request": MethodContract(
        "Choose how metadata routing passes sample_weight to fit. Returns the instance.",
        _request_params("fit"),
        "self",
    ),
    "set_partial_fit_request": MethodContract(
        "Choose how metadata routing passes sample_weight to partial_fit. Returns the instance.",
        _request_params("partial_fit"),
        "self",
    ),
    "set_score_request": MethodContract(
        "Choose how metadata routing passes sample_weight to score. Returns the instance.",
        _request_params("score"),
        "self",
    ),
    "set_output": MethodContract(
        "Choose the container that transform and fit_transform return. Returns the instance.",
        _params(
            "MiniBatchKMeansSetOutput",
            "Parameters of set_output.",
            transform=(
                Literal["default", "pandas", "polars"] | None,
                Field(
                    default=None,
                    description=(
                        "'pandas' or 'polars' make transform results travel as tables "
                        "with column names (the server must have that library); "
                        "'default' returns plain matrices; null leaves the setting alone."
                    ),
                ),
            ),
        ),
        "self",
    ),
}

ATTRIBUTES: dict[str, AttributeContract] = {
    "cluster_centers_": AttributeContract(
        "Centroid coordinates, shape (n_clusters, n_features).", {"x-kind": "matrix"}
    ),
    "feature_names_in_": AttributeContract(
        "Column names seen by fit; exists only when X carried string column names.",
        {"x-kind": "strings"},
    ),
    "inertia_": AttributeContract(
        "Sum of (weighted) squared distances of training rows to their centroid. Exact "
        "when compute_labels is true, otherwise a running estimate from the batches.",
        {"type": "number"},
    ),
    "labels_": AttributeContract(
        "Cluster index of each training row; set only when compute_labels is true.",
        {"x-kind": "vector"},
    ),
    "n_features_in_": AttributeContract(
        "Number of columns seen by fit.", {"type": "integer", "minimum": 0}
    ),
    "n_iter_": AttributeContract(
        "Full passes over the data that fit performed.", {"type": "integer", "minimum": 0}
    ),
    "n_steps_": AttributeContract(
        "Mini-batches processed so far.", {"type": "integer", "minimum": 0}
    ),
}

CONTRACT = ClassContract(
    name="MiniBatchKMeans",
    description=(
        "K-means clustering that updates the centroids from small random batches of rows, "
        "trading a little accuracy for much lower time and memory on large data."
    ),
    options=MiniBatchKMeansOptions,
    methods=MappingProxyType(METHODS),
    attributes=MappingProxyType(ATTRIBUTES),
)
