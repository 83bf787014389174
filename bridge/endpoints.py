"""Choosing and checking the endpoint the server binds."""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass

__all__ = ["Endpoint", "resolve_endpoint"]


@dataclass
class Endpoint:
    """Where to bind. ``private_dir`` is a directory we created and must remove."""

    url: str
    private_dir: str | None = None
    ipv6: bool = False

    def remove_socket_file(self) -> None:
        """Unlink a bound ipc socket file; ZeroMQ leaves it behind on close."""
        if not self.url.startswith("ipc://"):
            return
        path = self.url[len("ipc://") :]
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass

    def cleanup(self) -> None:
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)
            self.private_dir = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "*", interface names and host names cannot be verified
        return False


_HOW_TO_SECURE = (
    "create keys with `skbridge keys DIR --name server` and `skbridge keys DIR --name "
    "CLIENT`, then serve with --curve-secret-key DIR/server.key_secret "
    "--curve-authorized-keys DIR_WITH_CLIENT_KEYS (see docs/OPERATIONS.md); or pass "
    "--insecure (formerly --allow-remote) to let anyone who can reach it run estimators "
    "with this user's rights"
)


def resolve_endpoint(
    url: str | None, *, allow_remote: bool = False, curve: bool = False
) -> Endpoint:
    """Turn the --endpoint value into an :class:`Endpoint`, or raise ValueError.

    No URL means a fresh private ipc socket: ``mkdtemp`` creates the directory with mode
    0700, so only this user can connect. An endpoint other users can reach (a
    non-loopback address, an abstract ipc name, which has no file permissions) needs
    ``curve`` (clients must hold an authorised key) or ``allow_remote`` (``--insecure``).
    """
    if url is None:
        directory = tempfile.mkdtemp(prefix="skbridge-")
        os.chmod(directory, 0o700)
        return Endpoint(f"ipc://{os.path.join(directory, 'sock')}", private_dir=directory)
    if url.startswith("ipc://"):
        if len(url) == len("ipc://"):
            raise ValueError("ipc endpoint needs a path, e.g. ipc:///tmp/skbridge.sock")
        if url.startswith("ipc://@") and not (allow_remote or curve):
            raise ValueError(
                f"refusing to bind {url}: an abstract ipc name has no file permissions, so "
                f"any local user could connect; use a path, or {_HOW_TO_SECURE}"
            )
        return Endpoint(url)
    if url.startswith("tcp://"):
        rest = url[len("tcp://") :]
        host, sep, port = rest.rpartition(":")
        if not sep or not host:
            raise ValueError(f"tcp endpoint must be tcp://HOST:PORT, got {url!r}")
        if port != "*" and not (port.isdigit() and 0 <= int(port) <= 65535):
            raise ValueError(f"tcp port must be 0-65535 or '*', got {port!r}")
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not (allow_remote or curve) and not _is_loopback(bare):
            raise ValueError(
                f"refusing to bind {url}: {host} is not a loopback address and the server "
                f"has no CURVE keys; use 127.0.0.1, or {_HOW_TO_SECURE}"
            )
        return Endpoint(url, ipv6=":" in bare)
    raise ValueError(f"endpoint must start with ipc:// or tcp://, got {url!r}")
