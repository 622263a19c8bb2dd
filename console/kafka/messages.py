"""Reading records: bounded scans of offset ranges, converted to plain Message dataclasses.

A scan reads given partitions from a start offset up to an end offset snapshotted by the
caller (normally the high watermark when the scan started), in batches
(`consume(num_messages=...)`, never one poll per message). A partition is finished when a
record at or past its end arrives, when the partition-EOF event says its log ends there, or
when the consumer's position passed the end (the last offsets may be transaction markers or
compacted away, which are never delivered). Finished partitions are unassigned, so nothing
is fetched for them. Empty ranges cost nothing: no consumer is created when every range is
empty. A live topic never keeps a scan waiting: the ends are fixed when it starts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from console.kafka.client import pooled_consumer, translate
from console.kafka.connection import Connection
from console.kafka.types import Message

_TS_TYPES = {TIMESTAMP_CREATE_TIME: "create", TIMESTAMP_LOG_APPEND_TIME: "log-append"}
BATCH = 2000
# A short fetch wait: a pooled consumer's previous long poll (at a partition's end) holds
# back the first fetch of its next assignment for up to this long.
READER = {"queued.max.messages.kbytes": 16384, "fetch.wait.max.ms": 1}
# An early read (`EarlyRead`) that started up to this many offsets before a range's start is
# read on, its first records skipped; one further back is moved to the range's start.
EARLY_SLACK = 1000


def to_message(msg) -> Message:
    """A plain Message from a confluent_kafka.Message (which must not carry an error)."""
    ts_type, ts = msg.timestamp()
    headers = msg.headers() or ()
    return Message(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp_ms=ts if ts_type in _TS_TYPES else None,
        timestamp_type=_TS_TYPES.get(ts_type, "none"),
        key=msg.key(),
        value=msg.value(),
        headers=tuple((k, v) for k, v in headers),
    )


@dataclass
class ScanState:
    """Where a scan is: next offset per partition, what is finished, how much was read."""

    ranges: dict[int, tuple[int, int]]  # partition -> (start, end) as asked
    positions: dict[int, int] = field(default_factory=dict)  # next offset to read
    finished: set[int] = field(default_factory=set)
    scanned: int = 0  # records read (matching or not)
    errors: dict[int, str] = field(default_factory=dict)  # partition -> why it was given up
    # partition -> a timestamp no record before its range's start exceeds, when timestamps
    # grow with offsets: that of the first record read
    first_ts: dict[int, int] = field(default_factory=dict)
    # partition -> what finds a first_ts that is only a bound (the largest of its batch)
    first_ts_walk: dict[int, Callable[[], int]] = field(default_factory=dict)
    # partition -> a timestamp no record after its position is below (the same assumption):
    # that of the last record read (or the smallest of its batch)
    last_ts: dict[int, int] = field(default_factory=dict)

    def first_ts_of(self, partition: int) -> int | None:
        """`first_ts`, exact where it can be found (the fast scan leaves a batch's largest
        until asked, as finding the record's own costs a walk of the batch)."""
        walk = self.first_ts_walk.pop(partition, None)
        if walk is not None:
            self.first_ts[partition] = walk()
        return self.first_ts.get(partition)

    @property
    def done(self) -> bool:
        return len(self.finished) == len(self.ranges)

    @property
    def remaining(self) -> int:
        """Offsets left to read (an upper bound on records: markers and gaps count too)."""
        return sum(
            max(0, end - self.positions.get(p, start))
            for p, (start, end) in self.ranges.items()
            if p not in self.finished
        )


Prefilter = Callable[[bytes | None, bytes | None], bool]


def scan(
    cluster: Connection,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    *,
    deadline: float,
    max_records: int | None = None,
    prefilter: Prefilter | None = None,
    batch: int = BATCH,
    early: EarlyRead | None = None,
) -> Iterator[tuple[list[Message], ScanState]]:
    """Read `ranges` (partition -> [start, end)) until every range is read, `deadline`
    (time.monotonic) passes or `max_records` were read; yield (messages, state) per batch.

    `prefilter(key, value)` is a cheap test on the raw bytes: records it rejects are counted
    as scanned but never converted (the search's fast path). The caller may stop early by
    leaving the loop; the consumer is closed either way.

    `early`: a consumer already assigned at guessed starts (`begin_read`), whose first
    fetches may be answered by now; the scan takes it over and moves every partition whose
    guess does not fit its range (see `EarlyRead.fit`). What is read is the same.
    """
    state = ScanState(ranges=dict(ranges))
    for p, (start, end) in ranges.items():
        state.positions[p] = start
        if start >= end:
            state.finished.add(p)
    taken = early.take(topic) if early is not None else None
    if state.done:
        if taken is not None:
            early.close()
        yield [], state
        return
    yielded = False
    ends = {p: end for p, (_s, end) in ranges.items()}
    wanted = {p: start for p, (start, _e) in ranges.items() if p not in state.finished}
    # Records before a range's start, which only an early read delivers, are skipped.
    starts = wanted if taken is not None else None
    with taken if taken is not None else pooled_consumer(cluster, **READER) as c:
        try:
            if taken is not None:
                early.fit(wanted)
            else:
                c.assign([TopicPartition(topic, p, start) for p, start in wanted.items()])
        except KafkaException as exc:
            raise translate(exc, what=f"reading {topic}") from None
        limit = max_records if max_records is not None else float("inf")
        idle_checks = 0
        while not state.done and time.monotonic() < deadline and state.scanned < limit:
            # consume() returns when it has `num_messages` or at its timeout: ask for no more
            # than the ranges still hold, so a short read returns as soon as it is complete,
            # and wait briefly, so offsets never delivered (markers, gaps) cost little.
            wait = max(0.0, min(0.1, deadline - time.monotonic()))
            want = min(batch, state.remaining)
            if limit != float("inf"):
                want = min(want, int(limit - state.scanned))
            try:
                raw = c.consume(num_messages=max(1, want), timeout=wait)
            except KafkaException as exc:
                raise translate(exc, what=f"reading {topic}") from None
            out, newly = _take(raw, state, ends, prefilter, starts)
            if not raw:
                idle_checks += 1
            if not raw or idle_checks % 8 == 0:
                newly += _passed_by_position(c, topic, state, ends)
            if newly and not state.done:
                with contextlib.suppress(KafkaException):
                    c.incremental_unassign([TopicPartition(topic, p) for p in newly])
            yielded = True
            yield out, state
        if not yielded:
            yield [], state


def _take(
    raw: list,
    state: ScanState,
    ends: dict[int, int],
    prefilter: Prefilter | None,
    starts: dict[int, int] | None = None,
) -> tuple[list[Message], list[int]]:
    """One consumed batch: the messages inside the ranges (those the prefilter keeps), and
    the partitions that reached their end (or failed for good) with it; with `starts`
    (an early read's), records before a range's start are passed over."""
    out: list[Message] = []
    newly: list[int] = []
    positions = state.positions
    finished = state.finished
    scanned = 0
    for msg in raw:
        p = msg.partition()
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                if p in ends and msg.offset() >= ends[p] and p not in finished:
                    finished.add(p)
                    positions[p] = max(positions[p], ends[p])
                    newly.append(p)
            elif p in ends and p not in finished and not err.retriable():
                state.errors[p] = translate(err).message
                finished.add(p)
                newly.append(p)
            continue
        if p in finished:
            continue
        if starts is not None and msg.offset() < starts[p]:
            continue
        ts = msg.timestamp()[1]
        if p not in state.first_ts:
            state.first_ts[p] = ts
        state.last_ts[p] = ts
        off = msg.offset()
        end = ends[p]
        if off >= end:
            finished.add(p)
            positions[p] = end
            newly.append(p)
            continue
        scanned += 1
        positions[p] = off + 1
        if prefilter is None or prefilter(msg.key(), msg.value()):
            out.append(to_message(msg))
        if off >= end - 1:
            finished.add(p)
            newly.append(p)
    state.scanned += scanned
    return out, newly


def _passed_by_position(c, topic: str, state: ScanState, ends: dict[int, int]) -> list[int]:
    """Offsets at the end that are never delivered (transaction markers, records removed by
    compaction): the consumer's position tells they are passed."""
    newly = []
    pending = [p for p in ends if p not in state.finished]
    try:
        for tp in c.position([TopicPartition(topic, p) for p in pending]):
            if tp.offset >= 0 and tp.offset >= ends[tp.partition]:
                state.finished.add(tp.partition)
                state.positions[tp.partition] = ends[tp.partition]
                newly.append(tp.partition)
    except KafkaException:
        pass
    return newly


class EarlyRead:
    """A pooled consumer assigned at guessed start offsets before the caller knows the
    ranges it will read (the newest page guesses from the last watermarks it saw, while
    the fresh ones are asked for): the fetches run during that round trip, not after it.

    `scan(..., early=...)` takes it over (`take`, then `fit`); `close` gives the consumer
    back to the pool when no scan took it (idempotent; a with-block does it too)."""

    def __init__(self, cluster: Connection, topic: str, starts: dict[int, int]) -> None:
        self.topic = topic
        self.starts = dict(starts)
        self._cm = pooled_consumer(cluster, **READER)
        self._consumer = self._cm.__enter__()
        self._open = True
        self._taken = False
        try:
            self._consumer.assign([TopicPartition(topic, p, o) for p, o in self.starts.items()])
        except BaseException:
            self.close()
            raise

    def take(self, topic: str) -> EarlyRead | None:
        """Itself, for the one scan of its topic that uses it (then closed by that scan)."""
        if not self._open or self._taken or topic != self.topic:
            return None
        self._taken = True
        return self

    def fit(self, wanted: dict[int, int]) -> None:
        """Make the assignment `wanted` (partition -> start): a partition read from a guess
        at or up to EARLY_SLACK before its start reads on; any other is moved or dropped."""
        c = self._consumer
        keep = {
            p for p, o in self.starts.items() if p in wanted and 0 <= wanted[p] - o <= EARLY_SLACK
        }
        drop = [TopicPartition(self.topic, p) for p in self.starts if p not in keep]
        if drop:
            c.incremental_unassign(drop)
        add = [TopicPartition(self.topic, p, o) for p, o in wanted.items() if p not in keep]
        if add:
            c.incremental_assign(add)

    def __enter__(self) -> Consumer:
        return self._consumer

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            self._cm.__exit__(*exc)

    def close(self) -> None:
        self.__exit__(None, None, None)


def begin_read(cluster: Connection, topic: str, starts: dict[int, int]) -> EarlyRead | None:
    """An `EarlyRead` of `topic` from `starts`, or None when there is nothing to read or the
    consumer cannot be had now (the scan then assigns its own, as without one)."""
    if not starts:
        return None
    try:
        return EarlyRead(cluster, topic, starts)
    except Exception:  # noqa: BLE001 - a guess is an optimisation; the scan reports errors
        return None
