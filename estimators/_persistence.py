"""Saving estimators to, and loading them from, the skbridge model format.

An estimator class takes part by declaring a ``ModelSpec``: a ``Slot`` for each
constructor option and for each attribute it may hold. Saving writes exactly those (and
refuses an estimator holding anything else, so no state is dropped silently); loading
accepts only a class from the caller's map and sets only the names its spec lists, so
nothing named by the file is looked up, imported or run.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from ._model_format import (
    DEFAULT_MAX_BYTES,
    FORMAT_NAME,
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    Archive,
    ArchiveWriter,
    ModelFormatError,
    clip,
    quote,
)
from ._model_values import Slot, array_entries, decode, encode

_MANIFEST_KEYS = frozenset(
    {"format", "format_version", "estimator", "library_versions", "params", "attributes", "extra"}
)


@dataclass(frozen=True)
class ModelSpec:
    """Everything a class lets the format store: options, attributes, and a final check.

    ``check`` receives the loaded estimator and raises ``ModelFormatError`` when its
    attributes do not fit together (shapes that disagree, a missing companion).
    """

    params: Mapping[str, Slot]
    attributes: Mapping[str, Slot]
    check: Callable[[Any], None] | None = None


def _spec_of(cls: type) -> ModelSpec:
    spec = getattr(cls, "_model_spec", None)
    if not isinstance(spec, ModelSpec):
        raise ModelFormatError(f"{cls.__name__} does not declare a model format spec")
    return spec


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def library_versions() -> dict[str, str]:
    return {
        "skbridge": _version("skbridge"),
        "numpy": np.__version__,
        "scikit-learn": _version("scikit-learn"),
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------- saving


def dump_model(estimator: Any, *, extra: Mapping[str, Any] | None = None) -> bytes:
    """The estimator (fitted or not) as a model archive.

    ``extra`` is any JSON object the caller wants kept with the model (a name, a data
    description); ``load_model`` returns it unchanged. Raises ``ModelFormatError`` when
    the estimator holds something the format cannot store (a callable ``init``, an
    attribute its class's spec does not list).
    """
    spec = _spec_of(type(estimator))
    if extra is not None and not isinstance(extra, Mapping):
        raise ModelFormatError(f"extra must be a JSON object (a dict), got {type(extra).__name__}")
    writer = ArchiveWriter()
    params = estimator.get_params(deep=False)
    encoded_params = {}
    for name, value in params.items():
        if name not in spec.params:
            raise ModelFormatError(f"option {name!r} has no place in the model format")
        encoded_params[name] = encode(value, spec.params[name], "params", name, writer, params)
    encoded_attributes = {}
    for name, value in vars(estimator).items():
        if name in params:
            continue
        if name not in spec.attributes:
            raise ModelFormatError(
                f"attribute {name!r} of {type(estimator).__name__} has no place in the "
                "model format; it would be lost"
            )
        slot = spec.attributes[name]
        encoded_attributes[name] = encode(value, slot, "attributes", name, writer, params)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "library_versions": library_versions(),
        "params": encoded_params,
        "attributes": encoded_attributes,
        "extra": dict(extra) if extra is not None else {},
    }
    return writer.finish(manifest)


def save_model(estimator: Any, target, *, extra: Mapping[str, Any] | None = None) -> None:
    """Write ``dump_model(estimator, extra=extra)`` to a path or a binary file object."""
    data = dump_model(estimator, extra=extra)
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as file:
            file.write(data)
    else:
        target.write(data)


# --------------------------------------------------------------------------- loading


def _check_header(manifest: dict) -> None:
    if manifest.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"not a skbridge model: format is {quote(manifest.get('format'))}, "
            f"expected {FORMAT_NAME!r}"
        )
    version = manifest.get("format_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFormatError(
            f"format_version {quote(version)} is not supported by this reader "
            f"(supported: {sorted(SUPPORTED_VERSIONS)})"
        )
    if set(manifest) != _MANIFEST_KEYS:
        missing = sorted(_MANIFEST_KEYS - set(manifest))
        unknown = sorted(set(manifest) - _MANIFEST_KEYS)
        raise ModelFormatError(
            f"manifest.json: missing keys {quote(missing)}, unknown keys {quote(unknown)}"
        )
    for key in ("params", "attributes", "extra", "library_versions"):
        if not isinstance(manifest[key], dict):
            raise ModelFormatError(f"manifest.json: {key} must be a JSON object")


def _class_for(name: Any, classes: Mapping[str, type]) -> type:
    if not isinstance(name, str) or name not in classes:
        raise ModelFormatError(
            f"estimator class {quote(name)} is not one this reader accepts "
            f"({', '.join(sorted(classes))})"
        )
    return classes[name]


def _entries(section: str, encoded: dict, slots: Mapping[str, Slot], owner: str) -> list:
    unknown = sorted(set(encoded) - set(slots))
    if unknown:
        raise ModelFormatError(f"{section}: {quote(unknown)} are not known for {owner}")
    pairs = []
    for name, entry in encoded.items():
        pairs.extend(array_entries(entry, slots[name], section, name))
    return pairs


def _default_classes() -> dict[str, type]:
    from ._minibatch_kmeans import MiniBatchKMeans

    return {"MiniBatchKMeans": MiniBatchKMeans}


def load_model(
    source,
    *,
    classes: Mapping[str, type] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[Any, dict]:
    """Read a model archive; returns ``(estimator, extra)``.

    ``source`` is bytes, a path, or a binary file object. ``classes`` maps the class
    names the caller accepts to their classes (default: this package's estimators);
    ``max_bytes`` bounds the archive, its members and its declared array sizes, all
    checked before data is read. Any defect raises ``ModelFormatError`` (a ValueError).
    """
    classes = _default_classes() if classes is None else classes
    with Archive(source, max_bytes) as archive:
        manifest = archive.manifest
        _check_header(manifest)
        cls = _class_for(manifest["estimator"], classes)
        spec = _spec_of(cls)
        owner = cls.__name__
        pairs = _entries("params", manifest["params"], spec.params, owner)
        pairs += _entries("attributes", manifest["attributes"], spec.attributes, owner)
        archive.check_arrays(pairs)

        params: dict[str, Any] = {}
        for name, entry in manifest["params"].items():
            params[name] = decode(entry, spec.params[name], "params", name, archive, params)
        estimator = cls(**params)
        _validate_params(estimator)
        for name, entry in manifest["attributes"].items():
            slot = spec.attributes[name]
            value = decode(entry, slot, "attributes", name, archive, params)
            setattr(estimator, name, value)  # name is one of the spec's, not the file's
    if spec.check is not None:
        spec.check(estimator)
    return estimator, manifest["extra"]


def _validate_params(estimator: Any) -> None:
    validate = getattr(type(estimator), "_validate_params", None)
    if validate is None:
        return
    try:
        validate(estimator)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"params: {clip(str(exc), 300)}") from None


class PersistenceMixin:
    """``save`` and ``load`` in the skbridge model format (see docs/MODEL_FORMAT.md)."""

    _model_spec: ClassVar[ModelSpec]

    def save(self, path_or_file, *, extra: Mapping[str, Any] | None = None) -> None:
        """Write this estimator, fitted or not, to a path or a binary file object.

        Examples
        --------
        >>> import io, numpy as np
        >>> from estimators import MiniBatchKMeans
        >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, n_init=1)
        >>> km = km.fit(np.array([[0.0, 0], [0, 1], [5, 5], [5, 6]]))
        >>> buffer = io.BytesIO()
        >>> km.save(buffer)
        >>> _ = buffer.seek(0)
        >>> loaded = MiniBatchKMeans.load(buffer)
        >>> bool((loaded.cluster_centers_ == km.cluster_centers_).all())
        True
        """
        save_model(self, path_or_file, extra=extra)

    @classmethod
    def load(cls, path_or_file, *, max_bytes: int = DEFAULT_MAX_BYTES):
        """Read an estimator of exactly this class saved by ``save`` (or ``dump_model``)."""
        estimator, _ = load_model(path_or_file, classes={cls.__name__: cls}, max_bytes=max_bytes)
        return estimator
