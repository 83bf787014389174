"""A short run of bench/soak.py: concurrent clients, every result checked in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import scaled

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_short_soak():
    args = ["--clients", "2", "--instances", "3", "--seconds", "4", "--json"]
    done = subprocess.run(
        [sys.executable, str(SOAK), *args], capture_output=True, timeout=scaled(300), check=True
    )
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert summary["requests"] > 20
    assert summary["errors"] == 0, done.stderr.decode()[-2000:]
    assert summary["wrong"] == 0
    assert summary["server_alive"] and not summary["crashed"]
    assert summary["rss_after"] <= 1.1 * summary["rss_before"]
