"""The skbridge model archive: an uncompressed zip of a JSON manifest and ``.npy`` arrays.

Reading runs no code from the file: the manifest is plain JSON, each array is a ``.npy``
member parsed by NumPy with pickles refused, and every size (archive, members, declared
array shapes) is checked against a byte limit before the memory is spent. The layout and
the checks are described in ``docs/MODEL_FORMAT.md``; this module knows nothing about
estimators, only about the container.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import zipfile
from typing import IO, Any, BinaryIO

import numpy as np

FORMAT_NAME = "skbridge-model"
FORMAT_VERSION = 1
# Versions this reader understands; any change an older reader could misread bumps it.
SUPPORTED_VERSIONS = frozenset({1})
MANIFEST_NAME = "manifest.json"
DEFAULT_MAX_BYTES = 1 << 30
MAX_MANIFEST_BYTES = 8 << 20
MAX_MEMBERS = 256
MAX_NDIM = 8
# Little-endian numbers only: no objects, strings, structured or big-endian types.
ARRAY_DTYPES = frozenset({"<f4", "<f8", "<i4", "<i8", "<u4", "|b1"})
SECTIONS = ("params", "attributes")
MEMBER_PATTERN = re.compile(r"(params|attributes)/[A-Za-z_][A-Za-z0-9_]*(\.key)?\.npy")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps make dumps byte-for-byte repeatable
_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 18


class ModelFormatError(ValueError):
    """A model archive that cannot be written or read; the message says what is wrong."""

    code = "invalid_model"


def quote(value: Any, limit: int = 60) -> str:
    """``repr`` of a value from a file, cut short so a hostile value cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text: str, limit: int = 160) -> str:
    """A message from elsewhere (an exception's), cut short."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def member_name(section: str, name: str, suffix: str = "") -> str:
    """The one member path an array of ``section``/``name`` may have (``suffix``: ``.key``)."""
    return f"{section}/{name}{suffix}.npy"


def declared_nbytes(entry: dict) -> int:
    """Bytes the data of a checked array entry occupies (exact Python integers: no overflow)."""
    return math.prod(entry["shape"]) * np.dtype(entry["dtype"]).itemsize


# --------------------------------------------------------------------------- writing


class ArchiveWriter:
    """Collects arrays, then writes them with their manifest as one stored zip."""

    def __init__(self) -> None:
        self._members: dict[str, bytes] = {}

    def add_array(self, member: str, array: np.ndarray) -> dict:
        """Store ``array`` as ``member``; returns its manifest entry."""
        if array.dtype.hasobject:
            raise ModelFormatError(f"{member}: object arrays cannot be stored")
        little = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
        if little.dtype.str not in ARRAY_DTYPES:
            raise ModelFormatError(
                f"{member}: dtype {array.dtype} cannot be stored; "
                f"allowed: {', '.join(sorted(ARRAY_DTYPES))}"
            )
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, little, version=(1, 0), allow_pickle=False)
        data = buffer.getvalue()
        self._members[member] = data
        return {
            "type": "array",
            "member": member,
            "dtype": little.dtype.str,
            "shape": list(little.shape),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def finish(self, manifest: dict) -> bytes:
        try:
            text = json.dumps(manifest, indent=1, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ModelFormatError(f"the manifest is not plain JSON: {exc}") from None
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
            members = [(MANIFEST_NAME, text.encode("utf-8")), *self._members.items()]
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        return out.getvalue()


# --------------------------------------------------------------------------- reading


def _reject_constant(token: str):
    raise ModelFormatError(f"manifest.json: {token} is not valid JSON")


def _unique_keys(pairs: list) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            # Readers disagree on which duplicate wins; refuse rather than guess.
            raise ModelFormatError(f"manifest.json: key {quote(key)} appears twice")
        result[key] = value
    return result


def parse_manifest(data: bytes) -> dict:
    """The manifest's JSON object: strict JSON (no NaN, no duplicate keys), UTF-8."""
    try:
        manifest = json.loads(
            data.decode("utf-8"),
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except ModelFormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(f"manifest.json is not valid JSON: {clip(str(exc))}") from None
    if not isinstance(manifest, dict):
        raise ModelFormatError("manifest.json must hold a JSON object")
    return manifest


def _open_source(source, max_bytes: int) -> tuple[BinaryIO, bool]:
    """A seekable binary stream over ``source`` of at most ``max_bytes``; True if we own it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > max_bytes:
            raise ModelFormatError(
                f"the archive has {len(source)} bytes, over max_bytes={max_bytes}"
            )
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        size = os.stat(source).st_size
        if size > max_bytes:
            raise ModelFormatError(f"the archive has {size} bytes, over max_bytes={max_bytes}")
        return open(source, "rb"), True  # noqa: SIM115 - closed by the Archive
    if not hasattr(source, "read"):
        raise TypeError(f"expected bytes, a path or a binary file, got {type(source).__name__}")
    if getattr(source, "seekable", lambda: False)():
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
        if size > max_bytes:
            raise ModelFormatError(f"the archive has {size} bytes, over max_bytes={max_bytes}")
        if start == 0:
            return source, False
    data = source.read(max_bytes + 1)
    if not isinstance(data, bytes):
        raise TypeError("the file must be opened in binary mode")
    if len(data) > max_bytes:
        raise ModelFormatError(f"the archive is over max_bytes={max_bytes}")
    return io.BytesIO(data), True


class Archive:
    """An opened model archive whose directory has been checked; use as a context manager."""

    def __init__(self, source, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._stream, self._owned = _open_source(source, max_bytes)
        try:
            self._zip = self._open_zip()
            self._infos = self._check_directory()
            self.manifest = parse_manifest(self._read_member(MANIFEST_NAME))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        if self._owned:
            self._stream.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _open_zip(self) -> zipfile.ZipFile:
        if self._stream.read(4) != _ZIP_MAGIC:
            raise ModelFormatError("not a skbridge model archive: no zip signature at the start")
        self._stream.seek(0)
        try:
            return zipfile.ZipFile(self._stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFormatError(f"damaged or truncated archive: {clip(str(exc))}") from None

    def _check_directory(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ModelFormatError(f"the archive has {len(infos)} members, over {MAX_MEMBERS}")
        if not infos or infos[0].filename != MANIFEST_NAME:
            raise ModelFormatError(f"the archive's first member must be {MANIFEST_NAME}")
        by_name: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if name != MANIFEST_NAME and not MEMBER_PATTERN.fullmatch(name):
                raise ModelFormatError(f"member name {quote(name)} is not allowed")
            if name in by_name:
                raise ModelFormatError(f"member {quote(name)} appears twice")
            if info.compress_type != zipfile.ZIP_STORED:
                # Members are stored as they are: nothing to inflate, so no zip bomb.
                raise ModelFormatError(f"member {name} is compressed; only stored members allowed")
            if info.flag_bits & 0x1:
                raise ModelFormatError(f"member {name} is encrypted")
            if info.file_size != info.compress_size:
                raise ModelFormatError(f"member {name} declares inconsistent sizes")
            total += info.file_size
            if total > self.max_bytes:
                raise ModelFormatError(
                    f"the members declare more than max_bytes={self.max_bytes} bytes in all"
                )
            by_name[name] = info
        if by_name[MANIFEST_NAME].file_size > MAX_MANIFEST_BYTES:
            raise ModelFormatError(f"{MANIFEST_NAME} is over {MAX_MANIFEST_BYTES} bytes")
        return by_name

    def _read_member(self, name: str) -> bytes:
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFormatError(f"member {name} is damaged: {clip(str(exc))}") from None

    def check_arrays(self, entries: list[tuple[str, dict]]) -> None:
        """Check every array entry, before any data is read.

        ``entries`` pairs each manifest entry with the only member name it may have. The
        declared sizes must fit ``max_bytes`` together, and the archive must hold exactly
        these members besides the manifest.
        """
        total = 0
        for expected, entry in entries:
            check_array_entry(entry, expected)
            total += declared_nbytes(entry)
            if total > self.max_bytes:
                raise ModelFormatError(
                    f"the arrays declare more than max_bytes={self.max_bytes} bytes in all"
                )
        declared = {expected for expected, _ in entries}
        if len(declared) != len(entries):
            raise ModelFormatError("two manifest entries name the same member")
        present = set(self._infos) - {MANIFEST_NAME}
        if present - declared:
            raise ModelFormatError(f"unexpected members: {quote(sorted(present - declared))}")
        if declared - present:
            raise ModelFormatError(f"missing members: {quote(sorted(declared - present))}")

    def read_array(self, entry: dict) -> np.ndarray:
        """The array of a checked entry, verified against its checksum and its header."""
        member = entry["member"]
        self._verify_checksum(member, entry["sha256"])
        try:
            with self._zip.open(member) as stream:
                check_npy_header(stream, entry, self._infos[member].file_size)
            with self._zip.open(member) as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
        except ModelFormatError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFormatError(f"member {member} is damaged: {clip(str(exc))}") from None
        if not array.flags.writeable:
            array = array.copy()
        return array

    def _verify_checksum(self, member: str, sha256: str) -> None:
        digest = hashlib.sha256()
        try:
            with self._zip.open(member) as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFormatError(f"member {member} is damaged: {clip(str(exc))}") from None
        if digest.hexdigest() != sha256:
            raise ModelFormatError(f"member {member} does not match its SHA-256 checksum")


_ENTRY_KEYS = {"type", "member", "dtype", "shape", "sha256"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_array_entry(entry: Any, expected_member: str) -> None:
    """A manifest array entry's structure: its member, dtype, shape and checksum fields."""
    where = expected_member
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS or entry["type"] != "array":
        raise ModelFormatError(f"{where}: an array entry needs exactly {sorted(_ENTRY_KEYS)}")
    if entry["member"] != expected_member:
        raise ModelFormatError(
            f"{where}: the entry names member {quote(entry['member'])}, not {expected_member}"
        )
    if entry["dtype"] not in ARRAY_DTYPES:
        raise ModelFormatError(
            f"{where}: dtype {quote(entry['dtype'])} is not allowed; "
            f"allowed: {', '.join(sorted(ARRAY_DTYPES))}"
        )
    shape = entry["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise ModelFormatError(f"{where}: shape {quote(shape)} is not a list of sizes")
    if not isinstance(entry["sha256"], str) or not _SHA256.fullmatch(entry["sha256"]):
        raise ModelFormatError(f"{where}: sha256 must be 64 lowercase hex digits")


def check_npy_header(stream: IO[bytes], entry: dict, member_size: int) -> None:
    """The ``.npy`` header must agree with the manifest and account for every byte."""
    member = entry["member"]
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream)
        else:
            raise ModelFormatError(f"member {member}: .npy version {version} is not supported")
        header_size = stream.tell()
    except ModelFormatError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ModelFormatError(
            f"member {member} is not a valid .npy file: {clip(str(exc))}"
        ) from None
    if dtype.hasobject:
        raise ModelFormatError(f"member {member} holds Python objects (a pickle); refused")
    if dtype.str != entry["dtype"]:
        raise ModelFormatError(
            f"member {member}: the .npy header says dtype {dtype.str}, "
            f"the manifest {entry['dtype']}"
        )
    if list(shape) != entry["shape"]:
        raise ModelFormatError(
            f"member {member}: the .npy header says shape {quote(list(shape))}, "
            f"the manifest {quote(entry['shape'])}"
        )
    if fortran:
        raise ModelFormatError(f"member {member}: Fortran order is not allowed")
    if header_size + declared_nbytes(entry) != member_size:
        raise ModelFormatError(f"member {member}: its size does not match its shape and dtype")
