"""skbridge's own estimators, written in NumPy and usable without the bridge."""

from ._minibatch_kmeans import MiniBatchKMeans
from ._model_format import ModelFormatError
from ._persistence import dump_model, load_model, save_model

__all__ = ["MiniBatchKMeans", "ModelFormatError", "dump_model", "load_model", "save_model"]
