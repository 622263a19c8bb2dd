"""Partition offsets in bulk: low/high watermarks and offsets for timestamps.

One ListOffsets call per kind of spec for any number of partitions: librdkafka groups
them into one request per partition leader, so a page over thousands of partitions costs
a few round trips, never one per topic or per partition.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec, _AdminClientImpl

from console.kafka.cache import FRESH, allowed_age, shared
from console.kafka.client import MAX_STRING_BYTES, _too_long, admin_for, timeout, translate
from console.kafka.connection import Connection
from console.kafka.errors import InvalidRequest, KafkaConsoleError, NotFound

Partition = tuple[str, int]  # (topic, partition id)


@dataclass(frozen=True, slots=True)
class Watermarks:
    low: int  # log start offset: the oldest offset still readable
    high: int  # log end offset: the offset the next message will get

    @property
    def count(self) -> int:
        """Offsets between low and high: messages, plus transaction markers and gaps left
        by compaction, so an upper bound on the messages readable."""
        return max(0, self.high - self.low)


def _list(
    cluster: Connection, specs: dict[Partition, OffsetSpec], *, committed_only: bool
) -> dict[Partition, int | KafkaConsoleError]:
    return _retry_failed(
        cluster, specs, _list_once(cluster, specs, committed_only=committed_only), committed_only
    )


def _retry_failed(
    cluster: Connection,
    specs: dict[Partition, OffsetSpec],
    out: dict[Partition, int | KafkaConsoleError],
    committed_only: bool,
) -> dict[Partition, int | KafkaConsoleError]:
    failed = [p for p, v in out.items() if isinstance(v, KafkaConsoleError)]
    if not failed:
        return out
    # librdkafka fails a whole batch (NOT_LEADER for every partition of the topic) when one
    # requested partition does not exist, and a leader may have just moved: check the
    # metadata once, report missing partitions as such, and ask again for the rest.
    known: dict[str, set[int]] = {}
    try:
        md = admin_for(cluster).list_topics(timeout=timeout())
    except KafkaException as exc:
        raise translate(exc, what="listing offsets") from None
    for name, t in md.topics.items():
        known[name] = set(t.partitions) if t.error is None else set()
    retry = {}
    for t, p in failed:
        if p in known.get(t, set()):
            retry[(t, p)] = specs[(t, p)]
        else:
            out[(t, p)] = NotFound(f"topic {t!r} has no partition {p}")
    out.update(_list_once(cluster, retry, committed_only=committed_only))
    return out


def _list_once(
    cluster: Connection, specs: dict[Partition, OffsetSpec], *, committed_only: bool
) -> dict[Partition, int | KafkaConsoleError]:
    return _results(_ask(cluster, specs, committed_only=committed_only))


# AdminClient.list_offsets wraps the client's own call (its base class's, which answers one
# future with a dict: TopicPartition -> ListOffsetsResultInfo or KafkaError) in a future per
# partition, each with its lock and callback. A messages page asks for two batches of its
# topic's partitions: 12 partitions cost 0.23 ms of CPU through the wrapper, 0.08 ms through
# the call itself (medians of 300 on a local broker), and their answers came 0.2 ms sooner.
# So the call itself is used, and the wrapper where a client lacks it (or refuses it).
_C_LIST_OFFSETS = getattr(_AdminClientImpl, "list_offsets", None)


@dataclass(frozen=True, slots=True)
class _Asked:
    """One ListOffsets batch sent: `answer`, the one future of the client's own call, or
    `futures`, the wrapper's future per partition (collected by `_results`)."""

    request: list[TopicPartition]
    answer: concurrent.futures.Future | None = None
    futures: dict[TopicPartition, Any] | None = None


def _ask(
    cluster: Connection, specs: dict[Partition, OffsetSpec], *, committed_only: bool
) -> _Asked:
    """Send one ListOffsets batch (answered through `_results`)."""
    if not specs:
        return _Asked([], futures={})
    # The only names in the request are the topics': checked once each here, so the call
    # skips the client guard's walk over every TopicPartition (hundreds on a large topic).
    for topic in {t for t, _p in specs}:
        if size := _too_long(topic):
            raise InvalidRequest(
                f"the Kafka client refused the input: a name or value of {size} bytes "
                f"(Kafka takes at most {MAX_STRING_BYTES})"
            )
    isolation = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
    try:
        admin = admin_for(cluster).unchecked  # a client refused its settings: translated
        if _C_LIST_OFFSETS is not None:
            # What the wrapper sends: each partition with its spec's value as the offset.
            request = [TopicPartition(t, p, int(spec._value)) for (t, p), spec in specs.items()]
            answer: concurrent.futures.Future = concurrent.futures.Future()
            answer.set_running_or_notify_cancel()
            try:
                _C_LIST_OFFSETS(
                    admin,
                    request,
                    answer,
                    isolation_level_value=isolation.value,
                    request_timeout=timeout(),
                )
                return _Asked(request, answer=answer)
            except TypeError:  # a client whose call takes other arguments: the wrapper's
                pass
        by_tp = {TopicPartition(t, p): spec for (t, p), spec in specs.items()}
        futures = admin.list_offsets(by_tp, isolation_level=isolation, request_timeout=timeout())
        return _Asked(list(futures), futures=futures)
    except KafkaException as exc:
        raise translate(exc, what="listing offsets") from None
    except (ValueError, TypeError) as exc:  # what the guard turns into InvalidRequest
        raise translate(exc, what="listing offsets") from exc


def _results(asked: _Asked) -> dict[Partition, int | KafkaConsoleError]:
    """Each partition's offset, or its error (translated), as the batch was answered."""
    out: dict[Partition, int | KafkaConsoleError] = {}
    if asked.futures is not None:
        for tp, fut in asked.futures.items():
            try:
                out[(tp.topic, tp.partition)] = fut.result(timeout=timeout() + 1).offset
            except Exception as exc:  # noqa: BLE001 - kept per partition, translated
                out[(tp.topic, tp.partition)] = translate(exc, what=f"{tp.topic}[{tp.partition}]")
        return out
    try:
        got = asked.answer.result(timeout=timeout() + 1)
    except Exception as exc:  # noqa: BLE001 - the whole batch failed: each partition says why
        return {
            (tp.topic, tp.partition): translate(exc, what=f"{tp.topic}[{tp.partition}]")
            for tp in asked.request
        }
    for tp in asked.request:
        value = got.get(tp)  # keys compare by topic and partition
        if isinstance(value, KafkaError):
            value = KafkaException(value)
        elif value is None:
            value = KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
        if isinstance(value, KafkaException):
            out[(tp.topic, tp.partition)] = translate(value, what=f"{tp.topic}[{tp.partition}]")
        else:
            out[(tp.topic, tp.partition)] = value.offset
    return out


def watermarks(
    cluster: Connection,
    partitions: Iterable[Partition],
    *,
    committed_only: bool = False,
    max_age: float | None = None,
) -> dict[Partition, Watermarks | KafkaConsoleError]:
    """Low and high watermark of each partition; a partition that failed maps to its error.

    `committed_only` gives the last stable offset as `high` (read_committed consumers stop
    there while a transaction is open). `max_age` (default: what the page layer allows;
    fresh outside a page): the same partitions' answer may be shared with other requests of
    this process: the one in flight, or one that recent (console/kafka/cache.py).
    """
    parts = list(dict.fromkeys(partitions))
    age = allowed_age(max_age)
    if age >= 0 and parts:
        return dict(
            shared(
                cluster.name,
                ("watermarks", cluster.bootstrap_servers, committed_only, frozenset(parts)),
                age,
                lambda: _watermarks(cluster, parts, committed_only),
            )
        )
    return shared(cluster.name, None, FRESH, lambda: _watermarks(cluster, parts, committed_only))


def _watermarks(
    cluster: Connection, parts: list[Partition], committed_only: bool
) -> dict[Partition, Watermarks | KafkaConsoleError]:
    return watermarks_begin(cluster, parts, committed_only=committed_only)()


def watermarks_begin(
    cluster: Connection, partitions: Iterable[Partition], *, committed_only: bool = False
) -> Callable[[], dict[Partition, Watermarks | KafkaConsoleError]]:
    """Send the requests for `partitions`' watermarks now, fresh (never shared); the function
    returned waits for their answers and gives what `watermarks` gives. So a page can ask
    for them while it waits for something else (the topic's metadata)."""
    parts = list(dict.fromkeys(partitions))
    # Both batches are sent before either answer is waited for: one round trip, not two.
    low_specs = {p: OffsetSpec.earliest() for p in parts}
    high_specs = {p: OffsetSpec.latest() for p in parts}
    asked_low = _ask(cluster, low_specs, committed_only=committed_only)
    asked_high = _ask(cluster, high_specs, committed_only=committed_only)

    def answer() -> dict[Partition, Watermarks | KafkaConsoleError]:
        lows = _retry_failed(cluster, low_specs, _results(asked_low), committed_only)
        highs = _retry_failed(cluster, high_specs, _results(asked_high), committed_only)
        out: dict[Partition, Watermarks | KafkaConsoleError] = {}
        for p in parts:
            low, high = lows.get(p), highs.get(p)
            if isinstance(low, KafkaConsoleError):
                out[p] = low
            elif isinstance(high, KafkaConsoleError):
                out[p] = high
            else:
                out[p] = Watermarks(int(low), int(high))
        return out

    return answer


def offsets_for_timestamp(
    cluster: Connection, partitions: Iterable[Partition], timestamp_ms: int
) -> dict[Partition, int | KafkaConsoleError]:
    """Per partition, the earliest offset whose timestamp is >= `timestamp_ms`
    (the high watermark when every message is older)."""
    spec = OffsetSpec.for_timestamp(int(timestamp_ms))
    found = _list(cluster, dict.fromkeys(partitions, spec), committed_only=False)
    missing = [p for p, off in found.items() if isinstance(off, int) and off < 0]
    if missing:  # Kafka answers -1 when no message is that new: the end is the answer
        highs = _list(cluster, {p: OffsetSpec.latest() for p in missing}, committed_only=False)
        found.update(highs)
    return found


def last_stable_offsets(
    cluster: Connection, partitions: Iterable[Partition]
) -> dict[Partition, int | KafkaConsoleError]:
    """Per partition, the last stable offset: the first offset of the oldest transaction still
    open (the high watermark when none is). read_committed consumers read no further.

    One ListOffsets batch (isolation level read_committed) for all the partitions.
    """
    spec = OffsetSpec.latest()
    return _list(cluster, dict.fromkeys(partitions, spec), committed_only=True)
