"""Copying records byte for byte: read offset ranges, send them to routed targets, resumably.

Retry-safety. Records are sent by an idempotent producer (no duplicates or reordering
within one producer session). The source partitions are read together, each in offset
order; a record goes to its source partition or, when the key decides, to librdkafka's
murmur2 partitioner (as Java clients hash). At a checkpoint every in-flight record is
awaited, then the position reached (next source offset per source partition, next target
offset per target partition) is handed to `checkpoint`, which records it in the Job. A
task redelivered after its worker was killed resumes from that position; what it sent
after the checkpoint may already be in the target, so before sending, each target
partition is read from its checkpoint offset and those records are collected per target
topic (as a multiset of key, value and headers, so arrival order does not matter): a
record found there is counted as delivered and not sent again. The one blind spot: a
record some other producer wrote there in that interval, with the very same key, value and
headers, is taken for ours.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from console.kafka.client import consumer, producer, timeout, translate
from console.kafka.connection import Connection
from console.kafka.errors import KafkaConsoleError
from console.kafka.messages import scan
from console.kafka.offsets import watermarks
from console.kafka.produce import _plain
from console.kafka.types import Message

# (source partition, source offset, key, value, headers, timestamp ms or None)
Rec = tuple[int, int, bytes | None, bytes | None, list | None, int | None]
Target = tuple[str, int]  # (topic, partition)
Route = Callable[[Rec], Target | None]


def message_at(cluster: Connection, topic: str, partition: int, offset: int) -> Message | None:
    """The one record at partition:offset, or None when there is none (deleted, a marker,
    past the end: found by the watermarks, not by waiting for a record that never comes)."""
    marks = watermarks(cluster, [(topic, partition)])[(topic, partition)]
    if isinstance(marks, KafkaConsoleError):
        raise marks
    if not marks.low <= offset < marks.high:
        return None
    deadline = time.monotonic() + timeout()
    for batch, _state in scan(cluster, topic, {partition: (offset, offset + 1)}, deadline=deadline):
        for m in batch:
            if m.offset == offset:
                return m
    return None


BY_KEY = -1  # a target partition left to the producer's partitioner (murmur2, as Java)


def read_ranges(
    cluster: Connection, topic: str, ranges: dict[int, tuple[int, int]], *, batch: int = 2000
) -> Iterator[Rec]:
    """Every record of `ranges` (partition -> [start, end)), each partition in offset order,
    the partitions read together by one consumer (as fast as a plain consume loop)."""
    ends = {p: end for p, (start, end) in ranges.items() if start < end}
    if not ends:
        return
    with consumer(
        cluster, **{"queued.max.messages.kbytes": 65536, "fetch.max.bytes": 52428800}
    ) as c:
        c.assign([TopicPartition(topic, p, ranges[p][0]) for p in ends])
        idle_deadline = time.monotonic() + timeout()
        while ends:
            try:
                msgs = c.consume(num_messages=batch, timeout=0.5)
            except KafkaException as exc:
                raise translate(exc, what=f"reading {topic}") from None
            if not msgs:
                # Markers or compacted offsets at the end are never delivered: positions say.
                for tp in c.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        del ends[tp.partition]
                if ends and time.monotonic() > idle_deadline:
                    raise translate(TimeoutError(), what=f"reading {topic}")
                continue
            idle_deadline = time.monotonic() + timeout()
            for m in msgs:
                p = m.partition()
                end = ends.get(p)
                if end is None:
                    continue
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= end:
                            del ends[p]
                        continue
                    raise translate(err, what=f"reading {topic}[{p}]")
                off = m.offset()
                if off >= end:
                    del ends[p]
                    continue
                ts_type, ts = m.timestamp()
                yield (p, off, m.key(), m.value(), m.headers(), ts if ts_type else None)
                if off >= end - 1:
                    del ends[p]


@dataclass
class CopyReport:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    skipped_resent: int = 0  # found in the target on a resume: not sent again
    unrouted: int = 0  # no destination (route returned None)
    per_target: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> delivered
    per_source: dict[int, int] = field(default_factory=dict)  # source partition -> delivered
    positions: dict[int, int] = field(default_factory=dict)  # next source offset, checkpointed
    target_next: dict[str, int] = field(default_factory=dict)  # next target offset, ditto
    errors: dict[str, int] = field(default_factory=dict)
    cancelled: bool = False
    stopped_on_failure: bool = False
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "skipped_resent": self.skipped_resent,
            "unrouted": self.unrouted,
            "per_target": dict(self.per_target),
            "per_source": {str(k): v for k, v in self.per_source.items()},
            "positions": {str(k): v for k, v in self.positions.items()},
            "target_next": dict(self.target_next),
            "errors": dict(self.errors),
            "cancelled": self.cancelled,
            "stopped_on_failure": self.stopped_on_failure,
            "rate_per_s": round(self.rate),
        }

    @classmethod
    def from_dict(cls, d: dict) -> CopyReport:
        r = cls()
        for k in ("sent", "delivered", "failed", "skipped_resent", "unrouted"):
            setattr(r, k, int(d.get(k, 0)))
        r.per_target = {k: int(v) for k, v in (d.get("per_target") or {}).items()}
        r.per_source = {int(k): int(v) for k, v in (d.get("per_source") or {}).items()}
        r.positions = {int(k): int(v) for k, v in (d.get("positions") or {}).items()}
        r.target_next = {k: int(v) for k, v in (d.get("target_next") or {}).items()}
        r.errors = {k: int(v) for k, v in (d.get("errors") or {}).items()}
        return r


def _tkey(t: Target) -> str:
    return f"{t[0]}:{t[1]}"


def target_ends(cluster: Connection, topics: Iterable[str]) -> dict[str, int]:
    """High watermark of every partition of `topics` ("topic:partition" -> offset)."""
    from console.kafka.cluster import cluster_snapshot
    from console.kafka.offsets import watermarks

    parts = []
    for t in topics:
        snap = cluster_snapshot(cluster, topic=t)
        parts += [(t, p.id) for p in snap.topics[0].partitions]
    out = {}
    for tp, wm in watermarks(cluster, parts, max_age=-1).items():
        if isinstance(wm, Exception):
            raise wm
        out[_tkey(tp)] = wm.high
    return out


def _already_there(cluster: Connection, since: dict[str, int]) -> dict[str, dict]:
    """What was written to each target topic since the checkpoint (the resume check): a
    multiset of (key, value, headers) per topic, so the order records arrived in (several
    source partitions, librdkafka's partitioner) does not matter; each with the partitions
    it was found in."""
    from console.kafka.offsets import watermarks

    parts = [(k.rpartition(":")[0], int(k.rpartition(":")[2])) for k in since]
    now = watermarks(cluster, parts, max_age=-1)
    ranges: dict[str, dict[int, tuple[int, int]]] = {}
    for tp, wm in now.items():
        if isinstance(wm, Exception):
            raise wm
        if wm.high > since[_tkey(tp)]:
            ranges.setdefault(tp[0], {})[tp[1]] = (since[_tkey(tp)], wm.high)
    out: dict[str, dict] = {}
    for topic, rs in ranges.items():
        seen: dict = out.setdefault(topic, {})
        for r in read_ranges(cluster, topic, rs):
            seen.setdefault((r[2], r[3], tuple(r[4] or ())), []).append(r[0])
    return out


def copy_records(
    cluster: Connection,
    records: Iterable[Rec],
    route: Route,
    *,
    report: CopyReport,
    keep_timestamps: bool = False,
    extra_headers: list[tuple[str, bytes]] | None = None,
    checkpoint: Callable[[CopyReport], bool] | None = None,
    checkpoint_every_s: float = 1.0,
    resume_from: dict[str, int] | None = None,
    on_unrouted: Callable[[Rec], None] | None = None,
) -> CopyReport:
    """Send `records` (from where `report.positions` says) to the targets `route` names
    ((topic, partition), the partition BY_KEY to let the key decide; None: not sent).

    `checkpoint(report)` is called with every record sent so far delivered; returning True
    cancels. `resume_from`: the target offsets of the last checkpoint of an interrupted run
    ("topic:partition" -> offset): records found there are not sent again. A failed
    delivery stops the copy (the rest would fail the same way)."""
    p = producer(
        cluster,
        raw=True,
        **{
            "linger.ms": 20,
            "enable.idempotence": True,
            "batch.num.messages": 10000,
            "batch.size": 1048576,
            "compression.type": "lz4",
        },
    )
    found = _already_there(cluster, resume_from) if resume_from else {}
    counts: Counter = Counter()  # (topic, partition) -> delivered in this run
    next_offset: dict[tuple[str, int], int] = {}
    errors: list = []
    sent_pos: dict[int, int] = {}
    per_source = report.per_source
    base_per_target = Counter(report.per_target)

    def delivered(err, msg) -> None:
        if err is not None:
            errors.append(err)
            return
        tp = (msg.topic(), msg.partition())
        counts[tp] += 1
        next_offset[tp] = msg.offset() + 1

    def settle() -> bool:
        """Await every in-flight record; True when all were delivered."""
        deadline = time.monotonic() + max(timeout() * 2, 30)
        while len(p) and time.monotonic() < deadline:
            p.flush(1)
        fold()
        late = "not delivered in time (cluster unreachable?)"
        if len(p):
            if late not in report.errors:  # counted once, however often settle() runs
                report.errors[late] = len(p)
                report.failed += len(p)
            report.stopped_on_failure = True
            return False
        if errors:
            for e in errors:
                text = str(_plain(e, "target", 0))
                report.errors[text] = report.errors.get(text, 0) + 1
            report.failed += len(errors)
            errors.clear()  # counted once, however often settle() runs
            report.stopped_on_failure = True
        return not report.stopped_on_failure

    def fold() -> None:
        """This run's deliveries into the report (counts per target, next offsets)."""
        total = Counter(base_per_target)
        for (t, q), n in counts.items():
            total[f"{t}:{q}"] += n
        report.per_target = dict(total)
        report.delivered = sum(total.values())
        for (t, q), o in next_offset.items():
            report.target_next[f"{t}:{q}"] = o

    started = time.monotonic() - report.elapsed_s
    next_ck = time.monotonic() + checkpoint_every_s
    extra = list(extra_headers or [])
    produce = p.produce
    n = 0
    try:
        for rec in records:
            sp, off, key, value, headers, ts = rec
            target = route(rec)
            if target is None:
                report.unrouted += 1
                if on_unrouted:
                    on_unrouted(rec)
                sent_pos[sp] = off + 1
                continue
            topic, part = target
            hs = (list(headers) + extra) if extra and headers else (extra or headers)
            if found:
                there = found.get(topic)
                want = (key, value, tuple(hs or ()))
                where = there.get(want) if there else None
                if where:
                    # Delivered by the interrupted run: counted, not sent again.
                    report.skipped_resent += 1
                    base_per_target[f"{topic}:{where.pop()}"] += 1
                    per_source[sp] = per_source.get(sp, 0) + 1
                    sent_pos[sp] = off + 1
                    continue
            while True:
                try:
                    if keep_timestamps and ts:
                        produce(
                            topic, value, key, part, on_delivery=delivered, timestamp=ts, headers=hs
                        )
                    else:
                        produce(topic, value, key, part, on_delivery=delivered, headers=hs)
                    break
                except BufferError:
                    p.poll(0.05)
                except KafkaException as exc:
                    raise _plain(exc.args[0], topic, len(value or b"")) from None
            report.sent += 1
            per_source[sp] = per_source.get(sp, 0) + 1
            sent_pos[sp] = off + 1
            n += 1
            if n >= 1000:
                n = 0
                p.poll(0)
                if errors:
                    report.stopped_on_failure = True
                    break
                now = time.monotonic()
                if now >= next_ck:
                    if not settle():
                        report.stopped_on_failure = True
                        break
                    report.positions.update(sent_pos)
                    report.elapsed_s = now - started
                    next_ck = time.monotonic() + checkpoint_every_s
                    if checkpoint and checkpoint(report):
                        report.cancelled = True
                        break
    except KafkaConsoleError:
        # Reading the source failed (or a produce was refused): what was sent is awaited
        # and recorded, so the job's failure says how far it got.
        if settle() and checkpoint:
            report.positions.update(sent_pos)
            report.elapsed_s = time.monotonic() - started
            checkpoint(report)
        raise
    finally:
        ok = settle()
        if ok and not report.stopped_on_failure:
            report.positions.update(sent_pos)
        elif not ok:
            report.stopped_on_failure = True
        report.elapsed_s = time.monotonic() - started
    if checkpoint and not report.stopped_on_failure:
        checkpoint(report)
    return report
