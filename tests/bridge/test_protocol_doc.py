"""docs/PROTOCOL.md, the contract (schemas/) and the server code agree.

Version, operations, error codes and dtypes are declared once in ``schemas.protocol``; the
document and the server must each hold exactly those, in both directions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import errors, frames, protocol
from schemas import export
from schemas import protocol as contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


def _section(text: str, number: int) -> str:
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"section {number} not found"
    return match.group(0)


def test_version_matches():
    versions = re.findall(r"Protocol version: \*\*(\d+)\*\*", DOC.read_text())
    assert versions == [str(protocol.PROTOCOL_VERSION)]


def test_operations_match():
    ops = re.findall(r"^### `([a-z_]+)`", _section(DOC.read_text(), 3), re.MULTILINE)
    assert ops == list(protocol.OPS)


def test_error_codes_match():
    codes = re.findall(r"^\| `([a-z_]+)` \|", _section(DOC.read_text(), 4), re.MULTILINE)
    assert codes == list(errors.ERROR_CODES)


def test_changelog_mentions_current_version():
    changelog = _section(DOC.read_text(), 5)
    assert f"**{protocol.PROTOCOL_VERSION}**" in changelog


def test_server_handles_every_documented_op():
    from bridge.endpoints import resolve_endpoint
    from bridge.server import Server

    server = Server(resolve_endpoint(None), workers=1)
    try:
        assert set(server._handlers) == set(protocol.OPS)
    finally:
        server.close()


def test_dtypes_match():
    documented = re.search(r"Wire dtypes: (.*)\.", DOC.read_text())
    assert documented, "the generated dtype list is missing"
    assert re.findall(r"`([a-z0-9]+)`", documented.group(1)) == list(contract.DTYPES)


def test_generated_blocks_are_current():
    text = DOC.read_text(encoding="utf-8")
    assert text == export.render_doc(text), "run: python -m schemas.export"


def test_python_exposes_exactly_the_contract():
    exported = json.loads(export.SCHEMA_PATH.read_text(encoding="utf-8"))["protocol"]
    assert protocol.PROTOCOL_VERSION == exported["version"] == contract.PROTOCOL_VERSION
    assert list(protocol.OPS) == list(exported["operations"])
    assert list(errors.ERROR_CODES) == list(exported["errors"])
    assert list(frames.DTYPES) == exported["dtypes"]
    for code in exported["errors"]:
        assert errors.error_class(code).code == code


def test_a_new_code_and_dtype_in_the_contract_is_the_whole_change(monkeypatch):
    """Adding an error code and a dtype to schemas.protocol, then regenerating, updates the
    JSON, the document and the Python side with no other edit."""
    monkeypatch.setattr(
        contract, "ERRORS", {**contract.ERRORS, "out_of_tea": "the server ran out of tea"}
    )
    monkeypatch.setattr(contract, "DTYPES", (*contract.DTYPES, "float16"))
    doc = export.render_doc(DOC.read_text(encoding="utf-8"))
    assert "| `out_of_tea` | the server ran out of tea |" in doc
    assert "`float16`" in doc
    exported = json.loads(export.render())["protocol"]
    assert exported["errors"]["out_of_tea"] == "the server ran out of tea"
    assert exported["dtypes"][-1] == "float16"
    # The bridge reads the contract at import: a fresh process with the same edit made
    # before bridge is imported gets the new error class and dtype.
    code = (
        "from schemas import protocol as c\n"
        "c.ERRORS = {**c.ERRORS, 'out_of_tea': 'the server ran out of tea'}\n"
        "c.DTYPES = (*c.DTYPES, 'float16')\n"
        "from bridge import errors, frames\n"
        "cls = errors.error_class('out_of_tea')\n"
        "assert issubclass(cls, errors.BridgeError) and cls.code == 'out_of_tea', cls\n"
        "assert cls.__name__ == 'OutOfTea', cls.__name__\n"
        "assert 'float16' in frames.DTYPES\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.stdout.decode().strip() == "ok", done.stderr.decode()


def test_error_meanings_come_from_the_contract():
    section = _section(DOC.read_text(), 4)
    for code, meaning in contract.ERRORS.items():
        assert f"| `{code}` | {meaning} |" in section


@pytest.mark.parametrize("op", list(contract.OPERATIONS))
def test_every_op_is_documented_with_an_example(op):
    section = _section(DOC.read_text(), 3)
    body = re.search(rf"^### `{op}`\n(.*?)(?=^### |\Z)", section, re.MULTILINE | re.DOTALL)
    assert body and body.group(1).strip(), f"op {op} has no text"
