"""Command line: ``skbridge serve`` and ``skbridge keys`` (also ``python -m bridge ...``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from bridge.limits import Limits, default_memory_bytes

__all__ = ["JsonFormatter", "main"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text).

    Eight lines of our own rather than a logging dependency for them.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skbridge", description="Serve scikit-learn-style estimators over ZeroMQ."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a bridge server")
    serve.add_argument(
        "--endpoint",
        help="ipc://PATH or tcp://127.0.0.1:PORT (PORT may be 0 or *); default: a private "
        "ipc socket in a fresh directory only this user can open",
    )
    serve.add_argument(
        "--debug", action="store_true", help="verbose logs; error replies carry tracebacks"
    )
    serve.add_argument(
        "--insecure",
        "--allow-remote",
        dest="insecure",
        action="store_true",
        help="allow a non-loopback tcp address or an abstract ipc name without CURVE keys "
        "(anyone who can reach it can run estimators with this user's rights)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker threads (default: the cores, 2 to 8; 32 with --backend ray)",
    )
    cluster = serve.add_argument_group("Ray backend (docs/SCALING.md; needs skbridge[ray])")
    cluster.add_argument(
        "--backend",
        choices=("inprocess", "ray"),
        default="inprocess",
        help="where instances live: in this process (default) or as Ray actors",
    )
    cluster.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to join (HOST:PORT or auto); default: start a local one",
    )
    cluster.add_argument(
        "--ray-namespace",
        default="skbridge",
        help="Ray namespace of the instances' actors, one gateway per namespace "
        "(default %(default)s)",
    )
    cluster.add_argument(
        "--ray-num-cpus",
        type=float,
        default=0.01,
        help="CPUs Ray reserves per instance (default %(default)s: placement only)",
    )
    cluster.add_argument(
        "--ray-memory",
        type=int,
        default=None,
        metavar="BYTES",
        help="memory Ray reserves per instance (default: none)",
    )
    cluster.add_argument(
        "--ray-resources",
        metavar="JSON",
        help="custom Ray resources per instance, e.g. '{\"skbridge\": 1}'",
    )
    defaults = Limits()
    limits = serve.add_argument_group("limits (reported by the info op)")
    flags = [
        ("--max-message-bytes", int, defaults.max_message_bytes,
         "largest frame accepted, enforced by ZeroMQ before it is buffered; a client "
         "sending more is disconnected (default %(default)s; 0: none)"),
        ("--max-instances", int, defaults.max_instances,
         "live instances, over all clients (default %(default)s; 0: none)"),
        ("--max-memory-bytes", int, None,
         "bytes instances and datasets hold plus bytes of queued requests plus working "
         "memory of running fits (default: a quarter of the machine's memory, at most "
         "4 GiB; 0: none)"),
        ("--max-queued-per-session", int, defaults.max_queued_per_session,
         "requests one client session may have waiting or running (default %(default)s)"),
        ("--lease-seconds", float, defaults.lease_seconds,
         "a client session silent this long has its instances disposed; clients renew "
         "on their own while alive (default %(default)s; 0: keep instances forever)"),
    ]  # fmt: skip
    for flag, kind, default, text in flags:
        limits.add_argument(flag, type=kind, default=default, help=text)
    security = serve.add_argument_group("security (docs/OPERATIONS.md)")
    security.add_argument(
        "--curve-secret-key",
        metavar="FILE",
        help="this server's NAME.key_secret (from `skbridge keys`): encrypt with CURVE and "
        "accept only the keys of --curve-authorized-keys",
    )
    security.add_argument(
        "--curve-authorized-keys",
        metavar="DIR",
        help="directory of the client public keys (*.key) allowed to connect",
    )
    security.add_argument(
        "--admin-keys",
        metavar="DIR",
        help="directory of client public keys (*.key) that may also send shutdown",
    )
    ops = serve.add_argument_group("operations")
    ops.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep every instance on disk here (written before each reply that changed "
        "it) and restore them on start",
    )
    ops.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics over HTTP on this port (0: any free port)",
    )
    ops.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address of the metrics endpoint (default %(default)s: this machine only)",
    )
    ops.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="stderr log format"
    )
    keys = commands.add_parser("keys", help="write a CURVE key pair (NAME.key, NAME.key_secret)")
    keys.add_argument("directory", help="where to write the key files (created, mode 0700)")
    keys.add_argument("--name", default="skbridge", help="file name stem (default %(default)s)")
    return parser


def _keys(args: argparse.Namespace) -> int:
    from bridge.auth import create_keys

    for path in (f"{args.name}.key", f"{args.name}.key_secret"):
        if os.path.exists(os.path.join(args.directory, path)):
            print(f"skbridge: {args.directory}/{path} exists; not overwriting", file=sys.stderr)
            return 1
    public, secret = create_keys(args.directory, args.name)
    print(json.dumps({"public": public, "secret": secret}))
    return 0


def _curve(args: argparse.Namespace) -> Any:
    """The CURVE settings from the flags, or None; raises ValueError on bad ones."""
    from bridge.auth import CurveServer

    if args.curve_secret_key is None and args.curve_authorized_keys is None:
        if args.admin_keys is not None:
            raise ValueError("--admin-keys needs --curve-secret-key and --curve-authorized-keys")
        return None
    if args.curve_secret_key is None or args.curve_authorized_keys is None:
        raise ValueError("--curve-secret-key and --curve-authorized-keys go together")
    return CurveServer.from_files(
        args.curve_secret_key, args.curve_authorized_keys, args.admin_keys
    )


def _limits(args: argparse.Namespace) -> Limits:
    for name in ("max_message_bytes", "max_instances", "max_queued_per_session"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0")
    if args.lease_seconds < 0:
        raise ValueError("--lease-seconds must be >= 0")
    memory = args.max_memory_bytes
    if memory is not None and memory < 0:
        raise ValueError("--max-memory-bytes must be >= 0")
    return Limits(
        max_message_bytes=args.max_message_bytes,
        max_instances=args.max_instances,
        max_memory_bytes=default_memory_bytes() if memory is None else memory,
        max_queued_per_session=args.max_queued_per_session,
        lease_seconds=args.lease_seconds,
    )


def _backend(args: argparse.Namespace) -> Any:
    """The Ray backend from the flags, or None; raises ValueError on bad ones."""
    if args.backend != "ray":
        ray_flags = (args.ray_address, args.ray_memory, args.ray_resources)
        if any(flag is not None for flag in ray_flags):
            raise ValueError("--ray-* flags need --backend ray")
        return None
    if args.ray_num_cpus < 0 or (args.ray_memory is not None and args.ray_memory < 0):
        raise ValueError("--ray-num-cpus and --ray-memory must be >= 0")
    resources = None
    if args.ray_resources is not None:
        try:
            resources = json.loads(args.ray_resources)
        except ValueError:
            resources = None
        if not (
            isinstance(resources, dict)
            and all(isinstance(v, (int, float)) and v >= 0 for v in resources.values())
        ):
            raise ValueError(
                f"--ray-resources must be a JSON object of numbers, got {args.ray_resources!r:.80}"
            )
    try:
        from bridge.ray_backend import RayBackend
    except ImportError as exc:
        raise ValueError(f"--backend ray needs Ray (pip install 'skbridge[ray]'): {exc}") from None
    return RayBackend(
        address=args.ray_address,
        namespace=args.ray_namespace,
        num_cpus=args.ray_num_cpus,
        memory=args.ray_memory,
        resources=resources,
        debug=args.debug,
    )


def _serve(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from bridge.auth import take_shutdown_token
    from bridge.endpoints import resolve_endpoint
    from bridge.memory import freeze_startup_objects, keep_free_memory
    from bridge.protocol import PROTOCOL_VERSION
    from bridge.server import Server

    log = logging.getLogger("skbridge")
    if args.workers is not None and args.workers < 1:
        print("skbridge: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        curve = _curve(args)
        endpoint = resolve_endpoint(
            args.endpoint, allow_remote=args.insecure, curve=curve is not None
        )
        limits = _limits(args)
        backend = _backend(args)
    except ValueError as exc:
        print(f"skbridge: {exc}", file=sys.stderr)
        return 2
    # Estimator work runs in several worker threads at once: BLAS gets one thread, for
    # good (threadpoolctl's per-call limits cannot be nested across threads reliably).
    threadpool_limits(limits=1, user_api="blas")
    try:
        server = Server(
            endpoint,
            workers=args.workers,
            debug=args.debug,
            release_idle_memory=keep_free_memory(),
            limits=limits,
            state_dir=args.state_dir,
            curve=curve,
            shutdown_token=take_shutdown_token(),
            backend=backend,
        )
    except OSError as exc:
        print(f"skbridge: {exc}", file=sys.stderr)
        endpoint.cleanup()
        return 1
    try:
        url = server.bind()
    except Exception as exc:
        print(f"skbridge: cannot bind {endpoint.url}: {exc}", file=sys.stderr)
        server.close()
        return 1
    server.install_signal_handlers()
    frozen = freeze_startup_objects()
    ready = {"event": "ready", "endpoint": url, "protocol": PROTOCOL_VERSION, "pid": os.getpid()}
    if args.metrics_port is not None:
        from bridge.metrics import serve_metrics

        metrics = serve_metrics(server.stats, args.metrics_port, args.metrics_address)
        ready["metrics"] = f"http://{args.metrics_address}:{metrics.server_port}/metrics"
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    # The ready line must be the only thing on stdout, but estimators print progress
    # (verbose=1) with print(); point fd 1 and sys.stdout at stderr from now on.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    log.info("serving on %s (pid %d); %d start-up objects frozen", url, os.getpid(), frozen)
    try:
        server.serve()
    finally:
        idle = server.close()
    log.info("stopped")
    if not idle:
        # Daemon workers are stuck in estimator calls; do not wait for interpreter
        # teardown to tolerate them.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if getattr(args, "log_format", "text") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.INFO,
        handlers=[handler],
    )
    logging.captureWarnings(True)
    if args.command == "serve":
        return _serve(args)
    if args.command == "keys":
        return _keys(args)
    return 2  # unreachable: argparse requires a command
