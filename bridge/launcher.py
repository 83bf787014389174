"""Start a bridge server as a child process and wait until it is ready.

Example::

    from bridge.launcher import spawn_server
    with spawn_server() as server, Client(server.endpoint) as client:
        client.ping()
        client.shutdown(token=server.shutdown_token)

The launcher gives the server a random shutdown token (environment variable
``SKBRIDGE_SHUTDOWN_TOKEN``): only a ``shutdown`` request carrying it, or one sent with an
admin key, stops the server (docs/OPERATIONS.md).
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["ServerProcess", "rss_bytes", "spawn_server"]

_ROOT = str(Path(__file__).resolve().parent.parent)


class ServerProcess:
    """A running server child process. Stop it with :meth:`stop` or a ``with`` block."""

    def __init__(
        self, process: subprocess.Popen[bytes], ready: dict[str, Any], shutdown_token: str = ""
    ) -> None:
        self.process = process
        self.shutdown_token = shutdown_token
        self.ready = ready
        self.endpoint: str = ready["endpoint"]
        self.pid: int = ready["pid"]

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_server(
    endpoint: str | None = None,
    *,
    workers: int | None = None,
    debug: bool = False,
    allow_remote: bool = False,
    timeout: float = 30.0,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    stderr: Any = None,
    extra_args: list[str] | None = None,
    state_dir: str | None = None,
) -> ServerProcess:
    """Run ``python -m bridge serve`` and return once it printed its ready line.

    Raises RuntimeError if the process exits or stays silent for ``timeout`` seconds.
    ``stderr`` is passed to Popen (default: inherit, so server logs show up);
    ``extra_args`` are more ``serve`` flags (limits, leases, metrics, CURVE keys...);
    ``state_dir`` is ``--state-dir``. The server's shutdown token is
    ``ServerProcess.shutdown_token``.
    """
    args = [python, "-m", "bridge", "serve"]
    if endpoint is not None:
        args += ["--endpoint", endpoint]
    if workers is not None:
        args += ["--workers", str(workers)]
    if debug:
        args.append("--debug")
    if allow_remote:
        args.append("--insecure")
    if state_dir is not None:
        args += ["--state-dir", state_dir]
    args += extra_args or []
    child_env = dict(os.environ if env is None else env)
    token = secrets.token_urlsafe(24)
    child_env["SKBRIDGE_SHUTDOWN_TOKEN"] = token
    # Make this checkout importable in the child even when it is not installed.
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_ROOT, child_env.get("PYTHONPATH", "")) if p
    )
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=child_env)
    try:
        line = _read_line(process, timeout)
        ready = json.loads(line)
        if ready.get("event") != "ready":
            raise RuntimeError(f"unexpected first line from server: {line!r}")
    except BaseException:
        if process.poll() is None:
            process.kill()
        process.wait()
        raise
    finally:
        # Nothing else is ever written to stdout; close our end of the pipe.
        if process.stdout is not None:
            process.stdout.close()
    return ServerProcess(process, ready, token)


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (Linux ``/proc``), for tests and benchmarks."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for process {pid}")


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"server did not become ready within {timeout} s")
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                code = process.wait()
                raise RuntimeError(f"server exited with code {code} before it was ready")
            data += chunk
    return data.split(b"\n", 1)[0].decode()
