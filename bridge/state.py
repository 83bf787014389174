"""Instance state files for ``skbridge serve --state-dir``.

Each live instance has one file in the state directory: the model format of
docs/MODEL_FORMAT.md, whose ``extra`` object carries what the server needs to bring the
instance back (its id, class, owner session and client key, and its idempotency records).
A file is replaced atomically: the new bytes go to a temporary file that is flushed to
disk, renamed over the old one, and the directory itself is flushed, so after a crash the
file holds either the old state or the new one, never a mix.

On start every file is read back; one that cannot be read (truncated, damaged, written by
something else) is logged and moved into ``DIR/rejected/`` and the others load as usual.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.protocol import INSTANCE_ID
from bridge.registry import Remote
from estimators import ModelFormatError, dump_model, load_model

__all__ = ["InstanceState", "Restored", "StateStore"]

log = logging.getLogger("skbridge.state")

STATE_VERSION = 1
SUFFIX = ".skm"
# Idempotency records kept per instance (PROTOCOL.md, `call`, Exactly once).
MAX_KEYS = 64


@dataclass(eq=False)
class InstanceState:
    """Per-instance bookkeeping shared by the loop and the worker running its jobs.

    ``keys`` maps an idempotency key to the method it applied, oldest first. ``lock``
    orders a worker's state write against the loop removing the file on dispose.
    """

    instance_id: str
    class_name: str
    owner: str
    owner_key: str | None
    # Orders two files of one id (a dispose and a new init racing a crash): newer wins.
    created: int = field(default_factory=time.time_ns)
    keys: OrderedDict[str, str] = field(default_factory=OrderedDict)
    filename: str = ""
    removed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, key: str, method: str) -> None:
        self.keys[key] = method
        self.keys.move_to_end(key)
        while len(self.keys) > MAX_KEYS:
            self.keys.popitem(last=False)

    def extra(self) -> dict[str, Any]:
        return {
            "skbridge_state": STATE_VERSION,
            "instance": self.instance_id,
            "class": self.class_name,
            "owner": self.owner,
            "owner_key": self.owner_key,
            "created": self.created,
            "keys": [[key, method] for key, method in self.keys.items()],
        }


@dataclass
class Restored:
    estimator: Any
    state: InstanceState


def _parse_extra(extra: Any, estimator: Any) -> InstanceState:
    """The instance's bookkeeping from a state file's ``extra``, checked field by field."""
    if not isinstance(extra, dict) or extra.get("skbridge_state") != STATE_VERSION:
        raise ModelFormatError("not an skbridge state file (extra.skbridge_state)")
    instance_id = extra.get("instance")
    if not isinstance(instance_id, str) or not INSTANCE_ID.fullmatch(instance_id):
        raise ModelFormatError(f"extra.instance is not a valid instance id: {instance_id!r:.80}")
    class_name = extra.get("class")
    if class_name != type(estimator).__name__:
        raise ModelFormatError(f"extra.class {class_name!r:.80} does not match the model")
    owner, owner_key, created = extra.get("owner"), extra.get("owner_key"), extra.get("created")
    if not isinstance(owner, str) or not (owner_key is None or isinstance(owner_key, str)):
        raise ModelFormatError("extra.owner must be a string and extra.owner_key a string or null")
    if type(created) is not int:
        raise ModelFormatError("extra.created must be an integer")
    keys = extra.get("keys")
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise ModelFormatError(f"extra.keys must be a list of at most {MAX_KEYS} pairs")
    state = InstanceState(instance_id, class_name, owner, owner_key, created)
    for pair in keys:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(part, str) for part in pair)
            and INSTANCE_ID.fullmatch(pair[0])
        ):
            raise ModelFormatError("extra.keys holds an entry that is not [key, method]")
        state.record(pair[0], pair[1])
    return state


class StateStore:
    """The state directory: atomic writes, removal, and reading everything back."""

    def __init__(
        self, directory: str, classes: Mapping[str, type], *, max_bytes: int = 1 << 30
    ) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.directory = os.path.realpath(directory)
        self._classes = dict(classes)
        self._max_bytes = max_bytes
        self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)

    def close(self) -> None:
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1

    def _path(self, filename: str) -> str:
        return os.path.join(self.directory, filename)

    def write(self, state: InstanceState, estimator: Any) -> None:
        """Make ``estimator`` with ``state`` the instance's durable state.

        Runs in the worker that owns the instance (or on the loop for an idle instance);
        returns once the new file and its directory entry are on disk.
        """
        if isinstance(estimator, Remote):  # held by a Ray actor
            data = estimator.dump(state.extra())
        else:
            data = dump_model(estimator, extra=state.extra())
        with state.lock:
            if state.removed:
                return  # disposed meanwhile: the file must stay gone
            if not state.filename:
                digest = hashlib.sha256(state.instance_id.encode()).hexdigest()[:32]
                state.filename = f"{digest}-{state.created:x}{SUFFIX}"
            self._replace(state.filename, data)

    def _replace(self, filename: str, data: bytes) -> None:
        temporary = self._path(f".{filename}.{threading.get_ident():x}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temporary)
            raise
        os.close(fd)
        os.replace(temporary, self._path(filename))
        os.fsync(self._dir_fd)

    def remove(self, state: InstanceState) -> None:
        """Delete the instance's file for good (dispose, lease expiry)."""
        with state.lock:
            state.removed = True
            if not state.filename:
                return
            try:
                os.unlink(self._path(state.filename))
            except FileNotFoundError:
                return
            os.fsync(self._dir_fd)

    def read(self, state: InstanceState) -> Any:
        """The estimator of one instance's file (the Ray backend restoring a lost one)."""
        estimator, extra = load_model(
            self._path(state.filename), classes=self._classes, max_bytes=self._max_bytes
        )
        _parse_extra(extra, estimator)
        return estimator

    def restore(self) -> list[Restored]:
        """Every readable instance in the directory; unreadable files are moved aside."""
        found: dict[str, Restored] = {}
        for entry in sorted(os.scandir(self.directory), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                os.unlink(entry.path)  # a write the crash cut short; the old file stands
                continue
            if not entry.name.endswith(SUFFIX):
                continue
            try:
                estimator, extra = load_model(
                    entry.path, classes=self._classes, max_bytes=self._max_bytes
                )
                state = _parse_extra(extra, estimator)
            except Exception as exc:  # whatever is wrong with one file, the rest load
                self._reject(entry.name, f"{type(exc).__name__}: {exc}")
                continue
            state.filename = entry.name
            earlier = found.get(state.instance_id)
            if earlier is not None:
                # Two files for one id: the older incarnation was disposed before a crash.
                older, newer = sorted((earlier, Restored(estimator, state)), key=_age)
                self._reject(older.state.filename, "an instance with the same id is newer")
                found[state.instance_id] = newer
            else:
                found[state.instance_id] = Restored(estimator, state)
        return list(found.values())

    def _reject(self, filename: str, reason: str) -> None:
        aside = os.path.join(self.directory, "rejected")
        os.makedirs(aside, mode=0o700, exist_ok=True)
        target = os.path.join(aside, f"{filename}.{time.time_ns():x}")
        log.error("state file %s not restored (%s); moved to %s", filename, reason, target)
        os.replace(self._path(filename), target)
        os.fsync(self._dir_fd)


def _age(restored: Restored) -> int:
    return restored.state.created
