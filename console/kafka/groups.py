"""Consumer groups: listings, descriptions, committed offsets, lag inputs, resets, deletes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

from console.kafka.client import admin_for, consumer, timeout, translate, wait, wait_all
from console.kafka.connection import Connection
from console.kafka.errors import KafkaConsoleError, NotFound

Partition = tuple[str, int]

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
    name = getattr(value, "name", None) or str(value or "UNKNOWN")
    return STATE_NAMES.get(name, name.title())


def _type(value: object) -> str:
    name = (getattr(value, "name", "") or "").lower()
    return "" if name in ("", "unknown") else name


def group_listings(cluster: Connection) -> list[GroupListing]:
    """Every consumer group with its state and protocol type (one ListGroups request)."""
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


def group_descriptions(
    cluster: Connection, group_ids: list[str]
) -> dict[str, GroupDescription | KafkaConsoleError]:
    """Members and assignments of each group, in one batched request."""
    if not group_ids:
        return {}
    try:
        futures = admin_for(cluster).describe_consumer_groups(
            list(group_ids), request_timeout=timeout()
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
    """Committed offsets of each group (all its partitions), fetched concurrently.

    The OffsetFetch API is one group per request, so the requests are sent at once and
    awaited together: N groups cost about one round trip, not N.
    """
    admin = admin_for(cluster)
    futures = {}
    for gid in group_ids:
        try:
            futures.update(
                admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(gid)], request_timeout=timeout()
                )
            )
        except KafkaException as exc:
            raise translate(exc, what=f"offsets of {gid}") from None
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


def offsets_alter(
    cluster: Connection, group_id: str, offsets: dict[Partition, int]
) -> dict[Partition, int]:
    """Commit `offsets` for a group with no active members; returns what Kafka stored."""
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(t, p, off) for (t, p), off in sorted(offsets.items())]
    )
    try:
        futures = admin_for(cluster).alter_consumer_group_offsets(
            [request], request_timeout=timeout()
        )
    except KafkaException as exc:
        raise translate(exc, what=f"resetting {group_id}") from None
    res = wait(futures[group_id], what=f"resetting offsets of {group_id!r}")
    errors = [tp for tp in res.topic_partitions if tp.error is not None]
    if errors:
        raise translate(errors[0].error, what=f"{errors[0].topic}[{errors[0].partition}]")
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def group_delete(cluster: Connection, group_id: str) -> None:
    """Delete a group (Kafka refuses while it has members)."""
    try:
        futures = admin_for(cluster).delete_consumer_groups([group_id], request_timeout=timeout())
    except KafkaException as exc:
        raise translate(exc, what=f"deleting {group_id}") from None
    wait(futures[group_id], what=f"deleting group {group_id!r}")


def data_records_between(
    cluster: Connection, tp: Partition, start: int, end: int, max_seconds: float = 2.0
) -> int | None:
    """How many records a read_committed consumer gets in [start, end) of one partition.

    0 means the gap holds only transaction markers (or aborted records): a consumer there
    has read everything. None when the bound ran out before the answer was known.
    """
    if end <= start:
        return 0
    topic, partition = tp
    deadline = time.monotonic() + max_seconds
    count = 0
    with consumer(cluster, **{"isolation.level": "read_committed"}) as c:
        c.assign([TopicPartition(topic, partition, start)])
        while time.monotonic() < deadline:
            for msg in c.consume(num_messages=500, timeout=0.3):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        return count
                    continue
                if msg.offset() >= end:
                    return count
                count += 1
            pos = c.position([TopicPartition(topic, partition)])[0].offset
            if pos >= end:
                return count
    return None


__all__ = ["NotFound", "STATES"]
