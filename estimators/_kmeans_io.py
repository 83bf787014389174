"""MiniBatchKMeans's part in the model format, and its exports to scikit-learn and ONNX.

The spec below lists every attribute the estimator may hold, private ones included: the
counts per center, the samples since the last reassignment check, the generator used by
``partial_fit``, the summation layout (``_n_parts``). Restoring all of them is what makes
a loaded model's later ``partial_fit`` calls give bit-identical results to the original's.
"""

from __future__ import annotations

import numpy as np

from ._model_format import ModelFormatError
from ._model_values import slot
from ._persistence import ModelSpec, PersistenceMixin

_FLOATS = frozenset({"<f4", "<f8"})
_NUMBER = ("int", "float")

_PARAMS = {
    "n_clusters": slot("int"),
    "init": slot("str", "array", dtypes=_FLOATS | {"<i4", "<i8"}, ndim=2),
    "max_iter": slot("int"),
    "batch_size": slot("int"),
    "verbose": slot("int", "bool"),
    "compute_labels": slot("bool"),
    "random_state": slot("none", "int", "random_state"),
    "tol": slot(*_NUMBER),
    "max_no_improvement": slot("none", "int"),
    "init_size": slot("none", "int"),
    "n_init": slot("str", "int"),
    "reassignment_ratio": slot(*_NUMBER),
}

_ATTRIBUTES = {
    "n_features_in_": slot("int", low=1),
    "feature_names_in_": slot("str_array"),
    "cluster_centers_": slot("array", dtypes=_FLOATS, ndim=2),
    "labels_": slot("array", dtypes=frozenset({"<i4"}), ndim=1),
    "inertia_": slot("float"),
    "n_iter_": slot("int", low=0),
    "n_steps_": slot("int", low=0),
    "_n_features_out": slot("int", low=1),
    "_center_weight": slot("array", dtypes=_FLOATS, ndim=1),
    "_since_reassign": slot("int", low=0),
    "_tol": slot(*_NUMBER),
    # Bounded: the inertia sum loops over this many parts in Python.
    "_n_parts": slot("int", low=1, high=4096),
    "_n_init": slot("int", low=1),
    "_batch_size": slot("int", low=1),
    "_init_size": slot("int", low=1),
    "_rng": slot("random_state", "param_ref", ref="random_state"),
    "_sklearn_output_config": slot("str_map"),
}

# Attributes that describe the centers: present with them, absent without them.
_WITH_CENTERS = {"_center_weight", "_since_reassign", "_n_features_out", "n_features_in_"}
_ONLY_WITH_CENTERS = {"labels_", "inertia_", "n_iter_", "_center_weight", "_n_features_out"}
_OUTPUT_KEYS = {"transform"}
_OUTPUT_VALUES = {"default", "pandas", "polars"}


def _check_state(model) -> None:
    """Refuse attribute combinations a fit could not have produced."""
    state = vars(model)
    if "cluster_centers_" in state:
        missing = sorted(_WITH_CENTERS - set(state))
        if missing:
            raise ModelFormatError(f"attributes: cluster_centers_ comes without {missing}")
        centers = state["cluster_centers_"]
        expected = (model.n_clusters, state["n_features_in_"])
        if centers.shape != expected:
            raise ModelFormatError(
                f"attributes.cluster_centers_: shape {centers.shape}, expected {expected} "
                "(n_clusters, n_features_in_)"
            )
        weights = state["_center_weight"]
        if weights.shape != (model.n_clusters,) or weights.dtype != centers.dtype:
            raise ModelFormatError(
                "attributes._center_weight must have one value per center, in the centers' dtype"
            )
        if state["_n_features_out"] != model.n_clusters:
            raise ModelFormatError("attributes._n_features_out must equal n_clusters")
        labels = state.get("labels_")
        if (
            labels is not None
            and labels.size
            and not (0 <= labels.min() and labels.max() < model.n_clusters)
        ):
            raise ModelFormatError("attributes.labels_ holds a label outside [0, n_clusters)")
    elif _ONLY_WITH_CENTERS & set(state):
        present = sorted(_ONLY_WITH_CENTERS & set(state))
        raise ModelFormatError(f"attributes: {present} present without cluster_centers_")
    names = state.get("feature_names_in_")
    if names is not None and len(names) != state.get("n_features_in_"):
        raise ModelFormatError("attributes.feature_names_in_ must name n_features_in_ features")
    config = state.get("_sklearn_output_config", {})
    if not set(config) <= _OUTPUT_KEYS or not set(config.values()) <= _OUTPUT_VALUES:
        raise ModelFormatError("attributes._sklearn_output_config holds an unknown setting")


# Our attribute name -> scikit-learn's, for the state its partial_fit continues from.
_SKLEARN_NAMES = {
    "cluster_centers_": "cluster_centers_",
    "labels_": "labels_",
    "inertia_": "inertia_",
    "n_iter_": "n_iter_",
    "n_steps_": "n_steps_",
    "n_features_in_": "n_features_in_",
    "feature_names_in_": "feature_names_in_",
    "_n_features_out": "_n_features_out",
    "_center_weight": "_counts",
    "_since_reassign": "_n_since_last_reassign",
    "_n_parts": "_n_threads",  # sets the inertia's summation layout, as ours does
    "_tol": "_tol",
    "_n_init": "_n_init",
    "_batch_size": "_batch_size",
    "_init_size": "_init_size",
    "_sklearn_output_config": "_sklearn_output_config",
}


def _copy_rng(rng: np.random.RandomState) -> np.random.RandomState:
    copy = np.random.RandomState(0)
    copy.set_state(rng.get_state())
    return copy


class KMeansIO(PersistenceMixin):
    """``save``/``load`` plus ``to_sklearn`` and ``to_onnx`` for MiniBatchKMeans."""

    _model_spec = ModelSpec(params=_PARAMS, attributes=_ATTRIBUTES, check=_check_state)

    def to_sklearn(self):
        """An equivalent ``sklearn.cluster.MiniBatchKMeans``, sharing no state with this one.

        Fitted attributes are copied over, including the state ``partial_fit`` continues
        from, so the copy predicts, transforms and scores as this model does.

        Examples
        --------
        >>> import numpy as np
        >>> from estimators import MiniBatchKMeans
        >>> X = np.array([[0.0, 0], [0, 1], [5, 5], [5, 6]])
        >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, n_init=1).fit(X)
        >>> type(km.to_sklearn()).__module__
        'sklearn.cluster._kmeans'
        >>> bool((km.to_sklearn().predict(X) == km.predict(X)).all())
        True
        """
        from sklearn.cluster import MiniBatchKMeans as Reference

        params = self.get_params(deep=False)
        ours_rng = params["random_state"]
        if isinstance(ours_rng, np.random.RandomState):
            params["random_state"] = _copy_rng(ours_rng)
        if isinstance(params["init"], np.ndarray):
            params["init"] = params["init"].copy()
        reference = Reference(**params)
        state = vars(self)
        for ours, theirs in _SKLEARN_NAMES.items():
            if ours in state:
                value = state[ours]
                setattr(reference, theirs, value.copy() if hasattr(value, "copy") else value)
        if "_rng" in state:
            shared = state["_rng"] is ours_rng
            reference._random_state = params["random_state"] if shared else _copy_rng(state["_rng"])
        return reference

    def to_onnx(self, *, target_opset: int | None = None):
        """The fitted model as an ONNX graph (``onnx.ModelProto``), through skl2onnx.

        Input ``X`` (n, n_features) in the centers' dtype; outputs ``label`` (int64) and
        ``scores`` (the distances ``transform`` returns). Needs the optional extra:
        ``pip install "skbridge[onnx]"``. Serialize with ``.SerializeToString()``.
        """
        try:
            from skl2onnx import convert_sklearn
            from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        except ImportError as exc:
            raise ImportError(
                "to_onnx needs skl2onnx, which comes with the optional extra: "
                'pip install "skbridge[onnx]"'
            ) from exc
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        tensor = DoubleTensorType if self.cluster_centers_.dtype == np.float64 else FloatTensorType
        return convert_sklearn(
            self.to_sklearn(),
            initial_types=[("X", tensor([None, self.n_features_in_]))],
            target_opset=target_opset,
        )
