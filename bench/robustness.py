"""Robustness figures: ping while hostile requests arrive, memory, and reaping.

1. A pinger measures round trips continuously while another connection sends, one after
   another, the requests that used to stall the socket loop or bloat the server: init
   with 100,000 unknown option keys, init with a 50 MB option key, a 2 GiB frame, deeply
   nested values in every header key, a fit on a 16 x 2^24 CSR with 16 non-zeros and k=8,
   and listing 10,000 instances. Prints the worst and p99 ping during that time and the
   reply each request got.
2. Server RSS before, at its peak, and after every instance is disposed (100 clients'
   worth of fitted instances created, then disposed).
3. Time from a client's SIGKILL to its instances being reaped (lease 2 s).

Usage: ``python bench/robustness.py``
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.launcher import rss_bytes as rss  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402

MiB = 1 << 20


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def hostile_requests(endpoint: str) -> list[tuple[str, str]]:
    """Send each hostile request on a raw socket; return (what, reply summary)."""
    out = []
    ctx = zmq.Context.instance()
    marks.clear()

    def send(what: str, parts: list, wait: float = 30) -> None:
        marks.append((time.time(), what))
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        try:
            sock.send_multipart(parts, copy=False)
            if sock.poll(int(wait * 1000)):
                raw = sock.recv_multipart()[0]
                reply = msgpack.unpackb(raw)
                code = reply.get("error", {}).get("code", "ok")
                out.append((what, f"{code} ({len(raw)} byte reply)"))
            else:
                out.append((what, f"no reply within {wait:g} s (connection dropped)"))
        finally:
            sock.close()

    init = {"v": 1, "id": 1, "op": "init", "class": "MiniBatchKMeans", "instance": "h1"}
    send("init, 100,000 unknown option keys",
         [msgpack.packb({**init, "options": {f"k{i}": i for i in range(100_000)}})])  # fmt: skip
    send("init, one 50 MB option key", [msgpack.packb({**init, "options": {"x" * 50 * MiB: 1}})])
    send("2 GiB frame", [msgpack.packb({"v": 1, "id": 1, "op": "ping"}),
                         np.zeros(2 << 30, dtype=np.uint8)], wait=5)  # fmt: skip
    for key in ("v", "id", "op", "class", "instance"):
        header = {**init, key: nested(5000)}
        try:
            packed = msgpack.packb(header)
        except ValueError:  # msgpack's own depth limit: send the deepest it packs
            packed = msgpack.packb({**init, key: nested(500)})
        send(f"deep nesting in '{key}'", [packed])
    with Client(endpoint, timeout=120) as client:
        km = client.init("MiniBatchKMeans", n_clusters=8, random_state=0)
        from scipy import sparse

        X = sparse.csr_matrix(
            (np.ones(16), np.arange(16, dtype=np.int32), np.arange(17, dtype=np.int32)),
            shape=(16, 1 << 24),
        )
        marks.append((time.time(), "fit on a 16 x 2^24 CSR, k=8"))
        try:
            client.call(km, "fit", X=X)
            out.append(("fit on a 16 x 2^24 CSR, k=8", "ok"))
        except Exception as exc:
            out.append(("fit on a 16 x 2^24 CSR, k=8", getattr(exc, "code", repr(exc))))
        marks.append((time.time(), "creating 9,999 instances"))
        made = [client.init("MiniBatchKMeans", n_clusters=2) for _ in range(9_999)]
        marks.append((time.time(), "instances"))
        t = time.perf_counter()
        listed = client.instances()
        out.append((f"instances with {len(listed)} live", f"{time.perf_counter() - t:.3f} s"))
        marks.append((time.time(), "disposing 10,000 instances"))
        for instance in [km, *made]:
            client.dispose(instance)
    marks.append((time.time(), "end"))
    return out


# (time, what) of each hostile request, to say which one the slowest pings overlapped.
marks: list[tuple[float, str]] = []


def during(at: float) -> str:
    current = "before the first request"
    for when, what in marks:
        if when > at:
            break
        current = what
    return current


PINGER = textwrap.dedent(
    """
    import sys, time, json, select
    sys.path.insert(0, sys.argv[2])
    from bridge.client import Client
    pings = []
    with Client(sys.argv[1], timeout=60) as client:
        print("ready", flush=True)
        while not select.select([sys.stdin], [], [], 0)[0]:
            t = time.perf_counter()
            client.ping()
            pings.append((time.time(), time.perf_counter() - t))
            time.sleep(0.002)
    print(json.dumps(pings))
    """
)


def ping_during(endpoint: str, work) -> tuple[list[float], object]:
    """Ping from a separate process (so this process's own work cannot delay the pings)
    while ``work()`` runs here."""
    pinger = subprocess.Popen(
        [sys.executable, "-c", PINGER, endpoint, str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert pinger.stdout is not None and pinger.stdin is not None
    assert pinger.stdout.readline().strip() == b"ready"
    try:
        result = work()
    finally:
        pinger.stdin.write(b"stop\n")
        pinger.stdin.close()
        timed = json.loads(pinger.stdout.readline())
        pinger.wait()
    return timed, result


VICTIM = textwrap.dedent(
    """
    import sys, time, numpy as np
    sys.path.insert(0, sys.argv[2])
    from bridge.client import Client
    c = Client(sys.argv[1], timeout=120)
    X = np.random.default_rng(0).normal(size=(1000, 8))
    for i in range(100):
        c.call(c.init("MiniBatchKMeans", n_clusters=3, random_state=i), "fit", X=X)
    print("ready", flush=True)
    time.sleep(600)
    """
)


def main() -> None:
    with spawn_server(workers=2, extra_args=["--lease-seconds", "2"]) as server:
        pings, replies = ping_during(server.endpoint, lambda: hostile_requests(server.endpoint))
        print("1. ping while hostile requests arrive")
        for what, reply in replies:
            print(f"   {what:42} -> {reply}")
        worst = sorted(pings, key=lambda p: -p[1])[:3]
        took = sorted(p[1] for p in pings)
        print(f"   pings {len(took)}: p50 {statistics.median(took) * 1e3:.2f} ms, "
              f"p99 {took[int(0.99 * len(took))] * 1e3:.2f} ms, "
              f"worst {took[-1] * 1e3:.2f} ms")  # fmt: skip
        for at, seconds in worst:
            print(f"   slowest: {seconds * 1e3:.2f} ms during {during(at)}")

        time.sleep(3)  # idle: the server gives back what the hostile requests made it hold
        before = rss(server.pid)
        peak = before
        with Client(server.endpoint, timeout=120) as client:
            X = np.random.default_rng(0).normal(size=(20_000, 32))
            ids = []
            for i in range(1000):
                km = client.init("MiniBatchKMeans", n_clusters=16, random_state=i)
                client.call(km, "fit", X=X[: 200 + 19 * i % 20_000])
                ids.append(km)
                if i % 50 == 0:
                    peak = max(peak, rss(server.pid))
            peak = max(peak, rss(server.pid))
            for km in ids:
                client.dispose(km)
        time.sleep(3)
        after = rss(server.pid)
        print("2. server RSS with 1,000 fitted instances")
        print(f"   before {before / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, after disposing "
              f"all {after / MiB:.1f} MiB ({after / before:.2f}x of before)")  # fmt: skip

        victim = subprocess.Popen(
            [sys.executable, "-c", VICTIM, server.endpoint, str(ROOT)], stdout=subprocess.PIPE
        )
        assert victim.stdout is not None and victim.stdout.readline().strip() == b"ready"
        with Client(server.endpoint, timeout=60) as client:
            owned = len(client.instances())
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            killed = time.monotonic()
            while client.instances():
                time.sleep(0.01)
            took = time.monotonic() - killed
        print("3. reaping")
        print(f"   {owned} instances of a SIGKILLed client reaped {took:.2f} s after the kill "
              "(lease 2 s, checked every 0.5 s)")  # fmt: skip


if __name__ == "__main__":
    main()
