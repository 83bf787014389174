"""Operator counters: requests by op, errors by code, latency, memory, queues, reaping.

The socket loop updates plain counters (a dict increment per request: nothing on the hot
path takes a lock). ``stats`` returns :meth:`Stats.snapshot`; ``--metrics-port`` serves the
same numbers as Prometheus text through ``prometheus_client``, whose scrape thread reads
them through a custom collector.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgpack

if TYPE_CHECKING:
    from bridge.operations import Operations

__all__ = ["Stats", "gauges", "serve_metrics"]

_ERROR_MARK = b"\xa2ok\xc2"
# Latency histogram bucket bounds (seconds) for Prometheus.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Latencies kept for the percentiles of `stats`.
_WINDOW = 10_000


class Stats:
    def __init__(self, gauges: Callable[[], dict[str, int]]) -> None:
        """``gauges()`` reads the current levels (bytes held, queue depths, ...)."""
        self._gauges = gauges
        self.started = time.time()
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.reaped_instances = 0
        self.reaped_sessions = 0
        self._window: deque[float] = deque(maxlen=_WINDOW)
        self._buckets = [0] * (len(_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def request(self, op: str) -> None:
        self.requests[op] += 1

    def error(self, code: str) -> None:
        self.errors[code] += 1

    def reply(self, raw_header: bytes) -> None:
        """Count a worker's packed reply header if it is an error, by its code."""
        # Headers start {"v":..,"id":..,"ok":false: the false (0xc2) right after "ok"
        # tells an error without decoding the (far more common) successes.
        if _ERROR_MARK in raw_header[:24]:
            code = msgpack.unpackb(raw_header).get("error", {}).get("code", "internal")
            self.errors[code] += 1

    def latency(self, seconds: float) -> None:
        self._window.append(seconds)
        self._buckets[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self._latency_sum += seconds
        self._latency_count += 1

    def percentiles(self) -> dict[str, float | None]:
        window = sorted(self._window)
        if not window:
            return {"p50": None, "p90": None, "p99": None, "max": None}
        pick = lambda q: window[min(len(window) - 1, int(q * len(window)))]  # noqa: E731
        return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": window[-1]}

    def snapshot(self) -> dict[str, Any]:
        return {
            "uptime_seconds": time.time() - self.started,
            "requests": dict(self.requests),
            "errors": dict(self.errors),
            "latency_seconds": self.percentiles(),
            "reaped_instances": self.reaped_instances,
            "reaped_sessions": self.reaped_sessions,
            **self._gauges(),
        }

    def collect(self) -> Iterator[Any]:
        """Prometheus metric families (called from prometheus_client's scrape thread)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        requests = CounterMetricFamily(
            "skbridge_requests", "Requests received, by operation", labels=["op"]
        )
        for op, count in list(self.requests.items()):
            requests.add_metric([op], count)
        yield requests
        errors = CounterMetricFamily(
            "skbridge_errors", "Error replies sent, by code", labels=["code"]
        )
        for code, count in list(self.errors.items()):
            errors.add_metric([code], count)
        yield errors
        reaped = CounterMetricFamily(
            "skbridge_reaped_instances", "Instances disposed because their lease expired"
        )
        reaped.add_metric([], self.reaped_instances)
        yield reaped
        cumulative, buckets = 0, []
        for bound, count in zip((*_BUCKETS, float("inf")), list(self._buckets), strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        latency = HistogramMetricFamily(
            "skbridge_request_latency_seconds", "Time from receiving a request to its reply"
        )
        latency.add_metric([], buckets, self._latency_sum)
        yield latency
        for name, value in self._gauges().items():
            yield GaugeMetricFamily(f"skbridge_{name}", name.replace("_", " "), value=value)


def gauges(ops: Operations) -> dict[str, int]:
    """The current sizes the server reports: held objects, memory, jobs."""
    return {
        "instances": len(ops.registry),
        "datasets": len(ops.datasets),
        "sessions": len(ops.sessions),
        "bytes_held": ops.budget.held,
        "bytes_pending": ops.budget.pending,
        "bytes_reserved": ops.budget.reserved,
        "jobs_running": ops.scheduler.running(),
        "jobs_queued": ops.scheduler.queued(),
    }


def serve_metrics(stats: Stats, port: int, address: str = "127.0.0.1") -> Any:
    """Serve ``stats`` as Prometheus text on ``address:port``; returns the HTTP server."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(stats)
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return server
