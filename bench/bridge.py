"""Bridge overhead against a bare ZeroMQ floor measured in the same run.

Three measurements, each printed with its ratio to the baseline:

1. Small-call round trip (p50 and p99 over many calls): bridge ``ping`` and a small
   ``get`` (``n_features_in_``) against a bare pyzmq DEALER -> ROUTER echo of a small
   msgpack header, in a separate process on the same kind of endpoint.
2. Bulk transfer (MB/s, median): an 8/80/400 MB float64 X sent through the full
   request path (receive, header checks, queue, worker, zero-copy decode, validation) of a
   ``call`` to ``fit`` whose ``y`` is deliberately invalid, so the reply is a small
   ``invalid_params`` error and no estimator work is timed. The floor sends the same
   header + buffer to a bare ROUTER that answers with a small ack.
3. Fit: make_blobs n=100k d=32 k=8 fitted over the bridge (X transfer included) against
   the same fit in this process; median of ``--repeats``.

The floors are kept honest: the echo server is a separate process on the same kind of
endpoint, and it and its DEALER get the bridge's own tuning (``bridge.sockets.tune_socket``
for the kernel socket buffers, ``bridge.memory.keep_free_memory`` for malloc), so each
ratio measures what the bridge adds, not a tuning difference. Those settings raise the
absolute MB/s of both rows alike. The in-process fit runs with this process's defaults,
as a user's Python would.

Not part of the test run. Usage: ``python bench/bridge.py [--quick] [--endpoint tcp]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq
from sklearn.datasets import make_blobs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.client import Client  # noqa: E402
from bridge.errors import InvalidParams  # noqa: E402
from bridge.launcher import spawn_server  # noqa: E402
from bridge.sockets import tune_socket  # noqa: E402
from estimators import MiniBatchKMeans  # noqa: E402

# The floor: the least a ROUTER server in Python can do per message. It answers a small
# message with itself and a large one with a 2-byte ack, like the bridge's tiny replies.
ECHO_SERVER = textwrap.dedent(
    """
    import sys, zmq
    sys.path.insert(0, sys.argv[2])
    from bridge.memory import keep_free_memory
    from bridge.sockets import tune_socket
    keep_free_memory()  # the bridge server's malloc settings, for the same reason
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.sndhwm = sock.rcvhwm = 0
    tune_socket(sock)  # the bridge's socket options, so the ratio is not a tuning gap
    sock.bind(sys.argv[1])
    print(sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        frames = sock.recv_multipart(copy=False)
        if len(frames) == 2 and frames[1].bytes == b"stop":
            break
        if len(frames) > 2:
            sock.send_multipart([frames[0], b"ok"])
        else:
            sock.send_multipart(frames)
        # Free the request before waiting for the next one, as the bridge does; holding
        # a 400 MB message while the next arrives doubles the page churn.
        del frames
    """
)


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


class Echo:
    def __init__(self, endpoint: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ECHO_SERVER, endpoint, str(ROOT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.endpoint = self.proc.stdout.readline().strip()
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        tune_socket(self.sock)
        self.sock.connect(self.endpoint)

    def round_trip(self, frames: list) -> None:
        self.sock.send_multipart(frames, copy=False)
        self.sock.recv_multipart()

    def close(self) -> None:
        self.sock.send(b"stop")
        self.proc.wait(10)
        self.sock.close()


def time_calls(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def interleaved(fns: dict[str, object], n: int, rounds: int) -> dict[str, list[float]]:
    """Time each function n times per round, alternating between them every round.

    The machine is shared and its speed drifts; alternating in short rounds makes the
    drift hit the floor and the bridge alike, so their ratio stays meaningful.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm up
        time_calls(fn, min(n, 200))
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name] += time_calls(fn, n)
    return samples


def endpoints(kind: str, tmp: str) -> tuple[str | None, str]:
    if kind == "tcp":
        return "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
    return None, f"ipc://{tmp}/echo.sock"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, smaller arrays")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--endpoint", choices=["ipc", "tcp"], default="ipc")
    args = parser.parse_args()
    n_small = 2000 if args.quick else 20000  # per kind, spread over 20 rounds
    sizes_mb = [8, 80] if args.quick else [8, 80, 400]
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        bridge_url, echo_url = endpoints(args.endpoint, tmp)
        echo = Echo(echo_url)
        server = spawn_server(bridge_url, stderr=subprocess.DEVNULL)
        client = Client(server.endpoint, timeout=600)
        try:
            # 1. small round trips
            ping = msgpack.packb({"v": 1, "id": 1, "op": "ping"})
            km = client.init("MiniBatchKMeans", n_clusters=2, random_state=0)
            client.call(km, "fit", X=np.random.default_rng(0).normal(size=(100, 4)))
            small = interleaved(
                {
                    "floor": lambda: echo.round_trip([ping]),
                    "ping": client.ping,
                    "get n_features_in_": lambda: client.get(km, "n_features_in_"),
                },
                n=n_small // 20,
                rounds=20,
            )
            f50, f99 = percentile(small["floor"], 50), percentile(small["floor"], 99)
            rows.append(
                (
                    "round trip: bare zmq echo",
                    f"p50 {f50 * 1e6:.1f} us",
                    f"p99 {f99 * 1e6:.1f} us",
                    "1.00x",
                )
            )
            for label in ("ping", "get n_features_in_"):
                p50, p99 = percentile(small[label], 50), percentile(small[label], 99)
                rows.append(
                    (
                        f"round trip: bridge {label}",
                        f"p50 {p50 * 1e6:.1f} us",
                        f"p99 {p99 * 1e6:.1f} us",
                        f"{p50 / f50:.2f}x p50 / {p99 / f99:.2f}x p99",
                    )
                )

            # 2. bulk transfer
            for mb in sizes_mb:
                X = np.random.default_rng(1).random((mb * 1024 * 1024 // 8 // 64, 64))
                header = msgpack.packb(
                    {
                        "v": 1,
                        "id": 2,
                        "op": "call",
                        "instance": km,
                        "method": "fit",
                        "params": {"X": {}},
                    }
                )

                def bulk_bridge(X=X) -> None:
                    try:
                        client.call(km, "fit", X=X, y=0)
                    except InvalidParams:
                        return
                    raise AssertionError("expected invalid_params")

                # Short transfers are cheap to repeat and noisier: more rounds for them.
                reps = 3 if mb >= 400 else 5 if mb >= 80 else 15
                bulk = interleaved(
                    {
                        "floor": lambda X=X, header=header: echo.round_trip([header, X]),
                        "bridge": bulk_bridge,
                    },
                    n=1,
                    rounds=reps,
                )
                t_floor = statistics.median(bulk["floor"])
                t_bridge = statistics.median(bulk["bridge"])
                size = X.nbytes / 1e6
                rows.append(
                    (
                        f"bulk {mb} MB: bare zmq",
                        f"{size / t_floor:.0f} MB/s",
                        f"{t_floor * 1e3:.1f} ms",
                        "1.00x",
                    )
                )
                rows.append(
                    (
                        f"bulk {mb} MB: bridge",
                        f"{size / t_bridge:.0f} MB/s",
                        f"{t_bridge * 1e3:.1f} ms",
                        f"{t_floor / t_bridge:.2f}x",
                    )
                )
                del X

            # 3. fit
            X, _ = make_blobs(n_samples=100_000, n_features=32, centers=8, random_state=0)
            fit_km = client.init("MiniBatchKMeans", n_clusters=8, random_state=0)

            def local_fit() -> None:
                MiniBatchKMeans(n_clusters=8, random_state=0).fit(X)

            def bridge_fit() -> None:
                client.call(fit_km, "fit", X=X)

            def bridge_send_only() -> None:
                try:
                    client.call(fit_km, "fit", X=X, y=0)
                except InvalidParams:
                    pass

            fit = interleaved(
                {"local": local_fit, "bridge": bridge_fit, "send": bridge_send_only},
                n=1,
                rounds=args.repeats,
            )
            t_local = statistics.median(fit["local"])
            t_remote = statistics.median(fit["bridge"])
            t_send = statistics.median(fit["send"])
            rows.append(
                (
                    "fit 100k x 32, k=8: in process",
                    f"{t_local * 1e3:.0f} ms",
                    f"median of {args.repeats}",
                    "1.00x",
                )
            )
            rows.append(
                (
                    "fit 100k x 32, k=8: bridge",
                    f"{t_remote * 1e3:.0f} ms",
                    f"median of {args.repeats}",
                    f"{t_remote / t_local:.2f}x",
                )
            )
            rows.append(
                (
                    "  of which sending X (25.6 MB)",
                    f"{t_send * 1e3:.0f} ms",
                    "same probe as bulk",
                    "",
                )
            )
            rows.append(
                (
                    "  bridge minus sending X",
                    f"{(t_remote - t_send) * 1e3:.0f} ms",
                    "derived",
                    f"{(t_remote - t_send) / t_local:.2f}x",
                )
            )
        finally:
            client.close()
            server.stop()
            echo.close()

    print(
        f"transport: {args.endpoint}; ratios: bridge/floor for time, floor/bridge for MB/s "
        "(targets: p50 <= 1.3x, bulk >= 0.8x, fit <= 1.2x)"
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
