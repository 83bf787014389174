"""The wire contract: what each estimator class accepts and returns over the bridge.

This package imports no estimator code; ``bridge`` pairs these contracts with classes.
"""

from schemas.contract import (
    RETURNS,
    AttributeContract,
    ClassContract,
    MethodContract,
    WireModel,
)
from schemas.minibatch_kmeans import CONTRACT as MINIBATCH_KMEANS

PROTOCOL_VERSION = 1

# Class name on the wire -> contract.
CONTRACTS: dict[str, ClassContract] = {MINIBATCH_KMEANS.name: MINIBATCH_KMEANS}

__all__ = [
    "CONTRACTS",
    "MINIBATCH_KMEANS",
    "PROTOCOL_VERSION",
    "RETURNS",
    "AttributeContract",
    "ClassContract",
    "MethodContract",
    "WireModel",
]
