"""Topic writes, and the previews that come before the destructive ones.

Each write is permission-checked, refused on read-only clusters and audited. Each
destructive one first has a plan (`topic_*_plan`) that reads and changes nothing; its
confirmation carries what the preview saw (the partition count, the offsets, the old value)
and the write refuses with PreviewStale when the topic no longer matches it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.kafka import topics as kafka_topics
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import InvalidRequest
from console.kafka.groups import committed_offsets, group_listings
from console.kafka.offsets import Watermarks, watermarks
from console.kafka.produce import partition_for
from topics.selectors import topic_detail_get

# The delete preview looks for committed offsets in at most this many groups.
GROUP_SCAN_LIMIT = 1000
# The add-partitions preview hashes the keys of about this many of the newest records,
# reading for at most KEY_SAMPLE_SECONDS.
KEY_SAMPLE = 500
KEY_SAMPLE_SECONDS = 3.0


class PlanRefused(InvalidRequest):
    """The operation cannot be previewed as asked; `field` names the form field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PreviewStale(InvalidRequest):
    """The topic changed since the preview; the message says how. Preview again."""


def partitions_text(partitions: Iterable[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8", the form parse_partitions reads back."""
    runs: list[list[int]] = []
    for p in sorted(partitions):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _partition_count(cluster: Cluster, topic: str) -> int:
    (info,) = cluster_snapshot(cluster, topic=topic).topics
    return info.partition_count


def _check_count(topic: str, seen: int, now: int) -> None:
    if seen != now:
        raise PreviewStale(
            f"{topic} had {seen} partition{'s' if seen != 1 else ''} in the preview and has "
            f"{now} now: the topic changed. Check the new preview below."
        )


def _marks(cluster: Cluster, topic: str, partitions: list[int]) -> dict[int, Watermarks]:
    found = watermarks(cluster, [(topic, p) for p in partitions])
    out = {}
    for p in partitions:
        mark = found[(topic, p)]
        if not isinstance(mark, Watermarks):
            raise mark
        out[p] = mark
    return out


# --- create -------------------------------------------------------------------------


def topic_create(
    *, user, cluster: Cluster, name: str, partitions: int, replication: int, configs: dict[str, str]
) -> None:
    """Create a topic (operator)."""
    params = {"partitions": partitions, "replication": replication, "configs": configs}
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.create",
        target=name,
        capability=Capability.OPERATE,
        params=params,
    ):
        kafka_topics.topic_create(
            cluster, name=name, partitions=partitions, replication=replication, configs=configs
        )


# --- delete -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupOnTopic:
    group_id: str
    state: str
    partitions: int  # partitions of the topic with a committed offset


@dataclass(frozen=True, slots=True)
class TopicDeletePlan:
    topic: str
    partition_count: int
    messages: int  # high - low summed: an upper bound
    groups: tuple[GroupOnTopic, ...]
    groups_checked: int
    groups_total: int


def topic_delete_plan(*, cluster: Cluster, topic: str) -> TopicDeletePlan:
    """What deleting a topic takes with it: partitions, messages, and the groups with
    committed offsets on it (among the first GROUP_SCAN_LIMIT groups). Changes nothing."""
    detail = topic_detail_get(cluster=cluster, topic=topic)
    listings = group_listings(cluster)
    checked = listings[:GROUP_SCAN_LIMIT]
    committed = committed_offsets(cluster, [g.group_id for g in checked])
    groups = []
    for g in checked:
        offsets = committed.get(g.group_id)
        if isinstance(offsets, dict):
            n = sum(1 for t, _p in offsets if t == topic)
            if n:
                groups.append(GroupOnTopic(g.group_id, g.state, n))
    return TopicDeletePlan(
        topic=topic,
        partition_count=detail.info.partition_count,
        messages=detail.messages,
        groups=tuple(groups),
        groups_checked=len(checked),
        groups_total=len(listings),
    )


def topic_delete(*, user, cluster: Cluster, name: str, seen_partitions: int) -> None:
    """Delete a topic (admin), refused when its partition count is not the preview's."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.delete",
        target=name,
        capability=Capability.ADMIN,
        params={"seen_partitions": seen_partitions},
    ):
        _check_count(name, seen_partitions, _partition_count(cluster, name))
        kafka_topics.topic_delete(cluster, name=name)


# --- add partitions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionsPlan:
    topic: str
    before: int
    after: int
    sampled: int  # newest records read
    keyed: int  # of them with a key
    keys: int  # distinct keys among them
    moved_keys: int  # distinct keys the default partitioner maps elsewhere after the change
    moved_records: int  # sampled records with such a key
    misplaced: int  # keyed records not where murmur2 puts them today: another partitioner
    cut_short: bool  # the time bound ended the sample early

    @property
    def added(self) -> int:
        return self.after - self.before

    @property
    def moved_share(self) -> float:
        return self.moved_keys / self.keys if self.keys else 0.0


def topic_partitions_plan(
    *, cluster: Cluster, topic: str, total: int, sample: int = KEY_SAMPLE
) -> PartitionsPlan:
    """Partition count before and after, and how many keys of the newest ~`sample` records
    the default (murmur2) partitioner sends elsewhere once the count changes. The controller
    validates the request; nothing changes."""
    detail = topic_detail_get(cluster=cluster, topic=topic)
    before = detail.info.partition_count
    if total <= before:
        raise PlanRefused(
            f"The topic has {before} partitions; Kafka can only add, so give more.", field="total"
        )
    try:
        kafka_topics.partitions_add(cluster, name=topic, total=total, validate_only=True)
    except InvalidRequest as exc:
        raise PlanRefused(str(exc), field="total") from None
    marks = {r.info.id: r.marks for r in detail.partitions if r.marks}
    per_partition = math.ceil(sample / max(1, len(marks)))
    records, cut_short = kafka_topics.newest_sample(
        cluster, topic, per_partition=per_partition, marks=marks, max_seconds=KEY_SAMPLE_SECONDS
    )
    keyed = [m for m in records if m.key is not None]
    moved = {m.key for m in keyed if partition_for(m.key, before) != partition_for(m.key, total)}
    return PartitionsPlan(
        topic=topic,
        before=before,
        after=total,
        sampled=len(records),
        keyed=len(keyed),
        keys=len({m.key for m in keyed}),
        moved_keys=len(moved),
        moved_records=sum(1 for m in keyed if m.key in moved),
        misplaced=sum(1 for m in keyed if partition_for(m.key, before) != m.partition),
        cut_short=cut_short,
    )


def topic_partitions_add(
    *, user, cluster: Cluster, name: str, total: int, seen_partitions: int
) -> None:
    """Grow a topic's partition count (admin): keyed data will map to other partitions.
    Refused when the count is no longer the one the preview started from."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.partitions",
        target=name,
        capability=Capability.ADMIN,
        params={"total": total, "seen_partitions": seen_partitions},
    ):
        _check_count(name, seen_partitions, _partition_count(cluster, name))
        kafka_topics.partitions_add(cluster, name=name, total=total)


# --- configs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigPlan:
    topic: str
    key: str
    old: str  # as shown (sensitive values masked)
    old_source: str
    new: str | None  # None: the override goes
    fallback: str | None  # what stays once the override goes; None when Kafka did not say
    fallback_source: str

    @property
    def reset(self) -> bool:
        return self.new is None


def topic_config_plan(*, cluster: Cluster, topic: str, key: str, value: str | None) -> ConfigPlan:
    """key: old value -> new value (or the default it falls back to); the broker validates
    the new value. Nothing changes."""
    current = kafka_topics.topic_config_get(cluster, name=topic, key=key)
    if current is None:
        raise PlanRefused(f"Topics have no config named {key}.", field="name")
    entry = current.entry
    if entry.is_read_only:
        raise PlanRefused(f"{key} is read-only: Kafka does not change it per topic.", field="name")
    if value is None and entry.source != "topic":
        raise PlanRefused(
            f"{key} has no override on this topic: it already follows the "
            f"{entry.source} value {entry.shown_value}.",
            field="reset",
        )
    if value is not None and entry.source == "topic" and entry.value == value:
        raise PlanRefused(
            f"{key} is already {value} on this topic: nothing to change.", field="value"
        )
    try:
        if value is None:
            kafka_topics.configs_alter(
                cluster, name=topic, set_={}, delete=[key], validate_only=True
            )
        else:
            kafka_topics.configs_alter(cluster, name=topic, set_={key: value}, validate_only=True)
    except InvalidRequest as exc:
        raise PlanRefused(str(exc), field="value") from None
    return ConfigPlan(
        topic=topic,
        key=key,
        old=entry.shown_value,
        old_source=entry.source,
        new=value,
        fallback=current.fallback,
        fallback_source=current.fallback_source,
    )


def topic_config_set(
    *, user, cluster: Cluster, name: str, key: str, value: str | None, seen_value: str
) -> None:
    """Set one config override, or remove it when `value` is None (admin). Refused when the
    value it replaces is no longer the one the preview showed."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.config",
        target=name,
        capability=Capability.ADMIN,
        params={"key": key, "value": value, "seen_value": seen_value},
    ) as m:
        current = kafka_topics.topic_config_get(cluster, name=name, key=key)
        now = current.entry.shown_value if current else ""
        if now != seen_value:
            raise PreviewStale(
                f"{key} is {now or '(empty)'} now, not the {seen_value or '(empty)'} the preview "
                "showed: someone changed it. Check the new preview below."
            )
        m.before = {key: now}
        if value is None:
            kafka_topics.configs_alter(cluster, name=name, set_={}, delete=[key])
        else:
            kafka_topics.configs_alter(cluster, name=name, set_={key: value})


# --- purge --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgeRow:
    partition: int
    low: int
    high: int
    below: int  # records before this offset go

    @property
    def deleted(self) -> int:
        return max(0, min(self.below, self.high) - self.low)

    @property
    def low_after(self) -> int:
        return max(self.low, self.below)

    @property
    def left(self) -> int:
        return self.high - self.low_after


@dataclass(frozen=True, slots=True)
class PurgePlan:
    topic: str
    partition_count: int
    offset: int | None  # None: every record there is now
    rows: tuple[PurgeRow, ...]

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.rows)

    @property
    def partitions_text(self) -> str:
        return partitions_text(r.partition for r in self.rows)

    @property
    def below_text(self) -> str:
        """The offsets the confirmation carries: "0:10,1:4"."""
        return ",".join(f"{r.partition}:{r.below}" for r in self.rows)


def topic_purge_plan(
    *, cluster: Cluster, topic: str, partitions: Iterable[int] | None, offset: int | None
) -> PurgePlan:
    """Per chosen partition (None: all), the records a purge below `offset` (None: all there
    are now) would delete and the low watermark before and after. Nothing changes."""
    count = _partition_count(cluster, topic)
    chosen = sorted(range(count) if partitions is None else partitions)
    missing = [p for p in chosen if p >= count]
    if missing:
        raise PlanRefused(
            f"{topic} has {count} partition{'s' if count != 1 else ''} (0-{count - 1}); "
            f"there is no partition {missing[0]}.",
            field="partitions",
        )
    marks = _marks(cluster, topic, chosen)
    rows = []
    for p in chosen:
        mark = marks[p]
        if offset is not None and offset > mark.high:
            raise PlanRefused(
                f"Partition {p} ends at offset {mark.high}; {offset} is beyond its end.",
                field="offset",
            )
        rows.append(PurgeRow(p, mark.low, mark.high, mark.high if offset is None else offset))
    return PurgePlan(topic, count, offset, tuple(rows))


def topic_records_purge(
    *,
    user,
    cluster: Cluster,
    name: str,
    below: dict[int, int],
    seen_partitions: int,
    offset: int | None,
) -> dict[int, int]:
    """Delete the records before the previewed offset of each partition (admin); returns the
    new low watermarks. Refused when the partition count changed or a partition now ends
    before its previewed offset (the topic was recreated)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.purge",
        target=name,
        capability=Capability.ADMIN,
        params={
            "partitions": sorted(below),
            "offset": offset,
            "below": {str(p): off for p, off in sorted(below.items())},
        },
    ) as m:
        _check_count(name, seen_partitions, _partition_count(cluster, name))
        marks = _marks(cluster, name, sorted(below))
        for p, off in sorted(below.items()):
            if off > marks[p].high:
                raise PreviewStale(
                    f"Partition {p} now ends at offset {marks[p].high}, before the previewed "
                    f"{off}: the topic changed. Check the new preview below."
                )
        m.before = {str(p): marks[p].low for p in sorted(below)}
        lows = kafka_topics.records_delete(cluster, name=name, before=below)
        m.after = {str(p): low for p, low in sorted(lows.items())}
        return lows
