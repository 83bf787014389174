"""The names scikit-learn-ts documents for its MiniBatchKMeans class (the API contract):
constructor options, each method's option names, and the accessors. Names are facts of
that interface; tests hold the contract in ``schemas/`` to exactly these."""

OPTIONS = [
    "batch_size",
    "compute_labels",
    "init",
    "init_size",
    "max_iter",
    "max_no_improvement",
    "n_clusters",
    "n_init",
    "random_state",
    "reassignment_ratio",
    "tol",
    "verbose",
]

METHOD_PARAMS = {
    "fit": ["sample_weight", "X", "y"],
    "fit_predict": ["sample_weight", "X", "y"],
    "fit_transform": ["sample_weight", "X", "y"],
    "get_feature_names_out": ["input_features"],
    "get_metadata_routing": ["routing"],
    "partial_fit": ["sample_weight", "X", "y"],
    "predict": ["X"],
    "score": ["sample_weight", "X", "y"],
    "set_fit_request": ["sample_weight"],
    "set_output": ["transform"],
    "set_partial_fit_request": ["sample_weight"],
    "set_score_request": ["sample_weight"],
    "transform": ["X"],
}

ACCESSORS = [
    "cluster_centers_",
    "feature_names_in_",
    "inertia_",
    "labels_",
    "n_features_in_",
    "n_iter_",
    "n_steps_",
]
