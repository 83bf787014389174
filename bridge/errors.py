"""Error hierarchy shared by the server and the Python client (PROTOCOL.md section 4).

Each class carries a stable machine ``code``; the server turns an instance into an error
reply and the client turns the reply back into the same class.
"""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.protocol import ERRORS

__all__ = [
    "ERROR_CODES",
    "BridgeError",
    "Cancelled",
    "DuplicateInstance",
    "EstimatorError",
    "InternalError",
    "InvalidParams",
    "MissingDependency",
    "NotFitted",
    "ProtocolError",
    "ResourceExhausted",
    "UnknownAttribute",
    "UnknownClass",
    "UnknownInstance",
    "UnknownMethod",
    "UnknownOp",
    "UnsupportedVersion",
    "error_class",
]


class BridgeError(Exception):
    """Base of every bridge error. ``code`` is the stable wire code."""

    code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        traceback: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.traceback = traceback
        if code is not None:  # a code this side does not know, e.g. from a newer server
            self.code = code  # type: ignore[misc]

    def to_wire(self, *, debug: bool = False) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        if debug and self.traceback:
            error["traceback"] = self.traceback
        return error


class ProtocolError(BridgeError):
    code = "protocol_error"


class UnsupportedVersion(BridgeError):
    code = "unsupported_version"


class UnknownOp(BridgeError):
    code = "unknown_op"


class UnknownClass(BridgeError):
    code = "unknown_class"


class DuplicateInstance(BridgeError):
    code = "duplicate_instance"


class UnknownInstance(BridgeError):
    code = "unknown_instance"


class UnknownMethod(BridgeError):
    code = "unknown_method"


class UnknownAttribute(BridgeError):
    code = "unknown_attribute"


class InvalidParams(BridgeError):
    code = "invalid_params"


class NotFitted(BridgeError):
    code = "not_fitted"


class EstimatorError(BridgeError):
    code = "estimator_error"


class MissingDependency(BridgeError):
    code = "missing_dependency"


class Cancelled(BridgeError):
    code = "cancelled"


class ResourceExhausted(BridgeError):
    code = "resource_exhausted"


class InternalError(BridgeError):
    code = "internal"


# The named classes above, by code. Every code of the contract has a class: those this
# side does not raise by name get one made here, so a new code in schemas/ is usable at once.
_NAMED = {cls.code: cls for cls in BridgeError.__subclasses__()}
_unknown = set(_NAMED) - set(ERRORS)
if _unknown:  # a class whose code the contract does not declare is a bug here
    raise ImportError(f"error classes with codes missing from schemas.protocol: {_unknown}")


def _class_for(code: str) -> type[BridgeError]:
    named = _NAMED.get(code)
    if named is not None:
        return named
    name = "".join(part.capitalize() for part in code.split("_"))
    return type(name, (BridgeError,), {"code": code, "__module__": __name__})


# The wire codes, in the order of the PROTOCOL.md table.
ERROR_CODES: tuple[str, ...] = tuple(ERRORS)
_BY_CODE = {code: _class_for(code) for code in ERRORS}


def error_class(code: str) -> type[BridgeError]:
    """The class for a wire code; BridgeError itself for codes this side does not know."""
    return _BY_CODE.get(code, BridgeError)
