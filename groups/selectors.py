"""Reads for the consumer-group pages: list, lag, diagnostics in plain words, lag history."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.utils import timezone

from console.clusters import Cluster
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError, NotFound
from console.kafka.groups import (
    GroupDescription,
    GroupListing,
    Member,
    committed_offsets,
    data_records_between,
    group_descriptions,
    group_listings,
)
from console.kafka.offsets import Watermarks, watermarks
from groups.models import LagSample

PER_PAGE = 50
SORTS = ("group", "lag", "state", "members")
# Lag this small on a partition is checked for transaction markers (a read per partition).
MARKER_CHECK_MAX = 16


# --- lag -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LagRow:
    topic: str
    partition: int
    committed: int | None
    low: int | None
    end: int | None
    owner: Member | None
    markers_only: bool = False  # the gap to the end holds no readable record

    @property
    def lag(self) -> int | None:
        """End offset - committed offset: the figure kafka-consumer-groups prints."""
        if self.committed is None or self.end is None:
            return None
        return max(0, self.end - self.committed)

    @property
    def below_log_start(self) -> bool:
        return self.committed is not None and self.low is not None and self.committed < self.low


@dataclass
class TopicLag:
    topic: str
    lag: int = 0
    no_commit: int = 0
    partitions: int = 0


@dataclass
class GroupLag:
    rows: list[LagRow]
    topics: dict[str, TopicLag] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(r.lag or 0 for r in self.rows)

    @property
    def no_commit(self) -> int:
        return sum(r.committed is None for r in self.rows)

    @property
    def markers(self) -> int:
        return sum(r.lag or 0 for r in self.rows if r.markers_only)


def _lag_rows(committed: dict, description: GroupDescription | None, marks: dict) -> list[LagRow]:
    parts = set(committed)
    if description is not None:
        for m in description.members:
            parts.update(m.assignment)
    rows = []
    for tp in sorted(parts):
        mark = marks.get(tp)
        ok = isinstance(mark, Watermarks)
        rows.append(
            LagRow(
                topic=tp[0],
                partition=tp[1],
                committed=committed.get(tp),
                low=mark.low if ok else None,
                end=mark.high if ok else None,
                owner=description.owner_of(tp) if description else None,
            )
        )
    return rows


def _summarise(rows: list[LagRow]) -> GroupLag:
    lag = GroupLag(rows)
    for r in rows:
        t = lag.topics.setdefault(r.topic, TopicLag(r.topic))
        t.partitions += 1
        t.lag += r.lag or 0
        t.no_commit += r.committed is None
    return lag


def group_lag_get(
    *,
    cluster: Cluster,
    group_id: str,
    description: GroupDescription | None = None,
    check_markers: bool = True,
) -> GroupLag:
    """Per partition committed, log-end and lag (end - committed, as Kafka's tool prints it),
    with partitions that have no commit kept apart, never counted as lag 0."""
    if description is None:
        found = group_descriptions(cluster, [group_id])[group_id]
        description = found if isinstance(found, GroupDescription) else None
    committed = committed_offsets(cluster, [group_id])[group_id]
    if isinstance(committed, KafkaConsoleError):
        raise committed
    rows = _lag_rows(committed, description, {})
    marks = watermarks(cluster, [(r.topic, r.partition) for r in rows])
    rows = _lag_rows(committed, description, marks)
    if check_markers:
        checked = []
        for r in rows:
            if r.lag and r.lag <= MARKER_CHECK_MAX:
                n = data_records_between(cluster, (r.topic, r.partition), r.committed, r.end)
                r = LagRow(
                    r.topic, r.partition, r.committed, r.low, r.end, r.owner, markers_only=n == 0
                )
            checked.append(r)
        rows = checked
    return _summarise(rows)


# --- list ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRow:
    listing: GroupListing
    members: int | None
    topics: tuple[str, ...]
    lag: int | None
    no_commit: int
    growing: bool
    error: str = ""

    @property
    def group_id(self) -> str:
        return self.listing.group_id


@dataclass(frozen=True, slots=True)
class GroupPage:
    rows: list[GroupRow]
    total: int
    page: int
    pages: int
    sort: str
    desc: bool
    sampled_at: dt.datetime | None  # age of the figures used to sort by lag
    states: dict[str, int]


def latest_samples(cluster: Cluster) -> tuple[dt.datetime | None, dict[str, int]]:
    """The lag sampler's latest run for the cluster: when, and each group's total lag."""
    last = (
        LagSample.objects.filter(cluster=cluster.name)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if last is None:
        return None, {}
    totals: dict[str, int] = {}
    for group, lag in LagSample.objects.filter(cluster=cluster.name, at=last).values_list(
        "group", "lag"
    ):
        totals[group] = totals.get(group, 0) + lag
    return last, totals


def growing_groups(cluster: Cluster, group_ids: list[str], runs: int = 3) -> set[str]:
    """Groups whose total lag rose at each of the sampler's last `runs` runs."""
    ats = list(
        LagSample.objects.filter(cluster=cluster.name)
        .order_by("-at")
        .values_list("at", flat=True)
        .distinct()[:runs]
    )
    if len(ats) < runs:
        return set()
    series: dict[str, dict] = {}
    for group, at, lag in LagSample.objects.filter(
        cluster=cluster.name, at__in=ats, group__in=group_ids
    ).values_list("group", "at", "lag"):
        series.setdefault(group, {}).setdefault(at, 0)
        series[group][at] += lag
    out = set()
    for group, by_at in series.items():
        values = [by_at.get(at) for at in sorted(ats)]
        if None not in values and all(a < b for a, b in zip(values, values[1:], strict=False)):
            out.add(group)
    return out


def group_list_for(
    *,
    cluster: Cluster,
    q: str = "",
    state: str = "",
    sort: str = "group",
    desc: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> GroupPage:
    """One page of groups. Page first, then describe: only the shown groups are described
    and their offsets fetched (one request for all their end offsets). Sorting by lag uses
    the lag sampler's latest figures, whose age the page shows."""
    listings = group_listings(cluster)
    states: dict[str, int] = {}
    for g in listings:
        states[g.state] = states.get(g.state, 0) + 1
    q = q.lower()
    shown = [
        g
        for g in listings
        if (not q or q in g.group_id.lower()) and (not state or g.state == state)
    ]
    sort = sort if sort in SORTS else "group"
    sampled_at, sampled = latest_samples(cluster) if sort == "lag" else (None, {})
    shown.sort(key=lambda g: g.group_id)
    if sort == "lag":
        shown.sort(key=lambda g: sampled.get(g.group_id, -1), reverse=not desc)
    elif sort == "state":
        shown.sort(key=lambda g: g.state, reverse=desc)
    elif desc:
        shown.reverse()
    pages = max(1, math.ceil(len(shown) / per_page))
    page = min(max(1, page), pages)
    page_groups = shown[(page - 1) * per_page : page * per_page]
    ids = [g.group_id for g in page_groups]
    descriptions = group_descriptions(cluster, ids)
    committed = committed_offsets(cluster, ids)
    parts = {tp for c in committed.values() if isinstance(c, dict) for tp in c}
    for d in descriptions.values():
        if isinstance(d, GroupDescription):
            for m in d.members:
                parts.update(m.assignment)
    marks = watermarks(cluster, parts)
    growing = growing_groups(cluster, ids)
    rows = []
    for g in page_groups:
        d = descriptions.get(g.group_id)
        c = committed.get(g.group_id)
        if isinstance(c, KafkaConsoleError) or isinstance(d, KafkaConsoleError):
            rows.append(
                GroupRow(
                    g, None, (), None, 0, False, str(c if isinstance(c, KafkaConsoleError) else d)
                )
            )
            continue
        lag = _summarise(_lag_rows(c, d, marks))
        rows.append(
            GroupRow(
                listing=g,
                members=len(d.members) if d else None,
                topics=tuple(sorted(lag.topics)),
                lag=lag.total if lag.rows else None,
                no_commit=lag.no_commit,
                growing=g.group_id in growing,
            )
        )
    return GroupPage(rows, len(shown), page, pages, sort, desc, sampled_at, states)


# --- one group -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diagnosis:
    level: str  # "warn" or "info"
    text: str


@dataclass
class GroupDetail:
    description: GroupDescription
    lag: GroupLag
    diagnoses: list[Diagnosis]
    partitions_per_topic: dict[str, int]
    history: dict[str, list[LagSample]]
    estimates: dict[str, str]


def group_detail_get(*, cluster: Cluster, group_id: str) -> GroupDetail:
    """Everything the group page shows: members, lag per partition, diagnoses, history."""
    description = group_descriptions(cluster, [group_id])[group_id]
    if isinstance(description, KafkaConsoleError):
        raise description
    lag = group_lag_get(cluster=cluster, group_id=group_id, description=description)
    if description.state == "Dead" and not lag.rows:
        raise NotFound(f"No consumer group {group_id!r} on {cluster.name}.")
    snap = cluster_snapshot(cluster)
    per_topic = {t.name: t.partition_count for t in snap.topics if t.name in lag.topics}
    history = lag_history(cluster=cluster, group_id=group_id)
    estimates = {
        t: catch_up_estimate(samples, lag.topics[t].lag)
        for t, samples in history.items()
        if t in lag.topics
    }
    return GroupDetail(
        description,
        lag,
        diagnose(description, lag, per_topic, history),
        per_topic,
        history,
        estimates,
    )


def diagnose(
    d: GroupDescription,
    lag: GroupLag,
    per_topic: dict[str, int],
    history: dict[str, list[LagSample]],
) -> list[Diagnosis]:
    """Plain-word explanations, each backed by figures on the page."""
    out = []
    idle = [m for m in d.members if not m.assignment]
    subscribed = sorted({tp[0] for m in d.members for tp in m.assignment} or set(per_topic))
    partitions = sum(per_topic.get(t, 0) for t in subscribed)
    if idle and d.state == "Stable" and d.members:
        topics = ", ".join(f"{t} has {per_topic.get(t, '?')} partitions" for t in subscribed)
        out.append(
            Diagnosis(
                "warn",
                (
                    f"{len(idle)} of {len(d.members)} consumers have no partition: {topics}; "
                    "members of one group never share a partition, so consumers beyond the partition "
                    "count stand by (they take over if another leaves)."
                    if len(d.members) > partitions
                    else f"{len(idle)} of {len(d.members)} consumers have no partition right now "
                    "(the assignor gave them none)."
                ),
            )
        )
    unowned = [r for r in lag.rows if r.committed is not None and r.owner is None]
    if d.members and unowned:
        out.append(
            Diagnosis(
                "warn",
                (
                    f"{len(unowned)} partition(s) have committed offsets but no member owns them "
                    f"(e.g. {unowned[0].topic}[{unowned[0].partition}]): the members do not subscribe "
                    "to that topic any more, so its lag will not shrink."
                ),
            )
        )
    if d.state == "Empty" and lag.total > 0:
        out.append(
            Diagnosis(
                "warn",
                (
                    f"The group is Empty (no consumer is running) and has lag {lag.total}: nothing "
                    "reads these partitions until a consumer of this group starts."
                ),
            )
        )
    for r in lag.rows:
        if r.below_log_start:
            out.append(
                Diagnosis(
                    "warn",
                    (
                        f"{r.topic}[{r.partition}]: committed offset {r.committed} is below the log "
                        f"start {r.low}: records {r.committed}–{r.low - 1} were deleted (retention) "
                        "before this group read them; on restart the consumer jumps per its "
                        "auto.offset.reset."
                    ),
                )
            )
    if lag.no_commit:
        out.append(
            Diagnosis(
                "info",
                (
                    f"{lag.no_commit} partition(s) have no committed offset: they are shown as "
                    "'no commit', not as lag 0. A consumer starting there follows auto.offset.reset."
                ),
            )
        )
    if lag.markers:
        out.append(
            Diagnosis(
                "info",
                (
                    f"{lag.markers} offset(s) of lag are transaction markers, not records: the "
                    "consumer has read everything there. Kafka's tool still counts them as lag."
                ),
            )
        )
    for topic, samples in history.items():
        if len(samples) >= 3 and all(
            a.lag < b.lag for a, b in zip(samples[-3:], samples[-2:], strict=False)
        ):
            first, last = samples[-3], samples[-1]
            out.append(
                Diagnosis(
                    "warn",
                    (
                        f"Lag on {topic} grew from {first.lag} to {last.lag} over the last 3 samples: "
                        "producers write faster than this group reads."
                    ),
                )
            )
    return out


def lag_history(*, cluster: Cluster, group_id: str, hours: float = 6) -> dict[str, list[LagSample]]:
    """The sampler's figures for the group, per topic, oldest first."""
    since = timezone.now() - dt.timedelta(hours=hours)
    out: dict[str, list[LagSample]] = {}
    for s in LagSample.objects.filter(cluster=cluster.name, group=group_id, at__gte=since):
        out.setdefault(s.topic, []).append(s)
    return out


def catch_up_estimate(samples: list[LagSample], lag_now: int) -> str:
    """Time to catch up from the recent consume and produce rates, in words."""
    if lag_now == 0:
        return "caught up"
    if len(samples) < 2:
        return "not enough samples yet for an estimate"
    a, b = samples[max(0, len(samples) - 5)], samples[-1]
    seconds = (b.at - a.at).total_seconds()
    if seconds <= 0:
        return "not enough samples yet for an estimate"
    consume = (b.committed - a.committed) / seconds
    produce = (b.end - a.end) / seconds
    if consume <= produce:
        return f"not catching up: producers write {produce:.1f}/s, this group reads {consume:.1f}/s"
    eta = lag_now / (consume - produce)
    return (
        f"catches up in about {_duration(eta)} (reads {consume:.1f}/s, producers {produce:.1f}/s)"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sparkline(samples: list[LagSample], width: int = 240, height: int = 48) -> str:
    """SVG polyline points for a lag series (the template draws it)."""
    if len(samples) < 2:
        return ""
    t0 = samples[0].at.timestamp()
    span = max(1.0, samples[-1].at.timestamp() - t0)
    top = max(1, max(s.lag for s in samples))
    return " ".join(
        f"{(s.at.timestamp() - t0) / span * width:.1f},{height - s.lag / top * (height - 4) - 2:.1f}"
        for s in samples
    )
