"""Producing: one message with its delivery report, and a paced stream with progress.

Keys are hashed like Java clients (murmur2, librdkafka's `murmur2_random`), so the
partition preview (`partition_for`), the actual delivery and any Java producer agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Producer

from console.kafka.client import producer, timeout, translate
from console.kafka.cluster import cluster_snapshot
from console.kafka.connection import Connection
from console.kafka.errors import InvalidRequest, KafkaConsoleError, NotAllowed, NotFound

COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")


def murmur2(data: bytes) -> int:
    """Java's org.apache.kafka.common.utils.Utils.murmur2 (signed 32-bit result)."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = length & ~3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes | None, partitions: int) -> int | None:
    """The partition Java's default partitioner (and ours) picks for `key`; None for a null
    key, which is spread across partitions."""
    if key is None or partitions <= 0:
        return None
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


def _plain(err: KafkaError, topic: str, size: int) -> KafkaConsoleError:
    code = err.code()
    if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
        return NotFound(
            f"Topic {topic!r} does not exist (the console does not create topics "
            "by producing to them).",
            code=err.name(),
        )
    if code in (
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
    ):
        return InvalidRequest(
            f"The message ({size} bytes) is larger than the topic or broker "
            "accepts (max.message.bytes).",
            code=err.name(),
        )
    if code in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED):
        return NotAllowed(
            f"Kafka's ACLs do not allow the console to write to {topic!r}.", code=err.name()
        )
    if code == KafkaError._UNKNOWN_PARTITION:
        return NotFound(f"Topic {topic!r} has no such partition.", code=err.name())
    return translate(err, what=f"producing to {topic}")


def _check_topic(cluster: Connection, topic: str, partition: int | None) -> None:
    """Refuse at once a topic or partition that does not exist: librdkafka would otherwise
    wait for it until message.timeout.ms and then say only "message timed out"."""
    try:
        snap = cluster_snapshot(cluster, topic=topic)
    except NotFound:
        raise NotFound(
            f"Topic {topic!r} does not exist (the console does not create topics "
            "by producing to them)."
        ) from None
    count = snap.topics[0].partition_count if snap.topics else 0
    if count == 0:
        raise NotFound(f"Topic {topic!r} does not exist.")
    if partition is not None and not 0 <= partition < count:
        raise NotFound(
            f"Topic {topic!r} has {count} partitions; there is no partition {partition}."
        )


def produce_one(
    cluster: Connection,
    *,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    partition: int | None = None,
    compression: str = "none",
) -> Delivery:
    """Produce one message and wait for its delivery report."""
    _check_topic(cluster, topic, partition)
    p = producer(cluster, **{"compression.type": compression, "enable.idempotence": True})
    result: list = []
    kwargs = {
        "key": key,
        "value": value,
        "headers": headers or None,
        "on_delivery": lambda err, msg: result.append((err, msg)),
    }
    if partition is not None:
        kwargs["partition"] = partition
    size = len(key or b"") + len(value or b"")
    try:
        p.produce(topic, **kwargs)
    except KafkaException as exc:
        raise _plain(exc.args[0], topic, size) from None
    except BufferError as exc:
        raise InvalidRequest(str(exc)) from None
    remaining = p.flush(timeout() * 2)
    if remaining or not result:
        raise translate(TimeoutError(), what=f"producing to {topic}")
    err, msg = result[0]
    if err is not None:
        raise _plain(err, topic, size)
    ts_type, ts = msg.timestamp()
    return Delivery(msg.topic(), msg.partition(), msg.offset(), ts if ts_type else None)


@dataclass
class StreamReport:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # error text -> count
    cancelled: bool = False
    stopped_on_failure: bool = False
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def count_error(self, text: str, n: int = 1) -> None:
        self.failed += n
        self.errors[text] = self.errors.get(text, 0) + n


Event = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None]


def produce_stream(
    cluster: Connection,
    *,
    topic: str,
    events: Iterator[Event],
    rate: float | None = None,
    partition: int | None = None,
    progress: Callable[[StreamReport], bool] | None = None,
    progress_every_s: float = 0.5,
    compression: str = "lz4",
) -> StreamReport:
    """Produce every event (paced to `rate` a second if given); delivery is awaited.

    `progress(report)` is called about every `progress_every_s`; returning True cancels.
    Failures are counted per error, never dropped silently.
    """
    _check_topic(cluster, topic, partition)
    p = producer(
        cluster,
        raw=True,
        **{
            "linger.ms": 10,
            "compression.type": compression,
            "enable.idempotence": True,
            "batch.num.messages": 10000,
        },
    )
    report = StreamReport()

    def on_delivery(err, msg) -> None:
        if err is None:
            report.delivered += 1
            report.per_partition[msg.partition()] = report.per_partition.get(msg.partition(), 0) + 1
        else:
            report.count_error(str(_plain(err, topic, 0)))

    started = time.monotonic()
    next_report = started + progress_every_s
    extra = {"partition": partition} if partition is not None else {}
    for key, value, headers in events:
        if rate:
            _wait_until(p, started + report.sent / rate)
        _produce_one(p, topic, key, value, headers, on_delivery, extra)
        report.sent += 1
        if report.sent % 1000 == 0:
            p.poll(0)
        if report.failed:
            # Deliveries fail once the cluster is gone or refuses the topic; producing the
            # rest would only fail the same way: stop, and report what was delivered.
            report.stopped_on_failure = True
            break
        now = time.monotonic()
        if now >= next_report:
            p.poll(0)
            report.elapsed_s = now - started
            next_report = now + progress_every_s
            if progress and progress(report):
                report.cancelled = True
                break
    _drain(p, report)
    report.elapsed_s = time.monotonic() - started
    if progress:
        progress(report)
    return report


def _wait_until(p: Producer, due: float) -> None:
    """Serve delivery callbacks until `due` (monotonic), pacing a stream to its rate."""
    # Never a negative timeout: librdkafka reads it as "wait forever".
    while (delay := due - time.monotonic()) > 0:
        p.poll(min(delay, 0.1))


def _produce_one(p: Producer, topic: str, key, value, headers, on_delivery, extra: dict) -> None:
    """Queue one record, letting deliveries drain while the local queue is full."""
    while True:
        try:
            p.produce(
                topic, value=value, key=key, headers=headers, on_delivery=on_delivery, **extra
            )
            return
        except BufferError:
            p.poll(0.05)
        except KafkaException as exc:
            raise _plain(exc.args[0], topic, len(value or b"")) from None
        except (ValueError, TypeError) as exc:  # the raw producer: refused input
            raise translate(exc, what=f"producing to {topic}") from None


def _drain(p: Producer, report: StreamReport) -> None:
    """Wait (bounded) for every queued record; what stays undelivered counts as failed."""
    bound = max(timeout() * 2, 30)
    deadline = time.monotonic() + bound
    while len(p) and time.monotonic() < deadline:
        p.flush(1)
    if undelivered := len(p):
        report.count_error(f"not delivered within {bound:g} s (cluster unreachable?)", undelivered)
