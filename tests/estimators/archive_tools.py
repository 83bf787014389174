"""Helpers that take a model archive apart and put forged versions of it back together."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np


def members(data: bytes) -> dict[str, bytes]:
    """Every member of an archive, in order, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def manifest_of(data: bytes) -> dict:
    return json.loads(members(data)["manifest.json"])


def build(parts: list[tuple[str, bytes]], compress: frozenset[str] = frozenset()) -> bytes:
    """A zip of ``parts`` in order (duplicates kept), stored unless named in ``compress``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, payload in parts:
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            archive.writestr(zipfile.ZipInfo(name), payload, compress_type=method)
    return out.getvalue()


def forge(
    data: bytes,
    edit=None,
    replace: dict[str, bytes | None] | None = None,
    compress: frozenset[str] = frozenset(),
) -> bytes:
    """The archive with its manifest passed through ``edit`` and members replaced or dropped.

    ``replace`` maps member names to new bytes (added when absent) or None (dropped). The
    manifest's checksums are left as they are, so a test can choose to fix them or not.
    """
    parts = members(data)
    manifest = json.loads(parts["manifest.json"])
    if edit is not None:
        manifest = edit(manifest) or manifest
    parts["manifest.json"] = json.dumps(manifest).encode()
    for name, payload in (replace or {}).items():
        if payload is None:
            parts.pop(name, None)
        else:
            parts[name] = payload
    return build(list(parts.items()), compress)


def npy_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, **kwargs)
    return buffer.getvalue()


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def patch_central_directory(data: bytes, member: str, offset: int, value: bytes) -> bytes:
    """Overwrite bytes at ``offset`` of ``member``'s central directory record."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [info.filename for info in archive.infolist()]
    position = data.index(b"PK\x01\x02")
    for name in names:
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        extra_length = int.from_bytes(data[position + 30 : position + 32], "little")
        comment_length = int.from_bytes(data[position + 32 : position + 34], "little")
        if name == member:
            start = position + offset
            return data[:start] + value + data[start + len(value) :]
        position += 46 + name_length + extra_length + comment_length
    raise KeyError(member)
