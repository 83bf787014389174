"""Authentication and encryption with ZeroMQ CURVE, and who may stop the server.

All cryptography is libzmq's CURVE (CurveZMQ); keys are checked by pyzmq's
``zmq.auth.ThreadAuthenticator``, which answers libzmq's ZAP requests from a thread. A
client whose public key is not authorised never completes the handshake, so it gets no
reply at all; a client that expects another server key, or speaks plaintext, neither.

Key files are the ZeroMQ certificate files ``zmq.auth.create_certificates`` writes:
``NAME.key`` holds a public key, ``NAME.key_secret`` the pair. ``skbridge keys DIR``
makes them. See docs/OPERATIONS.md.
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

__all__ = [
    "SHUTDOWN_TOKEN_ENV",
    "CurveServer",
    "ShutdownPolicy",
    "client_curve",
    "create_keys",
    "load_public_keys",
]

log = logging.getLogger("skbridge.auth")

# The launcher hands the server a shutdown token through this environment variable.
SHUTDOWN_TOKEN_ENV = "SKBRIDGE_SHUTDOWN_TOKEN"
_Z85_KEY_LENGTH = 40


def create_keys(directory: str, name: str) -> tuple[str, str]:
    """Write ``NAME.key`` (public) and ``NAME.key_secret`` (the pair, mode 0600) into
    ``directory``; return both paths."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, 0o600)
    return public, secret


def _key_pair(source: str | os.PathLike[str] | bytes, what: str) -> tuple[bytes, bytes | None]:
    """(public, secret or None) from a certificate file path or a z85 key."""
    if isinstance(source, bytes):
        if len(source) != _Z85_KEY_LENGTH:
            raise ValueError(f"{what} must be a 40-character z85 key or a certificate file")
        return source, None
    public, secret = zmq.auth.load_certificate(source)
    return public, secret


def load_public_keys(directory: str) -> frozenset[bytes]:
    """The z85 public keys of the ``*.key`` files in ``directory`` (an error if none)."""
    if not os.path.isdir(directory):
        raise ValueError(f"{directory}: not a directory of public key files")
    keys = frozenset(zmq.auth.load_certificates(directory))
    if not keys:
        raise ValueError(f"{directory}: no public key files (*.key) found")
    return keys


class _Allowed:
    """The authenticator's credentials provider: a fixed set of z85 public keys."""

    def __init__(self, keys: frozenset[bytes]) -> None:
        self._keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = key in self._keys
        if not allowed:
            log.warning("refused a CURVE client with unknown key %s", key.decode("ascii"))
        return allowed


@dataclass(frozen=True)
class CurveServer:
    """The server's key pair and the client keys it accepts (admins included)."""

    public: bytes
    secret: bytes
    authorized: frozenset[bytes]
    admins: frozenset[bytes] = frozenset()

    @classmethod
    def from_files(
        cls, secret_key_file: str, authorized_dir: str, admin_dir: str | None = None
    ) -> CurveServer:
        """Raises ValueError naming the file or directory at fault."""
        try:
            public, secret = zmq.auth.load_certificate(secret_key_file)
        except (OSError, ValueError) as exc:
            raise ValueError(f"--curve-secret-key {secret_key_file}: {exc}") from None
        if secret is None:
            raise ValueError(
                f"--curve-secret-key {secret_key_file}: no secret key in it (pass the "
                "NAME.key_secret file `skbridge keys` wrote)"
            )
        admins = load_public_keys(admin_dir) if admin_dir else frozenset()
        return cls(public, secret, load_public_keys(authorized_dir), admins)

    def start(self, context: zmq.Context) -> ThreadAuthenticator:
        """Start the ZAP handler for ``context``; call before the socket binds."""
        authenticator = ThreadAuthenticator(context, log=logging.getLogger("skbridge.zap"))
        authenticator.start()
        authenticator.configure_curve_callback("*", _Allowed(self.authorized | self.admins))
        return authenticator

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def is_admin(self, user: str | None) -> bool:
        return user is not None and user.encode("ascii") in self.admins


def client_curve(
    server_key: str | os.PathLike[str] | bytes, client_key: str | os.PathLike[str] | bytes
) -> dict[int, bytes]:
    """Socket options that make a client socket speak CURVE to the server.

    ``server_key``: the server's public certificate file or z85 public key.
    ``client_key``: this client's ``.key_secret`` file or z85 secret key.
    """
    server_public, _ = _key_pair(server_key, "server_key")
    if isinstance(client_key, bytes):
        _key_pair(client_key, "client_key")
        client_secret = client_key
        client_public = zmq.curve_public(client_secret)
    else:
        client_public, secret = zmq.auth.load_certificate(client_key)
        if secret is None:
            raise ValueError(f"client_key {client_key}: no secret key in it (use NAME.key_secret)")
        client_secret = secret
    return {
        zmq.CURVE_SERVERKEY: server_public,
        zmq.CURVE_PUBLICKEY: client_public,
        zmq.CURVE_SECRETKEY: client_secret,
    }


class ShutdownPolicy:
    """Who may send ``shutdown``.

    With nothing configured (no token, no CURVE) anyone who can reach the endpoint may:
    the endpoint's own access control is the boundary. Once a token is set (the launcher
    does so through ``SKBRIDGE_SHUTDOWN_TOKEN``) or CURVE is on, only a request carrying
    the token or sent with an admin key (``--admin-keys``) is obeyed.
    """

    def __init__(self, token: str | None, curve: CurveServer | None) -> None:
        self._token = token.encode() if token else None
        self._curve = curve

    @property
    def open(self) -> bool:
        return self._token is None and self._curve is None

    def allows(self, header: dict[str, Any], user: str | None) -> bool:
        if self.open:
            return True
        if self._curve is not None and self._curve.is_admin(user):
            return True
        sent = header.get("token")
        return (
            self._token is not None
            and isinstance(sent, str)
            and hmac.compare_digest(sent.encode(), self._token)
        )


def take_shutdown_token() -> str | None:
    """The token from the environment, removed from it so child processes do not see it."""
    return os.environ.pop(SHUTDOWN_TOKEN_ENV, None) or None
