"""Command line: ``skbridge serve`` (also ``python -m bridge serve``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

__all__ = ["main"]


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
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback tcp address (anyone who can reach it can run "
        "estimators with this user's rights)",
    )
    serve.add_argument("--workers", type=int, default=None, help="worker threads")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from bridge.endpoints import resolve_endpoint
    from bridge.memory import keep_free_memory
    from bridge.protocol import PROTOCOL_VERSION
    from bridge.server import Server

    log = logging.getLogger("skbridge")
    if args.workers is not None and args.workers < 1:
        print("skbridge: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        endpoint = resolve_endpoint(args.endpoint, allow_remote=args.allow_remote)
    except ValueError as exc:
        print(f"skbridge: {exc}", file=sys.stderr)
        return 2
    # Estimator work runs in several worker threads at once: BLAS gets one thread, for
    # good (threadpoolctl's per-call limits cannot be nested across threads reliably).
    threadpool_limits(limits=1, user_api="blas")
    server = Server(
        endpoint, workers=args.workers, debug=args.debug, release_idle_memory=keep_free_memory()
    )
    try:
        url = server.bind()
    except Exception as exc:
        print(f"skbridge: cannot bind {endpoint.url}: {exc}", file=sys.stderr)
        server.close()
        return 1
    server.install_signal_handlers()
    ready = {"event": "ready", "endpoint": url, "protocol": PROTOCOL_VERSION, "pid": os.getpid()}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    # The ready line must be the only thing on stdout, but estimators print progress
    # (verbose=1) with print(); point fd 1 and sys.stdout at stderr from now on.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    log.info("serving on %s (pid %d)", url, os.getpid())
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
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.captureWarnings(True)
    if args.command == "serve":
        return _serve(args)
    return 2  # unreachable: argparse requires a command
