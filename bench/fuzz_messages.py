"""The messages of bench/fuzz.py: seeded mutations of valid requests, and random bytes.

See bench/fuzz.py for what is mutated and why huge integers never reach ``n_init`` or
``max_iter``. Example::

    frames = next(iter(Generator(seed=0)))  # [header, *buffer frames]
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np

# Options whose huge values mean unbounded (valid) work; see the module docstring.
_WORK_OPTIONS = frozenset({"n_init", "max_iter"})
_METHODS = ("fit", "predict", "partial_fit", "transform", "fit_predict", "score", "fit_transform")
_ATTRIBUTES = ("cluster_centers_", "labels_", "n_iter_", "inertia_", "n_features_in_", "x")
_DTYPES = ("float64", "float32", "int32", "int64", "uint8", "bool", "float16", "", "<f8")


def _deep(depth: int, leaf: Any, as_map: bool) -> Any:
    for _ in range(depth):
        leaf = {"k": leaf} if as_map else [leaf]
    return leaf


def _wild(rng: random.Random) -> Any:
    """A value of the kinds that break naive code."""
    choice = rng.randrange(16)
    if choice == 0:
        return rng.choice([2**62, 2**63 - 1, 2**64 - 1, -(2**63), 2**53, 2**31, -(2**31) - 1])
    if choice == 1:
        return rng.choice([-1, 0, 1, 2, 3, 7])
    if choice == 2:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 0.5])
    if choice == 3:
        return rng.choice(["", "x", "float64", "MiniBatchKMeans", "fit", "$type", "ndarray"])
    if choice == 4:
        return "é" * rng.choice([300, 5000, 100_000])
    if choice == 5:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 3, 64])))
    if choice == 6:
        return _deep(rng.choice([20, 33, 100, 400]), rng.choice([1, "s", None]), False)
    if choice == 7:
        return _deep(rng.choice([20, 33, 100, 400]), 1, True)
    if choice == 8:
        return rng.choice([True, False, None])
    if choice == 9:
        return [rng.randrange(-5, 5) for _ in range(rng.choice([0, 2, 17, 5000]))]
    if choice == 10:
        return {f"k{i}": i for i in range(rng.choice([1, 30, 3000]))}
    if choice == 11:
        return msgpack.ExtType(rng.randrange(0, 128), b"\x00\x01")
    if choice == 12:
        return [rng.choice(_DTYPES)]
    if choice == 13:
        return {"$type": rng.choice(["ndarray", "csr", "table", "tensor", 5])}
    if choice == 14:
        return [0, 2**62] if rng.random() < 0.5 else [2**40, 2**40, 0]
    return {b"bin-key": 1, "a": [1, 2.5, "x"]}


class Generator:
    """Seeded messages: ``next()`` gives a list of frames (header first)."""

    def __init__(self, seed: int, prefix: str = "fz") -> None:
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.ids = [f"{prefix}{i}" for i in range(6)]

    # -- valid messages ----------------------------------------------------------------

    def _dense(self, buffers: list[bytes], n: int, d: int) -> dict[str, Any]:
        array = self.np.normal(size=(n, d))
        buffers.append(array.tobytes())
        return {"$type": "ndarray", "frame": len(buffers) - 1, "dtype": "float64", "shape": [n, d]}

    def _csr(self, buffers: list[bytes], n: int, d: int) -> dict[str, Any]:
        mask = self.np.random((n, d)) < 0.5
        indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32)
        indices = np.nonzero(mask)[1].astype(np.int32)
        data = self.np.normal(size=len(indices))
        refs = {}
        for key, part, dtype in (
            ("data", data, "float64"),
            ("indices", indices, "int32"),
            ("indptr", indptr, "int32"),
        ):
            buffers.append(part.astype(dtype).tobytes())
            refs[key] = {
                "$type": "ndarray",
                "frame": len(buffers) - 1,
                "dtype": dtype,
                "shape": [len(part)],
            }
        return {"$type": "csr", "shape": [n, d], **refs}

    def valid(self) -> tuple[dict[str, Any], list[bytes]]:
        rng = self.rng
        rid = rng.randrange(1, 2**31)
        instance = rng.choice(self.ids)
        kind = rng.randrange(10)
        buffers: list[bytes] = []
        if kind == 0:
            return {"v": 1, "id": rid, "op": rng.choice(["ping", "info", "instances"])}, buffers
        if kind in (1, 2):
            options = {"n_clusters": rng.randrange(1, 4), "random_state": 0, "batch_size": 8}
            if rng.random() < 0.2:
                options["init"] = self._dense(buffers, options["n_clusters"], 3)
            header = {
                "v": 1,
                "id": rid,
                "op": "init",
                "class": "MiniBatchKMeans",
                "instance": instance,
                "options": options,
            }
            return header, buffers
        if kind in (3, 4, 5, 6):
            n = rng.choice([0, 1, 5, 20])
            make = self._csr if rng.random() < 0.4 else self._dense
            params: dict[str, Any] = {"X": make(buffers, n, 3)}
            if rng.random() < 0.2:
                buffers.append(np.ones(n).tobytes())
                params["sample_weight"] = {
                    "$type": "ndarray",
                    "frame": len(buffers) - 1,
                    "dtype": "float64",
                    "shape": [n],
                }
            header = {
                "v": 1,
                "id": rid,
                "op": "call",
                "instance": instance,
                "method": rng.choice(_METHODS),
                "params": params,
            }
            return header, buffers
        if kind in (7, 8):
            header = {
                "v": 1,
                "id": rid,
                "op": "get",
                "instance": instance,
                "attribute": rng.choice(_ATTRIBUTES),
            }
            return header, buffers
        return {"v": 1, "id": rid, "op": "dispose", "instance": instance}, buffers

    # -- mutations ---------------------------------------------------------------------

    def _slots(self, value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        """Every (container, key) in a header tree."""
        if isinstance(value, dict):
            for key in list(value):
                out.append((value, key))
                self._slots(value[key], out)
        elif isinstance(value, list) and len(value) < 50:
            for i in range(len(value)):
                out.append((value, i))
                self._slots(value[i], out)
        return out

    def _refs(self, value: Any) -> list[dict[str, Any]]:
        return [
            c[k]
            for c, k in self._slots(value, [])
            if isinstance(c[k], dict) and c[k].get("$type") in ("ndarray", "csr")
        ]

    def _mutate_ref(self, header: dict[str, Any], buffers: list[bytes]) -> None:
        refs = self._refs(header)
        if not refs:
            return
        rng = self.rng
        sparse = [r for r in refs if r["$type"] == "csr"]
        ref = rng.choice(sparse if sparse and rng.random() < 0.7 else refs)
        if ref["$type"] == "csr" and rng.random() < 0.6:
            part = ref.get(rng.choice(["indptr", "indices"]))
            index = part.get("frame") if isinstance(part, dict) else None
            if isinstance(index, int) and 0 <= index < len(buffers):
                values = np.frombuffer(buffers[index][: len(buffers[index]) // 4 * 4], np.int32)
                values = values.copy()
                if len(values):
                    bad = rng.choice([-1, 1_000_000, 2**31 - 1, -(2**31), 0, 3])
                    # The ends of indptr are where scipy's own checks are weakest.
                    at = rng.choice([0, -1, -1, rng.randrange(len(values))])
                    values[at] = bad
                buffers[index] = values.tobytes()
            if rng.random() < 0.3:
                ref["shape"] = [20, rng.choice([0, 1, 2**31, 2**63, 2**64 - 1])]
            return
        key = rng.choice(["dtype", "shape", "frame", "extra", "columns"])
        if key == "dtype":
            ref["dtype"] = rng.choice(_DTYPES)
        elif key == "shape":
            ref["shape"] = rng.choice(
                [
                    [0, 2**62],
                    [2**63, 0],
                    [-1, 3],
                    [1] * 40,
                    [2**31, 2**31],
                    [3, 20],
                    [20],
                    [],
                    "20x3",
                    [20.0, 3],
                ]
            )
        elif key == "frame":
            ref["frame"] = rng.choice([-1, 1, 2, 99, 2**64 - 1, None, "0"])
        elif key == "extra":
            ref[rng.choice(["order", "strides", "offset"])] = 0
        else:
            ref["columns"] = rng.choice([["a", "b", "c"], ["a"], [1, 2, 3], "abc"])

    def mutated(self) -> list[bytes]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))]
        header, buffers = self.valid()
        if buffers and rng.random() < 0.5:
            self._mutate_ref(header, buffers)  # arrays are where native code is reached
        for _ in range(rng.randrange(1, 4)):
            action = rng.randrange(6)
            slots = self._slots(header, [])
            if action <= 1 and slots:
                container, key = rng.choice(slots)
                value = _wild(rng)
                if key in _WORK_OPTIONS and isinstance(value, int) and value > 1000:
                    value = -1
                container[key] = value
            elif action == 2 and slots:
                container, key = rng.choice(slots)
                if isinstance(container, dict):
                    del container[key]
            elif action == 3:
                target = rng.choice([header, header.get("options"), header.get("params")])
                if isinstance(target, dict):
                    target[rng.choice(["zz", "n_cluster", "Y", "$type", "x" * 5000])] = _wild(rng)
            elif action == 4:
                self._mutate_ref(header, buffers)
            elif action == 5 and buffers:
                i = rng.randrange(len(buffers))
                choice = rng.randrange(3)
                if choice == 0:
                    buffers[i] = buffers[i][: rng.randrange(len(buffers[i]) + 1)]
                elif choice == 1:
                    buffers.append(b"\x00" * rng.choice([0, 8, 24]))
                else:
                    del buffers[i]
        try:
            raw = msgpack.packb(header, use_bin_type=True)
        except (ValueError, TypeError, OverflowError):
            raw = b"\xc1"
        if rng.random() < 0.05 and raw:
            flipped = bytearray(raw)
            for _ in range(rng.randrange(1, 4)):
                flipped[rng.randrange(len(flipped))] = rng.getrandbits(8)
            raw = bytes(flipped)
        return [raw, *buffers]

    def __iter__(self) -> Iterator[list[bytes]]:
        while True:
            yield self.mutated() if self.rng.random() < 0.85 else self._packed_valid()

    def _packed_valid(self) -> list[bytes]:
        header, buffers = self.valid()
        return [msgpack.packb(header, use_bin_type=True), *buffers]
