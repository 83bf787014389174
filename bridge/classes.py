"""The estimator classes this server offers, each paired with its wire contract."""

from __future__ import annotations

from typing import Any, NamedTuple

from estimators import MiniBatchKMeans
from schemas import MINIBATCH_KMEANS, ClassContract


class Offered(NamedTuple):
    cls: type[Any]
    contract: ClassContract


# Wire class name -> implementation and contract. Only names listed here can be created.
CLASSES: dict[str, Offered] = {
    MINIBATCH_KMEANS.name: Offered(MiniBatchKMeans, MINIBATCH_KMEANS),
}
