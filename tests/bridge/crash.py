"""A client streams partial_fit batches while its server is SIGKILLed and restarted.

Shared by tests/bridge/test_durability.py (a few kills) and bench/durability.py (many).
The server runs with ``--state-dir`` on a fixed endpoint; every batch is sent with an
idempotency key. At each kill the batch in flight (if any) is resent with its key after
the restart. After every restart the instance must equal an in-process replay of the
batches acknowledged so far (plus, at most, the one in flight), and after the resend the
replay of exactly the batches sent: no acknowledged call lost, none applied twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.client import Client
from bridge.launcher import ServerProcess, spawn_server
from estimators import MiniBatchKMeans, dump_model

OPTIONS: dict[str, Any] = {"n_clusters": 8, "random_state": 0, "batch_size": 256}


@dataclass
class CrashReport:
    kills: int = 0
    kills_in_flight: int = 0
    # The batch in flight had been applied (and made durable) before the kill.
    in_flight_applied: int = 0
    acknowledged_lost: int = 0
    applied_twice: int = 0
    mismatches: list[str] = field(default_factory=list)
    final_model_equal: bool = False

    def lines(self) -> list[str]:
        return [
            f"kills survived: {self.kills} ({self.kills_in_flight} with a batch in flight, "
            f"{self.in_flight_applied} of those applied before the kill)",
            f"acknowledged calls lost: {self.acknowledged_lost}",
            f"calls applied twice: {self.applied_twice}",
            f"state mismatches after restart: {len(self.mismatches)}",
            f"final model equals the in-process replay bit for bit: {self.final_model_equal}",
        ]


def replay(batches: list[np.ndarray]) -> tuple[list[np.ndarray], MiniBatchKMeans]:
    """Centers after 0, 1, ..., len(batches) partial_fit calls, and the final estimator."""
    estimator = MiniBatchKMeans(**OPTIONS)
    centers = [np.empty((0, 0))]
    for X in batches:
        estimator.partial_fit(X)
        centers.append(estimator.cluster_centers_.copy())
    return centers, estimator


def _start(endpoint: str, state_dir: str, timeout: float) -> ServerProcess:
    return spawn_server(endpoint, workers=2, state_dir=state_dir, timeout=timeout)


def run(
    endpoint: str,
    state_dir: str,
    batches: list[np.ndarray],
    kills: int,
    *,
    seed: int = 0,
    timeout: float = 60.0,
) -> CrashReport:
    """Stream ``batches`` with ``kills`` SIGKILLs at random batches; return the counts."""
    rng = random.Random(seed)
    expected, final = replay(batches)
    kill_at = set(rng.sample(range(1, len(batches)), kills))
    report = CrashReport()
    server = _start(endpoint, state_dir, timeout)
    # A fixed session, and no lease renewals from a thread that would outlive kills.
    client = Client(endpoint, timeout=timeout, session="crash-client", renew=False)
    try:
        km = client.init("MiniBatchKMeans", instance="crash-km", **OPTIONS)
        for i, X in enumerate(batches):
            key = f"batch-{i}"
            if i in kill_at:
                in_flight = rng.random() < 0.7
                if in_flight:
                    client.submit(
                        "call",
                        instance=km,
                        method="partial_fit",
                        params={"X": X},
                        idempotency_key=key,
                    )
                    # Anywhere from queued to written to replied.
                    time.sleep(rng.uniform(0.0, 0.02))
                server.process.kill()
                server.process.wait()
                report.kills += 1
                report.kills_in_flight += in_flight
                server = _start(endpoint, state_dir, timeout)
                steps = client.get(km, "n_steps_")
                if steps < i:
                    report.acknowledged_lost += i - steps
                elif steps > i + 1 or (steps == i + 1 and not in_flight):
                    report.applied_twice += 1
                else:
                    report.in_flight_applied += steps == i + 1
                _check(client, km, expected, steps, report, f"after kill {report.kills}")
            client.call(km, "partial_fit", idempotency_key=key, X=X)
            if i in kill_at:
                steps = client.get(km, "n_steps_")
                if steps != i + 1:
                    report.applied_twice += steps > i + 1
                    report.acknowledged_lost += steps < i + 1
                _check(client, km, expected, i + 1, report, f"after resending batch {i}")
        report.final_model_equal = client.save(km) == dump_model(final)
        client.dispose(km)
    finally:
        client.close()
        server.stop()
    return report


def _check(
    client: Client, km: str, expected: list[np.ndarray], steps: int, report: CrashReport, when: str
) -> None:
    if not 0 < steps < len(expected):
        report.mismatches.append(f"{when}: n_steps_={steps}")
        return
    centers = client.get(km, "cluster_centers_")
    if not np.array_equal(centers, expected[steps]):
        report.mismatches.append(f"{when}: cluster_centers_ differ from the replay of {steps}")
