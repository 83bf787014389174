"""The array codec on its own: round trips, zero copy, and what it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from bridge.errors import MissingDependency, ProtocolError
from bridge.frames import DTYPES, Decoder, Encoder, Table


def round_trip(value, *, tables=False):
    encoder = Encoder(tables=tables)
    wire = encoder.encode(value)
    buffers = [np.ascontiguousarray(b).tobytes() for b in encoder.buffers]
    decoder = Decoder(buffers, accept_tables=tables)
    out = decoder.decode(wire)
    decoder.check_all_used()
    return wire, out


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", [(0,), (5,), (3, 4), (2, 0), (2, 3, 2)], ids=str)
def test_ndarray_round_trip(dtype, shape):
    array = (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape)
    wire, out = round_trip(array)
    assert wire == {"$type": "ndarray", "frame": 0, "dtype": dtype, "shape": list(shape)}
    assert out.dtype == array.dtype and np.array_equal(out, array)


def test_non_contiguous_and_big_endian_inputs_are_normalised():
    array = np.arange(12.0).reshape(3, 4)
    _, out = round_trip(array.T)
    assert np.array_equal(out, array.T)
    big = np.arange(5, dtype=">i4")
    wire, out = round_trip(big)
    assert wire["dtype"] == "int32" and np.array_equal(out, big)


def test_contiguous_arrays_are_sent_without_copy():
    array = np.arange(10.0)
    encoder = Encoder(tables=False)
    encoder.encode({"X": array})
    assert encoder.buffers[0] is array


def test_decoded_arrays_view_the_buffer():
    buf = bytearray(np.arange(4.0).tobytes())
    out = Decoder([buf], accept_tables=False).decode(
        {"$type": "ndarray", "frame": 0, "dtype": "float64", "shape": [4]}
    )
    assert np.shares_memory(out, np.frombuffer(buf))


def test_unaligned_buffers_are_copied_to_aligned_arrays():
    raw = bytearray(8 * 4 + 1)
    view = memoryview(raw)[1:]
    view[:] = np.arange(4.0).tobytes()
    out = Decoder([view], accept_tables=False).decode(
        {"$type": "ndarray", "frame": 0, "dtype": "float64", "shape": [4]}
    )
    assert out.flags.aligned and np.array_equal(out, np.arange(4.0))


def test_csr_round_trip():
    matrix = sparse.random(20, 7, density=0.3, format="csr", random_state=0, dtype=np.float32)
    wire, out = round_trip(matrix)
    assert wire["$type"] == "csr" and wire["shape"] == [20, 7]
    assert out.dtype == np.float32
    assert (out != matrix).nnz == 0
    _, out = round_trip(sparse.csr_array(matrix))
    assert (out != matrix).nnz == 0


def test_other_sparse_formats_are_sent_as_csr():
    matrix = sparse.random(5, 4, density=0.5, format="coo", random_state=1)
    wire, out = round_trip(matrix)
    assert wire["$type"] == "csr"
    assert np.array_equal(out.toarray(), matrix.toarray())


def test_dataframe_becomes_array_with_columns():
    frame = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=["a", "b"])
    wire, out = round_trip(frame)
    assert wire["columns"] == ["a", "b"]
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["a", "b"] and np.array_equal(out.to_numpy(), frame.to_numpy())


def test_dataframe_without_string_names_has_no_columns():
    wire, out = round_trip(pd.DataFrame(np.ones((2, 2))))
    assert "columns" not in wire and isinstance(out, np.ndarray)


def test_table_results():
    frame = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=["c0", "c1"])
    wire, out = round_trip(frame, tables=True)
    assert wire["$type"] == "table" and wire["columns"] == ["c0", "c1"]
    assert isinstance(out, pd.DataFrame) and out.equals(frame)


def test_table_without_pandas_is_a_namedtuple(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    frame_wire = {
        "$type": "table",
        "columns": ["x"],
        "data": {"$type": "ndarray", "frame": 0, "dtype": "int8", "shape": [2, 1]},
    }
    out = Decoder([b"\x01\x02"], accept_tables=True).decode(frame_wire)
    assert isinstance(out, Table) and out.columns == ["x"]
    with pytest.raises(MissingDependency, match="pandas"):
        Decoder([b"\x01\x02"], accept_tables=False).decode(
            {"$type": "ndarray", "frame": 0, "dtype": "int8", "shape": [2, 1], "columns": ["x"]}
        )


def test_scalars_strings_and_nesting():
    value = {
        "a": np.float32(1.5),
        "b": np.int64(3),
        "c": np.array(["x", "y"], dtype=object),
        "d": [np.bool_(True), None, "s"],
        "e": np.array(2.0),
    }
    wire, out = round_trip(value)
    assert wire == {"a": 1.5, "b": 3, "c": ["x", "y"], "d": [True, None, "s"], "e": 2.0}
    assert type(wire["b"]) is int


@pytest.mark.parametrize(
    "value",
    [np.zeros(2, dtype=np.float16), np.zeros(2, dtype=np.complex64), object(), {1, 2}],
    ids=["float16", "complex", "object", "set"],
)
def test_encoder_refuses(value):
    with pytest.raises(TypeError):
        Encoder(tables=False).encode(value)


def test_decoder_depth_limit():
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nest"):
        Decoder([], accept_tables=False).decode(deep)


# -- structural checks before numpy/scipy (bridge.checks) ----------------------------------


def _csr_wire(shape, data, indices, indptr):
    parts = [np.asarray(data), np.asarray(indices), np.asarray(indptr)]
    wire = {"$type": "csr", "shape": list(shape)}
    for i, (key, part) in enumerate(zip(("data", "indices", "indptr"), parts, strict=True)):
        wire[key] = {"$type": "ndarray", "frame": i, "dtype": part.dtype.name, "shape": [len(part)]}
    return wire, [part.tobytes() for part in parts]


def _decode(wire, buffers):
    return Decoder(buffers, accept_tables=False).decode(wire)


I32 = np.int32


@pytest.mark.parametrize(
    ("shape", "indices", "indptr", "needle"),
    [
        ((2, 3), [0, 1], [0, 2, 0], "end at len(data) = 2, got 0"),
        ((2, 3), [0, 1], [0, 1_000_000, -1], "end at"),
        ((2, 3), [0, 1], [1, 1, 2], "start at 0"),
        ((2, 3), [0, 1], [0, 3, 2], "falls from 3 to 2 at row 1"),
        ((2, 3), [0, -5], [0, 1, 2], "column index -5"),
        ((2, 3), [0, 3], [0, 1, 2], "column index 3 is out of range for 3"),
        ((3, 3), [0, 1], [0, 1, 2], "needs 4"),
        ((2, 2**31), [0, 1], [0, 1, 2], "int32, which cannot index"),
    ],
)
def test_csr_structure_is_checked_before_scipy(shape, indices, indptr, needle):
    wire, buffers = _csr_wire(shape, [1.0, 2.0], np.array(indices, I32), np.array(indptr, I32))
    with pytest.raises(ProtocolError, match="invalid csr matrix") as info:
        _decode(wire, buffers)
    assert needle in info.value.message


def test_checked_csr_views_its_frames_and_keeps_int32():
    matrix = sparse.random(30, 9, density=0.3, format="csr", random_state=2)
    wire, buffers = _csr_wire(matrix.shape, matrix.data, matrix.indices, matrix.indptr)
    out = _decode(wire, buffers)
    assert out.indices.dtype == np.int32
    for part, buf in zip((out.data, out.indices, out.indptr), buffers, strict=True):
        assert np.shares_memory(part, np.frombuffer(buf, dtype=part.dtype))
    assert np.array_equal(out.toarray(), matrix.toarray())


def test_int64_csr_that_fits_int32_is_narrowed_like_scipy_does():
    matrix = sparse.random(6, 4, density=0.5, format="csr", random_state=3)
    indices, indptr = matrix.indices.astype(np.int64), matrix.indptr.astype(np.int64)
    out = _decode(*_csr_wire(matrix.shape, matrix.data, indices, indptr))
    assert out.indices.dtype == out.indptr.dtype == np.int32
    assert np.array_equal(out.toarray(), matrix.toarray())
    wide = _decode(*_csr_wire((6, 2**40), matrix.data, indices, indptr))
    assert wide.indices.dtype == np.int64 and wide.shape == (6, 2**40)


@pytest.mark.parametrize(
    ("dtype", "shape", "nbytes", "needle"),
    [
        (["float64"], [2], 16, "dtype"),
        ("float64", [0, 2**62], 0, "shape"),
        ("float64", [0, 2**40, 2**40], 0, "too large"),
        ("float64", [2**64 - 1], 0, "shape"),
        ("float64", [True, 2], 16, "shape"),
        ("float64", [1] * 33, 8, "at most 32"),
    ],
)
def test_ndarray_sizes_cannot_overflow(dtype, shape, nbytes, needle):
    wire = {"$type": "ndarray", "frame": 0, "dtype": dtype, "shape": shape}
    with pytest.raises(ProtocolError, match=needle):
        _decode(wire, [bytes(nbytes)])


def test_empty_arrays_with_large_dims_within_bounds_still_decode():
    out = _decode({"$type": "ndarray", "frame": 0, "dtype": "float64", "shape": [0, 2**40]}, [b""])
    assert out.shape == (0, 2**40)


def test_bool_bytes_must_be_0_or_1():
    wire = {"$type": "ndarray", "frame": 0, "dtype": "bool", "shape": [3]}
    assert _decode(wire, [bytes([0, 1, 1])]).tolist() == [False, True, True]
    with pytest.raises(ProtocolError, match="bool"):
        _decode(wire, [bytes([0, 1, 2])])


def test_error_messages_quote_input_bounded():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    wire = {"$type": "ndarray", "frame": 0, "dtype": deep, "shape": [1]}
    with pytest.raises(ProtocolError) as info:
        _decode(wire, [bytes(8)])
    assert len(info.value.message) < 400
    with pytest.raises(ProtocolError) as info:
        _decode({"$type": "x" * 10_000_000}, [])
    assert len(info.value.message) < 400
    keys = {"$type": "ndarray", **{f"k{i}": i for i in range(10_000)}}
    with pytest.raises(ProtocolError, match="unexpected keys") as info:
        _decode(keys, [])
    assert len(info.value.message) < 400
    with pytest.raises(ProtocolError, match="10000 buffer frames") as info:
        Decoder([b""] * 10_000, accept_tables=False).check_all_used()
    assert len(info.value.message) < 400
