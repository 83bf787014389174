"""The socket loop's own mechanics: idle memory release and the malloc settings."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import bridge.server
from bridge.client import Client
from bridge.endpoints import resolve_endpoint
from bridge.memory import release_free_memory
from bridge.server import Server

from .conftest import scaled


def test_idle_release_runs_once_per_quiet_spell(monkeypatch):
    calls: list[float] = []
    monkeypatch.setattr(bridge.server, "_IDLE_MS", 20)
    monkeypatch.setattr(bridge.server, "release_free_memory", lambda: calls.append(1))
    server = Server(resolve_endpoint(None), workers=1, release_idle_memory=True)
    endpoint = server.bind()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        with Client(endpoint, timeout=scaled(30)) as client:
            time.sleep(0.2)
            assert calls == []  # nothing received yet: nothing to give back
            for expected in (1, 2):
                client.ping()
                deadline = time.monotonic() + scaled(10)
                while len(calls) < expected and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert len(calls) == expected
                time.sleep(0.2)  # ten idle periods: still one release per message burst
                assert len(calls) == expected
            assert client.ping()["pong"]
    finally:
        server.stop()
        thread.join(scaled(10))
        server.close()


def test_keep_free_memory_in_a_fresh_process():
    # A subprocess, so this test run's own allocator stays untouched.
    code = (
        "import platform, sys\n"
        "from bridge.memory import keep_free_memory, release_free_memory\n"
        "expected = sys.platform.startswith('linux') and platform.libc_ver()[0] == 'glibc'\n"
        "assert keep_free_memory() is expected\n"
        "release_free_memory()\n"
        "data = bytearray(64 << 20)\n"
        "del data\n"
        "release_free_memory()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=scaled(60))


def test_release_without_setup_is_a_no_op():
    release_free_memory()
