"""Size on disk: every broker's log directories and the replicas in them (DescribeLogDirs).

confluent-kafka has no DescribeLogDirs, so this module speaks it through kafka-python's
admin client (the API version is negotiated with the broker). The client is short-lived and
always closed; the whole call is bounded by the cluster timeout and its result is cached per
cluster for CACHE_S (a size need not be live; polling pages would otherwise ask every broker
every few seconds). It never raises for a cluster it cannot ask: the result says why
(`LogDirs.reason`), and the pages leave the sizes out with that one line.

Connections use the cluster's librdkafka settings mapped to kafka-python's
(console/kafka/security.py: PLAINTEXT, SSL with files or PEM text, SASL PLAIN / SCRAM over
either). Anything else (GSSAPI, OAUTHBEARER, key stores) is reported as not available for
that security setting.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.kafka.client import timeout
from console.kafka.connection import Connection
from console.kafka.security import Unsupported, security

with warnings.catch_warnings():
    # kafka-python reads its protocol schemas with importlib.resources calls that warn.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors as kafka_errors
    from kafka.admin import KafkaAdminClient

log = logging.getLogger(__name__)
# kafka-python logs every refused connection and bootstrap retry at ERROR; the answer's
# `reason` says what failed, once, where it matters (this module logs it as a warning).
logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
logging.getLogger("kafka.cluster").setLevel(logging.WARNING)  # "Updated metadata" per client

# Seconds a cluster's log dirs are reused; a failure is retried sooner.
CACHE_S = 30.0
FAILURE_CACHE_S = 10.0


@dataclass(frozen=True, slots=True)
class ReplicaSize:
    """One replica of a partition as a broker stores it."""

    topic: str
    partition: int
    broker: int
    log_dir: str
    size: int  # bytes of its log segments
    offset_lag: int  # for a future replica (being moved between dirs): how far behind
    is_future: bool


@dataclass(frozen=True, slots=True)
class LogDir:
    broker: int
    path: str
    error: str  # "" when the directory is healthy
    size: int  # bytes of the replicas in it
    replicas: int
    total_bytes: int | None  # the volume's size (Kafka 3.3+); None when not reported
    usable_bytes: int | None


@dataclass(frozen=True, slots=True)
class BrokerLogDirs:
    broker: int
    dirs: tuple[LogDir, ...]
    error: str = ""  # the broker did not answer (the others still count)

    @property
    def size(self) -> int:
        return sum(d.size for d in self.dirs)


@dataclass(frozen=True, slots=True)
class LogDirs:
    """The cluster's log dirs at one moment; `reason` says why there are none."""

    cluster: str
    at: float  # epoch seconds of the answer
    brokers: tuple[BrokerLogDirs, ...] = ()
    replicas: tuple[ReplicaSize, ...] = ()
    reason: str = ""
    _by_partition: dict[tuple[str, int], list[ReplicaSize]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for r in self.replicas:
            if not r.is_future:
                self._by_partition.setdefault((r.topic, r.partition), []).append(r)

    @property
    def available(self) -> bool:
        return not self.reason

    @property
    def complete(self) -> bool:
        """Every broker answered: topic sizes are not missing a broker's replicas."""
        return self.available and not any(b.error for b in self.brokers)

    def partition_replicas(self, topic: str, partition: int) -> list[ReplicaSize]:
        return self._by_partition.get((topic, partition), [])

    def replica_size(self, topic: str, partition: int, broker: int) -> int | None:
        """Bytes of one broker's replica of the partition; None when it reported none."""
        for r in self.partition_replicas(topic, partition):
            if r.broker == broker:
                return r.size
        return None

    def partition_size(self, topic: str, partition: int) -> int | None:
        """Bytes of the partition's largest replica (one copy); None when none reported."""
        sizes = [r.size for r in self.partition_replicas(topic, partition)]
        return max(sizes) if sizes else None

    def topic_sizes(self) -> dict[str, int]:
        """Bytes on disk per topic: every replica on every broker that answered."""
        out: dict[str, int] = {}
        for r in self.replicas:
            if not r.is_future:
                out[r.topic] = out.get(r.topic, 0) + r.size
        return out

    def broker(self, broker_id: int) -> BrokerLogDirs | None:
        return next((b for b in self.brokers if b.broker == broker_id), None)


def kafka_python_config(cluster: Connection) -> dict[str, Any]:
    """kafka-python admin settings equivalent to the cluster's librdkafka ones (secrets
    included: never render). Raises Unsupported with the settings at fault
    (console/kafka/security.py)."""
    sec = security(cluster.client_config())
    out: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in cluster.bootstrap_servers.split(",") if s.strip()],
        "security_protocol": sec.protocol,
    }
    if sec.mechanism:
        out.update(
            sasl_mechanism=sec.mechanism,
            sasl_plain_username=sec.username,
            sasl_plain_password=sec.password,
        )
    if sec.uses_tls:
        out["ssl_context"] = sec.ssl_context()
    return out


def _describe(cluster: Connection, brokers: list[int] | None) -> LogDirs:
    """Ask each broker for its log dirs (all partitions); one broker failing is its row's
    error, not the whole answer's."""
    wait_ms = int(timeout() * 1000)
    try:
        config = kafka_python_config(cluster)
    except Unsupported as exc:
        return LogDirs(
            cluster.name,
            time.time(),
            reason=f"size not available for this security setting ({exc})",
        )
    try:
        admin = KafkaAdminClient(
            **config,
            client_id="kafka-console-logdirs",
            request_timeout_ms=wait_ms,
            bootstrap_timeout_ms=wait_ms,
            reconnect_backoff_max_ms=1000,
        )
    except kafka_errors.KafkaError as exc:
        return LogDirs(cluster.name, time.time(), reason=f"no broker answered ({_text(exc)})")
    try:
        if brokers is None:
            listed = admin.describe_cluster()["brokers"]
            brokers = sorted(b["broker_id"] for b in listed if not b.get("is_fenced"))
        answers = []
        replicas: list[ReplicaSize] = []
        for broker in brokers:
            try:
                (answer,) = _all_topics(admin, broker)
            except kafka_errors.KafkaError as exc:
                answers.append(BrokerLogDirs(broker, (), _text(exc)))
                continue
            dirs = []
            for d in answer["log_dirs"]:
                found = [
                    ReplicaSize(
                        topic=t["name"],
                        partition=p["partition_index"],
                        broker=broker,
                        log_dir=d["log_dir"],
                        size=p["partition_size"],
                        offset_lag=p.get("offset_lag", 0),
                        is_future=bool(p.get("is_future_key", False)),
                    )
                    for t in d.get("topics", [])
                    for p in t["partitions"]
                ]
                replicas += found
                code = d.get("error_code", 0)
                total, usable = d.get("total_bytes", -1), d.get("usable_bytes", -1)
                dirs.append(
                    LogDir(
                        broker=broker,
                        path=d["log_dir"],
                        error=_error_text(code),
                        size=sum(r.size for r in found if not r.is_future),
                        replicas=sum(1 for r in found if not r.is_future),
                        total_bytes=total if total is not None and total >= 0 else None,
                        usable_bytes=usable if usable is not None and usable >= 0 else None,
                    )
                )
            answers.append(BrokerLogDirs(broker, tuple(sorted(dirs, key=lambda d: d.path))))
        denied = [b for b in answers if "authoriz" in b.error.lower()]
        if answers and len(denied) == len(answers):
            return LogDirs(
                cluster.name,
                time.time(),
                reason="Kafka's ACLs deny the console DescribeLogDirs (Describe on the cluster)",
            )
        if answers and all(b.error for b in answers):
            return LogDirs(
                cluster.name, time.time(), reason=f"no broker answered ({answers[0].error})"
            )
        return LogDirs(cluster.name, time.time(), tuple(answers), tuple(replicas))
    finally:
        admin.close()


def _all_topics(admin: Any, broker: int) -> list[dict]:
    """DescribeLogDirs for every topic on one broker: the request's null topic list.

    The public `describe_log_dirs(None)` first lists every topic and partition through a
    metadata request and then names them all; the protocol's null asks for the same in one
    small request, through kafka-python's own coroutine (the public call where it is gone)."""
    describe = getattr(admin, "_async_describe_log_dirs", None)
    if describe is None:
        return admin.describe_log_dirs(brokers=[broker])
    return admin._manager.run(describe, None, [broker])


def _error_text(code: int) -> str:
    if not code:
        return ""
    err = kafka_errors.for_code(code)
    if err.__name__ == "KafkaStorageError":
        return "offline: the broker cannot read this directory (disk failure?)"
    return f"{err.__name__} ({code})"


def _text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


# --- the cache ----------------------------------------------------------------------------

_cache: dict[str, LogDirs] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="logdirs")


def _bounded(fetch: Callable[[], LogDirs], cluster: Connection) -> LogDirs:
    """`fetch()` within the cluster timeout (plus a little for the connection set-up); a
    broker that keeps the request hanging costs the page no more than that."""
    future = _pool.submit(fetch)
    try:
        return future.result(timeout=timeout() * 2 + 1)
    except concurrent.futures.TimeoutError:
        return LogDirs(
            cluster.name, time.time(), reason=f"no answer within {timeout() * 2 + 1:g} s"
        )
    except Exception as exc:
        log.exception("DescribeLogDirs on %s failed", cluster.name)
        return LogDirs(cluster.name, time.time(), reason=f"the request failed ({_text(exc)})")


def log_dirs(cluster: Connection, *, max_age: float = CACHE_S) -> LogDirs:
    """Every broker's log dirs with the size of each replica, at most `max_age` seconds old
    (FAILURE_CACHE_S for a failed answer). Never raises: `reason` says why sizes are missing.

    One request per cluster at a time: concurrent callers wait for it and share the answer.
    """
    with _locks_guard:
        lock = _locks.setdefault(cluster.name, threading.Lock())
    with lock:
        cached = _cache.get(cluster.name)
        if cached is not None:
            age = time.time() - cached.at
            if age < (max_age if cached.available else min(max_age, FAILURE_CACHE_S)):
                return cached
        found = _bounded(lambda: _describe(cluster, None), cluster)
        if found.reason:
            log.warning("No log dir sizes for %s: %s", cluster.name, found.reason)
        _cache[cluster.name] = found
        return found


def forget_log_dirs(cluster_name: str | None = None) -> None:
    """Drop the cached answer of one cluster (or of all): the next call asks the brokers."""
    if cluster_name is None:
        _cache.clear()
    else:
        _cache.pop(cluster_name, None)


__all__ = [
    "BrokerLogDirs",
    "LogDir",
    "LogDirs",
    "ReplicaSize",
    "forget_log_dirs",
    "kafka_python_config",
    "log_dirs",
]
