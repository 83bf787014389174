"""The socket loop's own mechanics: idle memory release and the malloc settings."""

from __future__ import annotations

import subprocess
import sys
import time

import bridge.server
from bridge.client import Client

from .conftest import in_process_server, scaled, wait_until


def test_idle_release_runs_once_per_quiet_spell(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(bridge.server, "_IDLE_MS", 20)
    monkeypatch.setattr(bridge.server, "release_free_memory", lambda: calls.append(1))
    with in_process_server(release_idle_memory=True) as (server, endpoint):
        with Client(endpoint, timeout=scaled(30)) as client:
            # No message yet, so no idle timer is armed: the loop blocks without releasing.
            # (Client construction sends nothing; the first ping is the first message.)
            assert calls == []
            for expected in (1, 2, 3):
                assert client.ping()["pong"]
                wait_until(lambda expected=expected: len(calls) >= expected, 10, "a release")
                # The release disarms the timer: ten more idle periods bring no second
                # call. (Proving that something does not happen takes waiting; the wait is
                # a multiple of the patched idle period, scaled like every other limit.)
                time.sleep(scaled(10 * 0.02))
                assert len(calls) == expected


def _run(code: str) -> str:
    # A subprocess, so this test run's own allocator stays untouched.
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=scaled(60), capture_output=True
    )
    return done.stdout.decode()


def test_keep_free_memory_in_a_fresh_process():
    code = (
        "import platform, sys\n"
        "from bridge.memory import keep_free_memory, release_free_memory\n"
        "expected = sys.platform.startswith('linux') and platform.libc_ver()[0] == 'glibc'\n"
        "print(keep_free_memory() is expected)\n"
        "release_free_memory()\n"
        "data = bytearray(64 << 20)\n"
        "del data\n"
        "release_free_memory()\n"
        "print('released')\n"
    )
    assert _run(code).split() == ["True", "released"]


def test_start_up_objects_are_frozen_out_of_full_collections():
    # After the freeze a full collection walks only what was made later: the imported
    # modules' objects are no longer in any generation the collector visits.
    code = (
        "import gc\n"
        "import bridge.server\n"
        "from bridge.memory import freeze_startup_objects\n"
        "before = len(gc.get_objects())\n"
        "frozen = freeze_startup_objects()\n"
        "later = [[i] for i in range(1000)]\n"
        "print(before > 50_000, frozen >= before * 0.9, len(gc.get_objects()) < 5_000)\n"
    )
    assert _run(code).split() == ["True", "True", "True"]


def test_release_without_setup_is_a_no_op():
    # Without keep_free_memory nothing was loaded, so nothing is trimmed.
    code = "from bridge import memory\nmemory.release_free_memory()\nprint(memory._libc is None)\n"
    assert _run(code).split() == ["True"]
