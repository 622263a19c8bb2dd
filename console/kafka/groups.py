"""Consumer groups: listings, descriptions, committed offsets, lag inputs, resets, deletes."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from console.kafka import offsetfetch
from console.kafka.cache import invalidate, shared
from console.kafka.client import (
    _too_long,
    admin_for,
    consumer,
    pooled_consumer,
    timeout,
    translate,
    wait,
    wait_all,
)
from console.kafka.connection import Connection
from console.kafka.errors import ClusterUnavailable, InvalidRequest, KafkaConsoleError, NotFound
from console.kafka.times import utc_from_ms

Partition = tuple[str, int]
log = logging.getLogger(__name__)

STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "UNKNOWN": "Unknown",
}
STATES = tuple(STATE_NAMES.values())


@dataclass(frozen=True, slots=True)
class GroupListing:
    group_id: str
    state: str
    type: str  # "classic", "consumer" (KIP-848 protocol) or "" where not reported
    is_simple: bool


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[Partition, ...]
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    state: str
    type: str
    assignor: str
    coordinator: int | None
    members: tuple[Member, ...]

    @property
    def active(self) -> bool:
        """Members are connected: Kafka refuses offset changes while they are."""
        return bool(self.members) or self.state in ("PreparingRebalance", "CompletingRebalance")

    def owner_of(self, tp: Partition) -> Member | None:
        return next((m for m in self.members if tp in m.assignment), None)


def _state(value: object) -> str:
    try:
        return _NAMES[("state", value)]
    except (KeyError, TypeError):  # first sight of this value, or an unhashable one
        name = getattr(value, "name", None) or str(value or "UNKNOWN")
        return _remember(("state", value), STATE_NAMES.get(name, name.title()))


def _type(value: object) -> str:
    try:
        return _NAMES[("type", value)]
    except (KeyError, TypeError):
        name = (getattr(value, "name", "") or "").lower()
        return _remember(("type", value), "" if name in ("", "unknown") else name)


# The words for each enum value met: reading an enum member's name costs more than a dict
# look-up, and a listing of 50,000 groups reads two per group.
_NAMES: dict[tuple[str, object], str] = {}


def _remember(key: tuple[str, object], word: str) -> str:
    try:
        if len(_NAMES) < 64:
            _NAMES[key] = word
    except TypeError:
        pass
    return word


def group_listings(
    cluster: Connection, *, max_age: float | None = None, stale_s: float = 0.0
) -> list[GroupListing]:
    """Every consumer group with its state and protocol type (one ListGroups request).

    With `max_age` (the group list page: its list index), the answer may come from the
    process's shared one that recent, or up to `stale_s` older while a newer one is read in
    the background (console/kafka/cache.py)."""
    if max_age is None:
        return _group_listings(cluster)
    return shared(
        cluster.name, "group_listings", max_age, lambda: _group_listings(cluster), stale_s=stale_s
    )


def _group_listings(cluster: Connection) -> list[GroupListing]:
    result = wait(
        admin_for(cluster).list_consumer_groups(request_timeout=timeout()), what="consumer groups"
    )
    if result.errors:
        # Some brokers did not answer: a partial list would silently hide groups.
        raise translate(result.errors[0], what="listing consumer groups")
    out = [
        GroupListing(
            g.group_id,
            _state(g.state),
            _type(getattr(g, "type", None)),
            bool(g.is_simple_consumer_group),
        )
        for g in result.valid
    ]
    return sorted(out, key=lambda g: g.group_id)


# librdkafka's own timeout for the requests that go to a group's coordinator (DescribeGroups,
# OffsetCommit, DeleteGroups, OffsetFetch), longer than its socket.timeout.ms (60 s): when its
# timer ended such a request and the broker answered later (a broker that stalled longer than
# the cluster timeout), librdkafka 2.15.1 aborted the whole process (assertion
# `eonce->refcnt > 0`, librdkafka issue 4605). Measured with a 1.5 s timeout through 3 s
# stalls: describe aborted 2 runs of 2, offset reset 2 of 2, group delete 2 of 2, OffsetFetch
# 1 of 1; none with this. Requests to any broker or the controller (topics, configs, ACLs,
# ListOffsets, ListGroups, DeleteRecords) survived the same stalls. A page or job still waits
# no longer than the cluster timeout (wait, wait_all); the request left behind ends when the
# broker answers or its connection times out.
COORDINATOR_REQUEST_S = 90.0


def _coordinator_timeout() -> float:
    return max(COORDINATOR_REQUEST_S, timeout())


def _outcome_unknown(exc: KafkaConsoleError, change: str) -> KafkaConsoleError:
    """A write whose answer did not come within the cluster timeout may still be applied
    when the broker answers: the message says so, instead of implying nothing changed."""
    if type(exc) is not ClusterUnavailable:
        return exc
    return ClusterUnavailable(
        f"{exc.message}. Kafka may still {change} when the broker answers: look at the "
        "group before trying again.",
        code=exc.code,
    )


def group_descriptions(
    cluster: Connection, group_ids: list[str]
) -> dict[str, GroupDescription | KafkaConsoleError]:
    """Members and assignments of each group, in one batched request.

    The wait is bounded by the cluster timeout here (wait_all); librdkafka's own timeout
    for the request is COORDINATOR_REQUEST_S."""
    if not group_ids:
        return {}
    try:
        futures = admin_for(cluster).describe_consumer_groups(
            list(group_ids), request_timeout=_coordinator_timeout()
        )
    except KafkaException as exc:
        raise translate(exc, what="describing groups") from None
    out: dict[str, GroupDescription | KafkaConsoleError] = {}
    for gid, res in wait_all(futures, what="describing groups").items():
        if isinstance(res, KafkaConsoleError):
            out[gid] = res
            continue
        members = tuple(
            Member(
                member_id=m.member_id,
                client_id=m.client_id,
                host=m.host,
                assignment=tuple(
                    sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions or []))
                ),
                instance_id=m.group_instance_id,
            )
            for m in res.members
        )
        out[gid] = GroupDescription(
            group_id=gid,
            state=_state(res.state),
            type=_type(getattr(res, "type", None)),
            assignor=res.partition_assignor or "",
            coordinator=res.coordinator.id if res.coordinator else None,
            members=members,
        )
    return out


def committed_offsets(
    cluster: Connection, group_ids: list[str]
) -> dict[str, dict[Partition, int] | KafkaConsoleError]:
    """Committed offsets of each group (all its partitions); a group that cannot be asked
    gets the reason instead.

    Through kafka-python (console/kafka/offsetfetch.py: librdkafka's admin client crashes
    the process on a coordinator error in an OffsetFetch answer), one request per
    coordinator. Where kafka-python cannot take the cluster's connection settings, through
    librdkafka: one request per group, sent at once and awaited together.
    """
    ids = list(group_ids)
    # The ids are all a request carries: checked once here, not per request (the sampler
    # sends one per group of the cluster).
    if size := _too_long(ids):
        raise InvalidRequest(f"a group id of {size} bytes (Kafka takes at most 32767)")
    try:
        return offsetfetch.committed(cluster, ids)
    except offsetfetch.Unsupported:
        return _committed_offsets_librdkafka(cluster, ids)


def _committed_offsets_librdkafka(
    cluster: Connection, ids: list[str]
) -> dict[str, dict[Partition, int] | KafkaConsoleError]:
    admin = admin_for(cluster)
    request = admin.unchecked.list_consumer_group_offsets
    futures = {}
    for gid in ids:
        try:
            futures.update(
                request([ConsumerGroupTopicPartitions(gid)], request_timeout=_coordinator_timeout())
            )
        except KafkaException as exc:
            raise translate(exc, what=f"offsets of {gid}") from None
        except (ValueError, TypeError) as exc:
            raise translate(exc) from exc
    out: dict[str, dict[Partition, int] | KafkaConsoleError] = {}
    for gid, res in wait_all(futures, what="committed offsets").items():
        if isinstance(res, KafkaConsoleError):
            out[gid] = res
        else:
            out[gid] = {
                (tp.topic, tp.partition): tp.offset
                for tp in res.topic_partitions
                if tp.offset >= 0 and tp.error is None
            }
    return out


# From this many groups on, committed_offsets_many asks each coordinator once for all its
# groups (OffsetFetch v8, Kafka 3.0+) instead of once per group.
MANY_GROUPS = 1000


def committed_offsets_many(
    cluster: Connection, group_ids: list[str]
) -> dict[str, dict[Partition, int] | KafkaConsoleError]:
    """committed_offsets() of many groups (the lag sampler: every group of the cluster).

    KIP-709 lets one OffsetFetch carry many groups, one per coordinator; for 50,000 groups
    that request takes longer than a page's timeout, so it goes through a client of its own
    with a 30 s timeout. On any failure (a security setting kafka-python lacks, an older
    broker, any error), committed_offsets."""
    ids = list(group_ids)
    if len(ids) < MANY_GROUPS:
        return committed_offsets(cluster, ids)
    from console.kafka.logdirs import kafka_python_config

    admin = None
    try:
        from kafka.admin import KafkaAdminClient

        wait_ms = int(max(timeout(), 30.0) * 1000)
        admin = KafkaAdminClient(
            **kafka_python_config(cluster),
            client_id="kafka-console-lag-sampler",
            request_timeout_ms=wait_ms,
            bootstrap_timeout_ms=int(timeout() * 1000),
        )
        return dict(offsetfetch.fetch_with(admin, ids))
    except Exception as exc:  # noqa: BLE001 - Unsupported or any failure: the per-group way
        log.warning("offsets of %d groups in one request per coordinator: %s", len(ids), exc)
        return committed_offsets(cluster, ids)
    finally:
        if admin is not None:
            admin.close()


def offsets_alter(
    cluster: Connection, group_id: str, offsets: dict[Partition, int]
) -> dict[Partition, int]:
    """Commit `offsets` for a group with no active members; returns what Kafka stored.
    Waits no longer than the cluster timeout (librdkafka's own: COORDINATOR_REQUEST_S)."""
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(t, p, off) for (t, p), off in sorted(offsets.items())]
    )
    try:
        futures = admin_for(cluster).alter_consumer_group_offsets(
            [request], request_timeout=_coordinator_timeout()
        )
        res = wait(futures[group_id], what=f"resetting offsets of {group_id!r}")
    except KafkaException as exc:
        raise translate(exc, what=f"resetting {group_id}") from None
    except ClusterUnavailable as exc:
        raise _outcome_unknown(exc, "apply this reset") from None
    finally:
        invalidate(cluster.name)  # a reset may create the group: the list shows it at once
    errors = [tp for tp in res.topic_partitions if tp.error is not None]
    if errors:
        raise translate(errors[0].error, what=f"{errors[0].topic}[{errors[0].partition}]")
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def group_delete(cluster: Connection, group_id: str) -> None:
    """Delete a group (Kafka refuses while it has members). Waits no longer than the cluster
    timeout (librdkafka's own: COORDINATOR_REQUEST_S)."""
    try:
        futures = admin_for(cluster).delete_consumer_groups(
            [group_id], request_timeout=_coordinator_timeout()
        )
        wait(futures[group_id], what=f"deleting group {group_id!r}")
    except KafkaException as exc:
        raise translate(exc, what=f"deleting {group_id}") from None
    except ClusterUnavailable as exc:
        raise _outcome_unknown(exc, "delete it") from None
    finally:
        invalidate(cluster.name)  # the group list's shared listing no longer holds


@dataclass(frozen=True, slots=True)
class Peeked:
    offset: int
    timestamp: dt.datetime | None  # None when the record carries no timestamp


def records_peek(
    cluster: Connection,
    ranges: dict[Partition, tuple[int, int]],
    *,
    read_committed: bool,
    max_seconds: float,
) -> dict[Partition, tuple[Peeked, ...] | None]:
    """The records one consumer receives from each partition's offsets [start, end).

    No consumer receives transaction markers; a read_committed one also skips aborted
    records and stops at the last stable offset. All partitions are read by one short-lived
    consumer within `max_seconds` (at most the request timeout); a partition whose read did
    not finish maps to None.
    """
    todo = {tp: (start, end) for tp, (start, end) in ranges.items() if end > start}
    out: dict[Partition, tuple[Peeked, ...] | None] = {tp: () for tp in ranges if tp not in todo}
    if not todo:
        return out
    deadline = time.monotonic() + min(max_seconds, timeout())
    got: dict[Partition, list[Peeked]] = {tp: [] for tp in todo}
    unfinished = set(todo)
    level = "read_committed" if read_committed else "read_uncommitted"
    # Only a few records are wanted per partition: keep each fetch small.
    with consumer(
        cluster, **{"isolation.level": level, "max.partition.fetch.bytes": 64 * 1024}
    ) as c:
        c.assign([TopicPartition(t, p, start) for (t, p), (start, _end) in todo.items()])
        while unfinished and (left := deadline - time.monotonic()) > 0:
            done = []
            for msg in c.consume(num_messages=500, timeout=min(0.1, left)):
                tp = (msg.topic(), msg.partition())
                if tp not in unfinished:
                    continue
                err = msg.error()
                if err is not None:
                    # The end of what this isolation level can read: the high watermark, or
                    # the last stable offset for read_committed.
                    if err.code() == KafkaError._PARTITION_EOF:
                        done.append(tp)
                    continue
                end = todo[tp][1]
                if msg.offset() < end:
                    kind, ms = msg.timestamp()
                    when = None if kind == TIMESTAMP_NOT_AVAILABLE else utc_from_ms(ms)
                    got[tp].append(Peeked(msg.offset(), when))
                if msg.offset() + 1 >= end:
                    done.append(tp)
            if done:
                unfinished.difference_update(done)
                c.pause([TopicPartition(t, p) for t, p in done])
    for tp in todo:
        out[tp] = None if tp in unfinished else tuple(got[tp])
    return out


@dataclass(frozen=True, slots=True)
class FirstUnread:
    """The first record at or after a start offset (what a consumer positioned there reads
    next). `offset` None: nothing but transaction markers up to the partition's end."""

    offset: int | None
    timestamp: dt.datetime | None  # None when there is no record, or it carries no timestamp


# Wanted starts this close behind the read position are reached by reading on; farther
# ones by a seek (one fetch round trip).
SEEK_GAP = 500


def _when(msg) -> dt.datetime | None:
    kind, ms = msg.timestamp()
    return None if kind == TIMESTAMP_NOT_AVAILABLE else utc_from_ms(ms)


def first_unread(
    cluster: Connection, starts: Iterable[tuple[Partition, int]], *, max_seconds: float
) -> dict[tuple[Partition, int], FirstUnread]:
    """For each (partition, start offset), the first record at or after the start: the oldest
    record a consumer committed at `start` has not read yet, and its timestamp.

    One read_uncommitted consumer from the cluster's warm pool reads every partition, within `max_seconds`
    (at most the request timeout). Several starts on one partition (groups at different
    offsets) are taken in order: reading on to a near one, seeking to a far one. A start
    that was not answered in time is missing from the result.
    """
    wanted: dict[Partition, list[int]] = {}
    for tp, start in starts:
        wanted.setdefault(tp, []).append(max(0, int(start)))
    for tp in wanted:
        wanted[tp] = sorted(set(wanted[tp]))
    out: dict[tuple[Partition, int], FirstUnread] = {}
    if not wanted:
        return out
    deadline = time.monotonic() + min(max_seconds, timeout())
    floor = {tp: offsets[0] for tp, offsets in wanted.items()}  # older offsets are stale
    # One record per wanted start: keep fetches and librdkafka's prefetch small.
    small = {
        "max.partition.fetch.bytes": 16 * 1024,
        "fetch.max.bytes": 1024 * 1024,
        "queued.max.messages.kbytes": 1024,
    }
    paused: list[TopicPartition] = []
    with pooled_consumer(cluster, **small) as c:
        c.assign([TopicPartition(t, p, offsets[0]) for (t, p), offsets in wanted.items()])
        while wanted and (left := deadline - time.monotonic()) > 0:
            for msg in c.consume(num_messages=500, timeout=min(0.1, left)):
                tp = (msg.topic(), msg.partition())
                pending = wanted.get(tp)
                if not pending:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        # Read to the end: only markers (or nothing) from each start on.
                        for start in pending:
                            out[(tp, start)] = FirstUnread(None, None)
                        pending.clear()
                    continue
                offset = msg.offset()
                if offset < floor[tp]:
                    continue
                while pending and pending[0] <= offset:
                    out[(tp, pending.pop(0))] = FirstUnread(offset, _when(msg))
                if pending and pending[0] > offset + 1 + SEEK_GAP:
                    try:
                        c.seek(TopicPartition(tp[0], tp[1], pending[0]))
                        floor[tp] = pending[0]
                    except KafkaException:
                        pass  # not fetching yet: read on instead, slower but as right
            done = [tp for tp, pending in wanted.items() if not pending]
            if done:
                stop = [TopicPartition(t, p) for t, p in done]
                c.pause(stop)
                paused += stop
                for tp in done:
                    del wanted[tp]
        if paused:  # the pooled consumer goes back as it came: nothing paused
            c.resume(paused)
    return out


__all__ = ["NotFound", "STATES"]
