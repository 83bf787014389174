"""The wire protocol's facts: version, operations, error codes, dtypes and envelope.

This module is the one place these are declared. The server (``bridge``) reads them from
here, ``python -m schemas.export`` writes them into ``contract.schema.json`` (from which the
TypeScript client generates its constants, dtype union and error classes) and into the
generated tables of ``docs/PROTOCOL.md``. Adding an operation, an error code or a dtype is
an edit here plus a regeneration.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DTYPES",
    "ERRORS",
    "MAX_REQUEST_ID",
    "OPERATIONS",
    "PROTOCOL_VERSION",
    "SPARSE_DATA_DTYPES",
    "SPARSE_INDEX_DTYPES",
    "ErrorBody",
    "Operation",
    "ReplyHeader",
    "RequestHeader",
    "protocol_json",
]

PROTOCOL_VERSION = 1

# Request ids must survive a round trip through a JavaScript number.
MAX_REQUEST_ID = 2**53 - 1
ID_PATTERN = "^[A-Za-z0-9_.:-]{1,128}$"
SESSION_PATTERN = ID_PATTERN


@dataclass(frozen=True)
class Operation:
    """One request type: what it does, its header keys, and whether it carries arrays."""

    description: str
    # Header keys besides v/id/op, each with a JSON Schema fragment.
    keys: MappingProxyType[str, dict[str, Any]]
    # Whether the request may carry buffer frames (array references in its maps).
    buffers: bool = False


_INSTANCE = {
    "type": "string",
    "pattern": ID_PATTERN,
    "description": "instance id chosen by the client at init",
}


def _keys(**keys: dict[str, Any]) -> MappingProxyType[str, dict[str, Any]]:
    return MappingProxyType(keys)


# Every operation, in the order docs/PROTOCOL.md section 3 documents them.
OPERATIONS: MappingProxyType[str, Operation] = MappingProxyType(
    {
        "ping": Operation("liveness check answered by the socket loop", _keys()),
        "info": Operation("server, protocol and library versions, offered classes", _keys()),
        "instances": Operation("list the live instances", _keys()),
        "init": Operation(
            "create an instance of a class under a client-chosen id",
            _keys(
                **{"class": {"type": "string"}},
                instance=_INSTANCE,
                options={"type": "object"},
            ),
            buffers=True,
        ),
        "call": Operation(
            "call a contract method on an instance",
            _keys(
                instance=_INSTANCE,
                method={"type": "string"},
                params={"type": "object"},
                progress={"type": "boolean", "description": "send interim progress messages"},
                idempotency_key={
                    "type": "string",
                    "pattern": ID_PATTERN,
                    "description": "a repeated key gets the recorded reply, not a second run",
                },
            ),
            buffers=True,
        ),
        "get": Operation(
            "read a fitted attribute of an instance",
            _keys(instance=_INSTANCE, attribute={"type": "string"}),
        ),
        "dispose": Operation(
            "release an instance (or, with `dataset`, a dataset) and its id",
            _keys(instance=_INSTANCE, dataset=_INSTANCE),
        ),
        "cancel": Operation(
            "stop a queued or running call of the same session",
            _keys(target={"type": "integer", "description": "the request id of the call"}),
        ),
        "save": Operation(
            "the instance in the model format (docs/MODEL_FORMAT.md), as bytes",
            _keys(instance=_INSTANCE),
        ),
        "load": Operation(
            "create an instance from model-format bytes",
            _keys(instance=_INSTANCE, model={"x-kind": "vector", "description": "uint8 bytes"}),
            buffers=True,
        ),
        "dataset": Operation(
            "store an array on the server for later calls of this session",
            _keys(dataset=_INSTANCE, data={"x-kind": "matrix"}),
            buffers=True,
        ),
        "datasets": Operation("list the stored datasets", _keys()),
        "stats": Operation("counters, latency percentiles, bytes held and queue depths", _keys()),
        "shutdown": Operation(
            "stop the server",
            _keys(
                token={
                    "type": "string",
                    "description": "the secret the launcher gave the server "
                    "(SKBRIDGE_SHUTDOWN_TOKEN), when it set one",
                }
            ),
        ),
    }
)

# Error code -> one-line meaning, in the order of the PROTOCOL.md table.
ERRORS: MappingProxyType[str, str] = MappingProxyType(
    {
        "protocol_error": (
            "the message cannot be parsed, a key is missing or of the wrong type, "
            "a bad array reference"
        ),
        "unsupported_version": "`v` is not a version this server speaks",
        "unknown_op": "`op` is not an operation listed above",
        "unknown_class": "`init` names a class the server does not offer",
        "duplicate_instance": "`init` with an id that is in use",
        "unknown_instance": "an id that was never created or was disposed",
        "unknown_method": "`call` names a method that is not in the contract",
        "unknown_attribute": "`get` names an attribute that is not in the contract",
        "invalid_params": "options or parameters fail the schema (with `details`)",
        "not_fitted": "a method or attribute that needs a fitted estimator, before fit",
        "estimator_error": (
            "the estimator rejected the data (scikit-learn's message, e.g. "
            "`n_samples=2 should be >= n_clusters=3.`)"
        ),
        "missing_dependency": (
            "a feature needs a package the server lacks (e.g. "
            '`set_output(transform="polars")` without polars)'
        ),
        "cancelled": "the call was cancelled by its client (or its session expired)",
        "invalid_model": "`load` bytes are not a valid model file (the message says why)",
        "forbidden": "this client may not do that (e.g. `shutdown` from a non-admin key)",
        "resource_exhausted": (
            "a server limit would be exceeded (the message names the limit and the value); "
            "nothing already held is lost"
        ),
        "instance_lost": (
            "the process or node holding the instance died (Ray backend); with "
            "`--state-dir` it is restored at its last saved state and the call can be resent"
        ),
        "internal": "a bug in the server; the server keeps serving",
    }
)

# Wire dtype names; every one travels little-endian.
DTYPES: tuple[str, ...] = (
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
)
SPARSE_DATA_DTYPES: tuple[str, ...] = ("float32", "float64")
SPARSE_INDEX_DTYPES: tuple[str, ...] = ("int32", "int64")


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class RequestHeader(_Envelope):
    """The msgpack map in frame 0 of every request; each op adds its own keys."""

    v: int = Field(description="protocol version", ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION)
    id: int = Field(description="request id, echoed by the reply", ge=0, le=MAX_REQUEST_ID)
    op: str = Field(description="the operation", json_schema_extra={"enum": list(OPERATIONS)})
    session: str | None = Field(
        default=None,
        description="the client's session id (owner of the instances it creates, renewed by "
        "every request); without it the connection stands for the session",
        pattern=SESSION_PATTERN,
    )


class ErrorBody(BaseModel):
    """What a failed request gets back under ``error``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    code: str = Field(description="stable machine code", json_schema_extra={"enum": list(ERRORS)})
    message: str = Field(description="what went wrong, naming the field and value")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="invalid_params only: one entry per offending field"
    )
    traceback: str | None = Field(default=None, description="only when the server runs --debug")


class ReplyHeader(BaseModel):
    """The msgpack map in frame 0 of every reply."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: int = Field(description="protocol version")
    id: int | None = Field(description="the request's id; null when it could not be read")
    ok: bool = Field(description="true: `result` is set; false: `error` is set")
    result: Any = Field(default=None, description="the operation's result")
    error: ErrorBody | None = Field(default=None, description="why the request failed")


def protocol_json() -> dict[str, Any]:
    """The protocol section of ``contract.schema.json``."""
    return {
        "version": PROTOCOL_VERSION,
        "maxRequestId": MAX_REQUEST_ID,
        "operations": {
            name: {
                "description": op.description,
                "buffers": op.buffers,
                "keys": {key: dict(schema) for key, schema in op.keys.items()},
            }
            for name, op in OPERATIONS.items()
        },
        "errors": dict(ERRORS),
        "dtypes": list(DTYPES),
        "sparse": {"data": list(SPARSE_DATA_DTYPES), "index": list(SPARSE_INDEX_DTYPES)},
        "envelope": {
            "request": RequestHeader.model_json_schema(),
            "reply": ReplyHeader.model_json_schema(),
        },
    }
