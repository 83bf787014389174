"""The wire contract: the protocol's facts and what each estimator class accepts and returns.

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
from schemas.protocol import DTYPES, ERRORS, OPERATIONS, PROTOCOL_VERSION

# Class name on the wire -> contract.
CONTRACTS: dict[str, ClassContract] = {MINIBATCH_KMEANS.name: MINIBATCH_KMEANS}

__all__ = [
    "CONTRACTS",
    "DTYPES",
    "ERRORS",
    "MINIBATCH_KMEANS",
    "OPERATIONS",
    "PROTOCOL_VERSION",
    "RETURNS",
    "AttributeContract",
    "ClassContract",
    "MethodContract",
    "WireModel",
]
