"""skbridge's own estimators, written in NumPy and usable without the bridge."""

from ._minibatch_kmeans import MiniBatchKMeans
from ._model_format import ModelFormatError
from ._persistence import dump_model, load_model, save_model
from ._progress import progress_callback

__all__ = [
    "MiniBatchKMeans",
    "ModelFormatError",
    "dump_model",
    "load_model",
    "progress_callback",
    "save_model",
]
