"""The live tail's Kafka side: one long-lived, read-only consumer of one topic.

`TailReader` assigns every partition of a topic at its log end (the offsets listed when it
opens, so "live" means what it says) and polls batches of plain `Message`s. It never
subscribes and never commits: librdkafka needs a group id, but with assign() and no commit
the broker never creates a group, so nothing appears next to the real consumer groups.
Partitions added while it runs are picked up from their beginning (everything they hold
was produced after the tail started). It never raises for a broker that went away:
librdkafka reconnects and fetching resumes where it stopped; `TailPoll.problem` says so
meanwhile. A deleted topic or an ACL refusal raise (`NotFound`, `NotAllowed`).

`open_readers()` counts the readers alive in this process (shown on the tail page and
measured by the tests and the benchmark).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import OffsetSpec

from console.kafka import metrics
from console.kafka.client import admin_for, consumer_config, timeout, translate
from console.kafka.errors import (
    ClusterUnavailable,
    KafkaConsoleError,
    NotAllowed,
    NotFound,
)
from console.kafka.messages import to_message
from console.kafka.types import Message

if TYPE_CHECKING:
    from console.kafka.connection import Connection

# How often the reader re-reads the topic's metadata: new partitions, a deleted topic, and
# whether an unreachable cluster is back. Faster while the cluster is unreachable.
REFRESH_S = 2.0
REFRESH_TROUBLE_S = 1.0
# librdkafka's prefetch per reader: bounded, whatever the topic's rate (memory stays flat).
QUEUED_KBYTES = 4096

_open_lock = threading.Lock()
_open: dict[tuple[str, str], int] = {}


def open_readers(cluster: str | None = None, topic: str | None = None) -> int:
    """Tail readers (Kafka consumers) open in this process, optionally for one topic."""
    with _open_lock:
        return sum(
            n
            for (c, t), n in _open.items()
            if (cluster is None or c == cluster) and (topic is None or t == topic)
        )


@dataclass(frozen=True, slots=True)
class TailPoll:
    """What one poll brought: messages in partition order, and the state of the reader."""

    messages: tuple[Message, ...]
    partitions: int  # partitions assigned
    added: tuple[int, ...] = ()  # partitions picked up during this poll
    problem: KafkaConsoleError | None = None  # set while the cluster is unreachable


def _topic_deleted(topic: str) -> NotFound:
    return NotFound(f"Topic {topic!r} does not exist (any more): it was deleted.")


class TailReader:
    """One consumer assigned to every partition of `topic` at its end; never commits.

    Not thread-safe: one thread polls it (the tail hub runs it in its own worker thread).
    """

    def __init__(self, cluster: Connection, topic: str, *, max_messages: int = 1000) -> None:
        self.cluster = cluster
        self.topic = topic
        self.max_messages = max_messages
        self._error: KafkaError | None = None
        self._trouble: KafkaConsoleError | None = None
        self._closed = False
        conf = consumer_config(
            cluster,
            # Never used to subscribe or commit, so the broker never creates this group.
            **{
                "group.id": f"kafka-console-tail-{uuid.uuid4().hex[:12]}",
                "client.id": "kafka-console-tail",
                "enable.partition.eof": False,
                # Offsets gone (retention, purge): go on from the end, never replay a log.
                "auto.offset.reset": "latest",
                "queued.max.messages.kbytes": QUEUED_KBYTES,
                "fetch.wait.max.ms": 100,
                "error_cb": self._on_error,
            },
        )
        try:
            self._consumer = Consumer(conf)
        except KafkaException as exc:
            raise translate(exc, what="creating the tail consumer") from None
        with _open_lock:
            _open[(cluster.name, topic)] = _open.get((cluster.name, topic), 0) + 1
            metrics.tail_readers_set(sum(_open.values()))
        try:
            partitions = self._partitions()
            ends = self._end_offsets(partitions)
            self._consumer.assign(
                [KafkaTopicPartition(topic, p, ends.get(p, OFFSET_END)) for p in partitions]
            )
        except BaseException:
            self.close()
            raise
        self._assigned = set(partitions)
        self._next_refresh = time.monotonic() + REFRESH_S

    # --- life cycle -------------------------------------------------------------------

    def close(self) -> None:
        """Leave the cluster (idempotent). No offsets are committed."""
        if self._closed:
            return
        self._closed = True
        with _open_lock:
            key = (self.cluster.name, self.topic)
            _open[key] = _open.get(key, 1) - 1
            if _open[key] <= 0:
                del _open[key]
            metrics.tail_readers_set(sum(_open.values()))
        with contextlib.suppress(KafkaException, RuntimeError):
            self._consumer.close()

    @property
    def partitions(self) -> int:
        return len(self._assigned)

    # --- polling ----------------------------------------------------------------------

    def poll(self, wait_s: float = 0.05, gather_s: float = 0.0) -> TailPoll:
        """Messages (at most `max_messages`): from the first to arrive within `wait_s`,
        those that arrive within `gather_s` more.

        Raises NotFound when the topic was deleted and NotAllowed when ACLs refuse it;
        an unreachable cluster only sets `problem` until it answers again.
        """
        try:
            # Back soon after a message is there: a quiet topic costs no latency, a busy
            # one comes in batches (fewer, larger batches for the caller to fan out).
            first = self._consumer.poll(wait_s)
            raw = [] if first is None else [first]
            if raw and self.max_messages > 1:
                raw += self._consumer.consume(self.max_messages - 1, gather_s)
        except KafkaException as exc:  # the consumer itself failed (closed, fatal error)
            raise translate(exc, what=f"tailing {self.topic}") from None
        # An error is checked against the metadata before it is reported: librdkafka also
        # says "transport failure" when an idle connection closes and it reconnects at once.
        check = False
        errors = [m.error() for m in raw if m.error() is not None]
        if self._error is not None:
            errors.append(self._error)
            self._error = None
        for err in errors:
            problem = translate(err, what=f"tailing {self.topic}")
            if isinstance(problem, NotAllowed):
                raise problem
            check = True
        messages = [to_message(m) for m in raw if m.error() is None]
        added: tuple[int, ...] = ()
        if check or time.monotonic() >= self._next_refresh:
            added = self._refresh()
        return TailPoll(
            messages=tuple(messages),
            partitions=len(self._assigned),
            added=added,
            problem=self._trouble,
        )

    def _on_error(self, err: KafkaError) -> None:
        # Called from consume(): transport failures, all brokers down, authentication.
        if err.code() != KafkaError._PARTITION_EOF:
            self._error = err

    def _refresh(self) -> tuple[int, ...]:
        """Re-read the metadata: pick up new partitions, notice deletion and recovery."""
        try:
            partitions = self._partitions(limit=min(timeout(), 2.0))
        except ClusterUnavailable as exc:
            self._trouble = exc
            self._next_refresh = time.monotonic() + REFRESH_TROUBLE_S
            return ()
        self._trouble = None
        self._next_refresh = time.monotonic() + REFRESH_S
        added = sorted(set(partitions) - self._assigned)
        if added:
            # New partitions hold only messages produced after the tail started.
            self._consumer.incremental_assign(
                [KafkaTopicPartition(self.topic, p, OFFSET_BEGINNING) for p in added]
            )
            self._assigned.update(added)
        return tuple(added)

    def _partitions(self, limit: float | None = None) -> list[int]:
        try:
            md = self._consumer.list_topics(self.topic, timeout=limit or timeout())
        except KafkaException as exc:
            raise translate(exc, what=f"reading the metadata of {self.topic}") from None
        t = md.topics.get(self.topic)
        if t is None:
            raise _topic_deleted(self.topic)
        if t.error is not None:
            problem = translate(t.error, what=self.topic)
            if isinstance(problem, NotFound):
                raise _topic_deleted(self.topic)
            if isinstance(problem, ClusterUnavailable) and t.partitions:
                return sorted(t.partitions)  # a leader is moving: the partitions are known
            raise problem
        return sorted(t.partitions)

    def _end_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Each partition's log end now (one ListOffsets round trip per leader).

        A partition whose end cannot be listed starts at librdkafka's OFFSET_END instead.
        """
        request = {KafkaTopicPartition(self.topic, p): OffsetSpec.latest() for p in partitions}
        try:
            futures = admin_for(self.cluster).list_offsets(request, request_timeout=timeout())
        except KafkaException as exc:
            raise translate(exc, what=f"listing the end offsets of {self.topic}") from None
        out: dict[int, int] = {}
        for tp, fut in futures.items():
            try:
                offset = fut.result(timeout=timeout() + 1).offset
            except Exception:  # noqa: BLE001 - that partition starts at OFFSET_END
                continue
            if offset >= 0:
                out[tp.partition] = offset
        return out
