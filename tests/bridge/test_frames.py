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
