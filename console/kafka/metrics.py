"""Kafka request latency and errors per cluster, and open tail consumers, for /metrics
(console/monitoring.py).

client.py calls `using()` when it hands out a cluster's AdminClient and wraps its waits in
`observed`; tail.py reports its open readers. This module imports nothing but
prometheus_client, so the door stays a leaf.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REQUEST_SECONDS = Histogram(
    "console_kafka_request_duration_seconds",
    "Time waiting for one Kafka admin request (or a batch sent at once), by cluster.",
    ["cluster"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUEST_ERRORS = Counter(
    "console_kafka_request_errors_total",
    "Kafka admin requests that failed, by cluster and error (ClusterUnavailable, NotFound, ...).",
    ["cluster", "error"],
)
SHARED_READS = Counter(
    "console_kafka_shared_reads_total",
    "Cluster metadata and watermark reads by pages and operations: 'shared' answered from "
    "this process's shared copy (or a request in flight), 'load' sent to Kafka for it, "
    "'fresh' sent to Kafka by a caller that may not share (an operation, a task).",
    ["cluster", "outcome"],
)
TAIL_CONSUMERS = Gauge(
    "console_tail_consumers",
    "Kafka consumers open for live tails (one per topic per server process, shared by its "
    "viewers).",
    multiprocess_mode="livesum",
)

# The cluster whose AdminClient this thread (or task) last took: the futures it waits on
# next come from that client.
_cluster: ContextVar[str] = ContextVar("console_kafka_metrics_cluster", default="unknown")


def using(cluster: str) -> None:
    """Attribute the next waits in this context to `cluster`."""
    _cluster.set(cluster)


def observed(wait: Callable[..., Any]) -> Callable[..., Any]:
    """Time each call of a wait helper and count its errors: raised ones, and the ones
    `wait_all` keeps per key."""

    @functools.wraps(wait)
    def timed(*args: Any, **kwargs: Any) -> Any:
        cluster = _cluster.get()
        started = time.perf_counter()
        try:
            result = wait(*args, **kwargs)
        except Exception as exc:
            REQUEST_ERRORS.labels(cluster, type(exc).__name__).inc()
            raise
        finally:
            REQUEST_SECONDS.labels(cluster).observe(time.perf_counter() - started)
        if isinstance(result, dict):
            for value in result.values():
                if isinstance(value, Exception):
                    REQUEST_ERRORS.labels(cluster, type(value).__name__).inc()
        return result

    return timed


def tail_readers_set(count: int) -> None:
    """Tail readers (Kafka consumers) open in this process now."""
    TAIL_CONSUMERS.set(count)


def shared_read(cluster: str, outcome: str) -> None:
    SHARED_READS.labels(cluster=cluster, outcome=outcome).inc()
