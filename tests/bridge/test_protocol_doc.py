"""docs/PROTOCOL.md and the server code agree on version, operations and error codes.

Checked in both directions: everything documented exists in code and vice versa.
"""

from __future__ import annotations

import re
from pathlib import Path

from bridge import errors, protocol

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
