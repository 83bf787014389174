"""Protocol constants and request-header checks (docs/PROTOCOL.md, sections 2 and 3)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import msgpack

from bridge.errors import ProtocolError, UnknownOp, UnsupportedVersion
from bridge.quoting import clip, quote
from schemas.protocol import MAX_REQUEST_ID, OPERATIONS, PROTOCOL_VERSION

# Every operation of section 3, in document order.
OPS = tuple(OPERATIONS)

INSTANCE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Longest class, method or attribute name accepted; every contract name is far shorter,
# and the bound keeps the messages that echo an unknown name small.
MAX_NAME = 256


def header_unpacker(limits: Any) -> Callable[[bytes | memoryview], Any]:
    """msgpack's decoder with the server's size limits, checked while it parses.

    The limits bound what one header can make the loop do: no map with more entries
    than ``limits.max_map_len`` (there are no more option or parameter names than that),
    no string or array longer than the header may be.
    """
    return functools.partial(
        msgpack.unpackb,
        raw=False,
        strict_map_key=True,
        use_list=True,
        max_map_len=limits.max_map_len,
        max_array_len=limits.max_header_bytes,
        max_str_len=limits.max_header_bytes,
        max_bin_len=limits.max_header_bytes,
        max_ext_len=0,
    )


_DEFAULT_UNPACK = functools.partial(msgpack.unpackb, raw=False, strict_map_key=True, use_list=True)


def unpack_header(
    raw: bytes | memoryview, unpack: Callable[[bytes | memoryview], Any] = _DEFAULT_UNPACK
) -> dict[str, Any]:
    """Decode a header frame into a map, or raise ProtocolError."""
    try:
        header = unpack(raw)
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise ProtocolError(
            f"header is not valid msgpack within the limits: {clip(str(exc))}"
        ) from None
    if not isinstance(header, dict):
        raise ProtocolError(f"header must be a map, got {type(header).__name__}")
    return header


def session_name(header: dict[str, Any], identity: bytes) -> str:
    """The request's session: its ``session`` key, else its connection's routing id."""
    session = header.get("session")
    if session is None:
        return "conn-" + identity.hex()
    if not isinstance(session, str) or not INSTANCE_ID.fullmatch(session):
        raise ProtocolError("'session' must be 1-128 characters from [A-Za-z0-9_.:-]")
    return session


def pack_header(header: dict[str, Any]) -> bytes:
    # A fresh Packer per call: this runs in several threads and Packer is not thread-safe.
    return msgpack.packb(header, use_bin_type=True)


def request_id(header: dict[str, Any]) -> int | None:
    """The request's id if it is usable, else None (the reply then carries id: null)."""
    rid = header.get("id")
    if isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid <= MAX_REQUEST_ID:
        return rid
    return None


_OPS = frozenset(OPS)


def check_request(header: dict[str, Any], rid: int | None) -> str:
    """Validate the envelope of a request whose ``request_id`` is ``rid``; return its op."""
    if rid is None:
        raise ProtocolError(f"'id' must be an integer in 0..2^53-1, got {quote(header.get('id'))}")
    version = header.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise UnsupportedVersion(
            f"protocol version {quote(version)} is not supported; "
            f"this server speaks {PROTOCOL_VERSION}"
        )
    op = header.get("op")
    if not isinstance(op, str):
        raise ProtocolError(f"'op' must be a string, got {quote(op)}")
    if op not in _OPS:
        raise UnknownOp(f"unknown op {quote(op)}; expected one of {', '.join(OPS)}")
    return op


def require_str(header: dict[str, Any], key: str) -> str:
    """A name-valued key (class, method, attribute): a string of at most MAX_NAME."""
    value = header.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"'{key}' must be a string, got {quote(value)}")
    if len(value) > MAX_NAME:
        raise ProtocolError(
            f"'{key}' must be at most {MAX_NAME} characters, got {len(value)}: {quote(value)}"
        )
    return value


def require_map(header: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional map-valued key (absent means empty)."""
    value = header.get(key, {})
    if not isinstance(value, dict):
        raise ProtocolError(f"'{key}' must be a map, got {type(value).__name__}")
    return value


def require_id(header: dict[str, Any], key: str) -> str:
    """A client-chosen id (instance, dataset): 1-128 characters from [A-Za-z0-9_.:-]."""
    value = header.get(key)
    if not isinstance(value, str) or not INSTANCE_ID.fullmatch(value):
        raise ProtocolError(
            f"'{key}' must be 1-128 characters from [A-Za-z0-9_.:-], got {quote(value)}"
        )
    return value


def require_instance_id(header: dict[str, Any]) -> str:
    value = require_str(header, "instance")
    if not INSTANCE_ID.fullmatch(value):
        raise ProtocolError(
            f"instance id {quote(value)} must be 1-128 characters from [A-Za-z0-9_.:-]"
        )
    return value


# Types of values that go into a header as they are (numpy scalars and arrays go through
# the Encoder).
PLAIN_TYPES = frozenset([type(None), bool, int, float, str])


def success(rid: int, result: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": rid, "ok": True, "result": result}


def failure(rid: int | None, error: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": rid, "ok": False, "error": error}
