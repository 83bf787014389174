"""Damaged and hostile model archives are refused with a ModelFormatError naming the fault.

Each test starts from a genuine archive and forges one defect into it.
"""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from estimators import MiniBatchKMeans, ModelFormatError, dump_model, load_model
from estimators._model_format import Archive

from .archive_tools import (
    build,
    forge,
    manifest_of,
    members,
    npy_bytes,
    patch_central_directory,
    sha256,
)

CENTERS = "attributes/cluster_centers_.npy"


@pytest.fixture(scope="module")
def saved(blobs):
    model = MiniBatchKMeans(n_clusters=4, batch_size=100, random_state=0).fit(blobs)
    model.partial_fit(blobs[:300])
    return dump_model(model)


def refused(data, match, **kwargs):
    with pytest.raises(ModelFormatError, match=match) as info:
        load_model(data, **kwargs)
    return info.value


def set_attribute(name, entry):
    def edit(manifest):
        manifest["attributes"][name] = entry

    return edit


def test_the_genuine_archive_loads(saved):
    model, extra = load_model(saved)
    assert isinstance(model, MiniBatchKMeans) and extra == {}


def test_the_error_is_a_value_error_with_a_code(saved):
    error = refused(b"nonsense", "zip signature")
    assert isinstance(error, ValueError) and error.code == "invalid_model"


# ------------------------------------------------------------------- the container


@pytest.mark.parametrize(
    "data", [b"", b"hello world", b"\x93NUMPY\x01\x00", pickle.dumps({"a": 1})], ids=str
)
def test_not_a_zip(data):
    refused(data, "no zip signature")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated(saved, keep):
    refused(saved[: int(len(saved) * keep)], "damaged or truncated")


def test_a_flipped_data_byte_is_caught(saved):
    payload = members(saved)[CENTERS]
    position = saved.index(payload) + len(payload) - 3  # inside the centers' data
    damaged = saved[:position] + bytes([saved[position] ^ 0xFF]) + saved[position + 1 :]
    refused(damaged, "damaged|checksum")


def test_a_zip_without_manifest(saved):
    parts = members(saved)
    del parts["manifest.json"]
    refused(build(list(parts.items())), "first member must be manifest.json")


def test_the_manifest_must_come_first(saved):
    parts = list(members(saved).items())
    refused(build(parts[1:] + parts[:1]), "first member must be manifest.json")


@pytest.mark.parametrize(
    "text, match",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"format": NaN}', "NaN is not valid JSON"),
        (b'{"format": "skbridge-model", "format": "other"}', "appears twice"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
    ids=["syntax", "encoding", "not-object", "nan", "duplicate-key", "deep"],
)
def test_a_manifest_that_is_not_strict_json(saved, text, match):
    refused(forge(saved, replace={"manifest.json": text}), match)


def test_an_oversized_manifest(saved):
    huge = json.dumps({"format": "x" * (9 << 20)}).encode()
    refused(forge(saved, replace={"manifest.json": huge}), "manifest.json is over")


@pytest.mark.parametrize(
    "name",
    [
        "../evil.npy",
        "/etc/evil.npy",
        "attributes/../../evil.npy",
        "attributes\\evil.npy",
        "attributes/a/b.npy",
        "attributes/evil.pkl",
        "attributes/.npy",
        "other/cluster_centers_.npy",
        "attributes/",
    ],
)
def test_path_tricks_in_member_names(saved, name):
    refused(forge(saved, replace={name: b"x"}), "is not allowed")


def test_an_extra_member(saved):
    extra = npy_bytes(np.zeros(3))
    refused(forge(saved, replace={"attributes/stowaway_.npy": extra}), "unexpected members")


def test_a_missing_member(saved):
    refused(forge(saved, replace={CENTERS: None}), "missing members")


def test_a_duplicated_member(saved):
    parts = list(members(saved).items())
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = build(parts + [parts[1]])
    refused(data, "appears twice")


def test_a_compressed_member(saved):
    refused(forge(saved, compress=frozenset({CENTERS})), "compressed")


def test_a_compressed_bomb_is_refused_before_inflating(saved):
    bomb = b"\0" * (50 << 20)  # deflates to about 50 kB
    data = forge(
        saved, replace={"attributes/bomb.npy": bomb}, compress=frozenset({"attributes/bomb.npy"})
    )
    assert len(data) < (1 << 20)
    refused(data, "compressed")


def test_declared_member_sizes_over_the_limit(saved):
    huge = (0xFFFFFFF0).to_bytes(4, "little")
    # Central directory record: compressed size at offset 20, uncompressed at 24.
    data = patch_central_directory(saved, CENTERS, 20, huge + huge)
    refused(data, "declare more than max_bytes")
    one_sided = patch_central_directory(saved, CENTERS, 24, huge)
    refused(one_sided, "inconsistent sizes")


def test_an_encrypted_member(saved):
    # General-purpose flag at offset 8 of the central directory record; bit 0 = encrypted.
    refused(patch_central_directory(saved, CENTERS, 8, b"\x01\x00"), "encrypted")


def test_too_many_members(saved):
    parts = list(members(saved).items())
    extra = [(f"attributes/x{i}.npy", b"") for i in range(300)]
    refused(build(parts + extra), "members, over")


@pytest.mark.parametrize("as_", ["bytes", "path", "file"])
def test_an_archive_over_max_bytes(saved, as_, tmp_path):
    source = saved
    if as_ == "path":
        source = tmp_path / "model.skb"
        source.write_bytes(saved)
    elif as_ == "file":
        source = io.BytesIO(saved)
    refused(source, "over max_bytes", max_bytes=len(saved) - 1)
    load_model(source if as_ != "file" else io.BytesIO(saved), max_bytes=len(saved))


# -------------------------------------------------------------------- the manifest


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("format", "numpy-npz", "not a skbridge model"),
        ("format_version", 2, "format_version 2 is not supported"),
        ("format_version", "1", "format_version '1' is not supported"),
        ("format_version", True, "format_version True is not supported"),
        ("format_version", 1.0, "format_version 1.0 is not supported"),
        ("params", [], "params must be a JSON object"),
        ("extra", "text", "extra must be a JSON object"),
    ],
)
def test_header_fields(saved, key, value, match):
    refused(forge(saved, lambda m: m.update({key: value})), match)


def test_missing_and_unknown_top_level_keys(saved):
    refused(forge(saved, lambda m: m.pop("library_versions") and None), "missing keys")
    refused(forge(saved, lambda m: m.update(hook="x")), "unknown keys")


@pytest.mark.parametrize("name", ["KMeans", "os.system", "__builtins__", 7, None])
def test_a_class_outside_the_allowed_map(saved, name):
    refused(forge(saved, lambda m: m.update(estimator=name)), "not one this reader accepts")


def test_the_caller_map_is_the_only_source_of_classes(saved):
    class Decoy:
        pass

    refused(saved, "not one this reader accepts", classes={"Decoy": Decoy})
    refused(saved, "does not declare a model format spec", classes={"MiniBatchKMeans": Decoy})


@pytest.mark.parametrize("name", ["__class__", "__dict__", "fit", "predict", "stowaway_"])
def test_attribute_names_outside_the_whitelist(saved, name):
    refused(forge(saved, set_attribute(name, {"type": "int", "value": 1})), "not known")


def test_option_names_outside_the_whitelist(saved):
    edit = lambda m: m["params"].update(evil={"type": "str", "value": "x"})  # noqa: E731
    refused(forge(saved, edit), "not known")


@pytest.mark.parametrize(
    "entry, match",
    [
        ({"type": "int", "value": True}, "not an integer"),
        ({"type": "int", "value": 2.0}, "not an integer"),
        ({"type": "int", "value": "2"}, "not an integer"),
        ({"type": "str", "value": "2"}, "str value is not allowed"),
        ({"type": "pickle", "value": "gASV"}, "unknown value type"),
        ({"type": "int"}, "needs exactly"),
        ({"type": "int", "value": 2, "code": "x"}, "needs exactly"),
        ([1], "JSON object with a 'type'"),
        ({"type": "numpy_scalar", "dtype": "|O", "value": 1}, "dtype '|O' refused"),
        ({"type": "numpy_scalar", "dtype": "<i4", "value": 2**40}, "does not fit"),
        ({"type": "int", "value": 0}, "outside"),
    ],
)
def test_malformed_scalar_entries(saved, entry, match):
    refused(forge(saved, set_attribute("_n_init", entry)), match)


def test_a_bounded_count_out_of_range(saved):
    # _n_parts sets a Python loop's length: a huge value must not make load or predict hang.
    refused(forge(saved, set_attribute("_n_parts", {"type": "int", "value": 10**9})), "outside")


def test_invalid_options_are_refused(saved):
    edit = lambda m: m["params"].update(n_clusters={"type": "int", "value": -3})  # noqa: E731
    refused(forge(saved, edit), "params: The 'n_clusters' parameter")


# ----------------------------------------------------------------------- the arrays


def entry_of(saved, name):
    return manifest_of(saved)["attributes"][name]


def test_the_entry_must_name_its_own_member(saved):
    entry = entry_of(saved, "labels_")
    refused(forge(saved, set_attribute("cluster_centers_", entry)), "names member")


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("dtype", "|O", "dtype '|O' is not allowed"),
        ("dtype", ">f8", "dtype '>f8' is not allowed"),
        ("dtype", "<U8", "dtype '<U8' is not allowed"),
        ("shape", [-1, 5], "is not a list of sizes"),
        ("shape", [4.0, 5], "is not a list of sizes"),
        ("shape", "4,5", "is not a list of sizes"),
        ("shape", [1] * 9, "is not a list of sizes"),
        ("sha256", "abc", "64 lowercase hex"),
    ],
)
def test_malformed_array_entries(saved, field, value, match):
    entry = {**entry_of(saved, "cluster_centers_"), field: value}
    refused(forge(saved, set_attribute("cluster_centers_", entry)), match)


@pytest.mark.parametrize("shape", [[10**6, 10**6], [2**64, 2**64], [2**40, 2**40, 2**40]])
def test_a_huge_declared_shape_is_refused_before_any_data_is_read(saved, shape, monkeypatch):
    def fail(*args):
        raise AssertionError("array data was read")

    monkeypatch.setattr(Archive, "read_array", fail)
    entry = {**entry_of(saved, "cluster_centers_"), "shape": shape}
    refused(forge(saved, set_attribute("cluster_centers_", entry)), "declare more than max_bytes")


def reseal(saved, member, payload, **entry_changes):
    """The archive with ``member`` replaced and its manifest entry's checksum made to match."""
    name = member.split("/")[1][: -len(".npy")]

    def edit(manifest):
        manifest["attributes"][name].update(sha256=sha256(payload), **entry_changes)

    return forge(saved, edit, replace={member: payload})


def test_a_checksum_mismatch(saved):
    centers = np.load(io.BytesIO(members(saved)[CENTERS]))
    other = npy_bytes(centers + 1.0)
    refused(forge(saved, replace={CENTERS: other}), "does not match its SHA-256")


def test_a_shape_that_disagrees_with_the_header(saved):
    refused(reseal(saved, CENTERS, npy_bytes(np.zeros((5, 4)))), "header says shape")


def test_a_dtype_that_disagrees_with_the_header(saved):
    payload = npy_bytes(np.zeros((4, 5), dtype=np.float32))
    refused(reseal(saved, CENTERS, payload), "header says dtype")


def test_an_object_array_is_refused_as_a_pickle(saved):
    objects = np.empty((4, 5), dtype=object)
    payload = npy_bytes(objects, allow_pickle=True)
    refused(reseal(saved, CENTERS, payload), "Python objects")


def test_a_pickle_in_place_of_an_array(saved):
    payload = pickle.dumps(np.zeros((4, 5)))
    refused(reseal(saved, CENTERS, payload), "not a valid .npy file")


def test_fortran_order_is_refused(saved):
    payload = npy_bytes(np.asfortranarray(np.zeros((4, 5))))
    refused(reseal(saved, CENTERS, payload), "Fortran order")


def test_trailing_bytes_after_the_array(saved):
    payload = members(saved)[CENTERS] + b"\0" * 8
    refused(reseal(saved, CENTERS, payload), "size does not match")


def test_a_random_state_key_of_the_wrong_size(saved):
    payload = npy_bytes(np.zeros(10, dtype=np.uint32))

    def edit(manifest):
        key = manifest["attributes"]["_rng"]["key"]
        key.update(shape=[10], sha256=sha256(payload))

    refused(forge(saved, edit, replace={"attributes/_rng.key.npy": payload}), "624 uint32")


def test_a_random_state_position_out_of_range(saved):
    edit = lambda m: m["attributes"]["_rng"].update(pos=10**6)  # noqa: E731
    refused(forge(saved, edit), "pos 1000000 is outside")


# ------------------------------------------------------ attributes that do not fit together


def test_centers_that_disagree_with_n_clusters(saved):
    edit = lambda m: m["params"].update(n_clusters={"type": "int", "value": 5})  # noqa: E731
    refused(forge(saved, edit), r"cluster_centers_: shape \(4, 5\), expected \(5, 5\)")


def test_labels_outside_the_clusters(saved):
    labels = np.full(300, 7, dtype=np.int32)
    payload = npy_bytes(labels)
    refused(reseal(saved, "attributes/labels_.npy", payload), "label outside")


def test_centers_without_their_companions(saved):
    refused(
        forge(
            saved,
            lambda m: m["attributes"].pop("_center_weight") and None,
            replace={"attributes/_center_weight.npy": None},
        ),
        "comes without",
    )


def test_label_dtype_is_checked_against_the_slot(saved):
    payload = npy_bytes(np.zeros(300, dtype=np.int64))
    refused(reseal(saved, "attributes/labels_.npy", payload, dtype="<i8"), "dtype <i8")


def test_names_of_members_are_the_only_ones_zipfile_sees(saved):
    # Sanity check of the forging helper itself: an unmodified forge loads.
    model, _ = load_model(forge(saved))
    assert model.cluster_centers_.shape == (4, 5)
    with zipfile.ZipFile(io.BytesIO(saved)) as archive:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
