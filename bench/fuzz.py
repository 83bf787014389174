"""A hostile client: mutated and random messages against a real server, counting failures.

Messages are mutations of valid ``ping``/``info``/``init``/``call``/``get``/``dispose``
requests (with ndarray and CSR references and their buffer frames): values replaced by
huge or negative numbers, wrong types, long strings, deep nesting or broken references;
keys dropped or added; frames dropped, added or truncated; packed headers with flipped
bytes; and plain random bytes. Each message is sent on its own and its reply awaited, so
a missing reply is a hang of that message. A ``ping`` after every ``--ping-every``
messages measures the loop's latency during the fuzz.

Printed: messages sent, crashes (the server process died; it is restarted), hangs (no
reply within ``--timeout`` s), ``internal`` replies, replies by error code, the largest
reply, and the worst and p99 ping. Loopback/ipc only; bounded by ``--messages`` and
``--max-seconds``. ``tests/bridge/test_hostile.py`` runs a short version of the same
generator.

Huge integers are never put into ``n_init`` or ``max_iter``: there they make a valid
request whose work has no practical end, a resource limit rather than a wire-format
question, and a stuck worker would turn every later call into a "hang".

Usage: ``python bench/fuzz.py [--messages 100000] [--seed 0] [--timeout 10]``
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

from fuzz_messages import Generator  # noqa: E402

from bridge.launcher import ServerProcess, spawn_server  # noqa: E402


class Session:
    """One DEALER on the server's endpoint; replaced after a hang so a late reply cannot
    be taken for the next message's."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.context = zmq.Context.instance()
        self.sock = self._open()

    def _open(self) -> zmq.Socket:
        sock = self.context.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(self.endpoint)
        return sock

    def ask(self, frames: list[bytes], timeout: float) -> tuple[dict[str, Any] | None, int]:
        """Send ``frames``; the reply header (None on a hang) and the reply's byte size."""
        self.sock.send_multipart(frames, copy=False)
        if not self.sock.poll(int(timeout * 1000)):
            self.sock.close()
            self.sock = self._open()
            return None, 0
        reply = self.sock.recv_multipart()
        return msgpack.unpackb(reply[0]), sum(len(f) for f in reply)

    def ping(self, timeout: float) -> float | None:
        start = time.perf_counter()
        header, _ = self.ask([msgpack.packb({"v": 1, "id": 0, "op": "ping"})], timeout)
        if header is None or header.get("ok") is not True:
            return None
        return time.perf_counter() - start

    def close(self) -> None:
        self.sock.close()


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.crashes = 0
        self.hangs = 0
        self.codes: collections.Counter[str] = collections.Counter()
        self.pings: list[float] = []
        self.failed_pings = 0
        self.largest_reply = 0
        self.examples: dict[str, bytes] = {}  # a message per bad outcome, to reproduce

    @property
    def internal(self) -> int:
        return self.codes["internal"]

    def table(self) -> str:
        pings = sorted(self.pings)
        p99 = pings[max(0, math.ceil(0.99 * len(pings)) - 1)] if pings else float("nan")
        worst = pings[-1] if pings else float("nan")
        rows = [
            ("messages sent", f"{self.sent}"),
            ("crashes (server died)", f"{self.crashes}"),
            ("hangs (no reply in time)", f"{self.hangs}"),
            ("internal replies", f"{self.internal}"),
            ("largest reply (bytes)", f"{self.largest_reply}"),
            ("pings (failed)", f"{len(self.pings)} ({self.failed_pings})"),
            ("ping worst (ms)", f"{worst * 1e3:.2f}"),
            ("ping p99 (ms)", f"{p99 * 1e3:.2f}"),
        ]
        rows += [(f"  reply {code}", f"{n}") for code, n in sorted(self.codes.items())]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value:>12}" for name, value in rows)


def run(
    server: ServerProcess,
    generator: Generator,
    *,
    messages: int,
    ping_every: int,
    timeout: float,
    max_seconds: float,
    restart: Any = None,
) -> Stats:
    """Send up to ``messages`` messages (stopping after ``max_seconds``), a ping after
    every ``ping_every``. ``restart()`` returns a new server after a crash (none: stop)."""
    stats = Stats()
    session = Session(server.endpoint)
    deadline = time.monotonic() + max_seconds
    source = iter(generator)
    try:
        while stats.sent < messages and time.monotonic() < deadline:
            frames = next(source)
            header, size = session.ask(frames, timeout)
            stats.sent += 1
            if server.process.poll() is not None:
                stats.crashes += 1
                stats.examples.setdefault("crash", frames[0])
                if restart is None:
                    break
                server = restart()
                session.close()
                session = Session(server.endpoint)
                continue
            if header is None:
                stats.hangs += 1
                stats.examples.setdefault("hang", frames[0])
            else:
                stats.largest_reply = max(stats.largest_reply, size)
                code = "ok" if header.get("ok") else header.get("error", {}).get("code", "?")
                stats.codes[str(code)] += 1
                if code == "internal":
                    stats.examples.setdefault("internal", frames[0])
            if stats.sent % ping_every == 0:
                latency = session.ping(timeout)
                if latency is None:
                    stats.failed_pings += 1
                else:
                    stats.pings.append(latency)
    finally:
        session.close()
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per reply")
    parser.add_argument("--ping-every", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    servers = [spawn_server(workers=args.workers, timeout=60)]

    def restart() -> ServerProcess:
        servers.append(spawn_server(workers=args.workers, timeout=60))
        return servers[-1]

    start = time.monotonic()
    try:
        stats = run(
            servers[0],
            Generator(args.seed),
            messages=args.messages,
            ping_every=args.ping_every,
            timeout=args.timeout,
            max_seconds=args.max_seconds,
            restart=restart,
        )
    finally:
        codes = [server.stop() for server in servers]
    elapsed = time.monotonic() - start
    print(f"bench/fuzz.py: seed {args.seed}, {elapsed:.0f} s, server exit codes {codes}")
    print(stats.table())
    for outcome, raw in stats.examples.items():
        print(f"first {outcome}: header {raw[:160]!r}")
    return 1 if stats.crashes or stats.hangs or stats.internal else 0


if __name__ == "__main__":
    sys.exit(main())
