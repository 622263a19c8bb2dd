"""Reads for the consumer-group pages: list, lag, diagnostics in plain words, lag history."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass, field, replace
from operator import attrgetter

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.timesince import timesince

from console.clusters import Cluster
from console.kafka.cache import REFRESH_THREAD, list_index_age, shared
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError, NotFound
from console.kafka.groups import (
    GroupDescription,
    GroupListing,
    Member,
    committed_offsets,
    first_unread,
    group_descriptions,
    group_listings,
    records_peek,
)
from console.kafka.offsets import Watermarks, last_stable_offsets, watermarks
from groups.models import LagSample

PER_PAGE = 50
SORTS = ("group", "state", "lag", "time_lag")
# Sorts whose natural order is largest first (desc=1 turns them round).
LARGEST_FIRST = ("lag", "time_lag")
# Lag this small (before the last stable offset) is read to tell records from transaction
# markers and aborted records.
MARKER_CHECK_MAX = 16
# Record peeks per page: at most this many partitions, within this many seconds in all
# (never longer than the cluster's request timeout).
PEEK_PARTITIONS_MAX = 64
PEEK_SECONDS = 2.0
# An open transaction older than this is a warning, not just an explanation.
OPEN_TRANSACTION_WARN = dt.timedelta(minutes=1)
# Time lag reads one record per lagging partition: a page reads at most this many, within
# this many seconds, with one consumer; the sampler, every group of a cluster, more.
TIME_LAG_READS = 200
TIME_LAG_SECONDS = 1.5
SAMPLER_TIME_LAG_READS = 5000
SAMPLER_TIME_LAG_SECONDS = 8.0


# --- lag -----------------------------------------------------------------------------


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class LagRow:
    topic: str
    partition: int
    committed: int | None
    low: int | None
    end: int | None
    owner: Member | None
    # Last stable offset: a read_committed consumer reads nothing from here on while the
    # transaction that wrote the record here is open (== end when no transaction is open).
    stable: int | None = None
    open_since: dt.datetime | None = None  # timestamp of the open transaction's first record
    # Of the offsets from the committed one to the stable one, how many are commit/abort
    # markers (no consumer receives them) and records of aborted transactions (only a
    # read_uncommitted consumer receives them); None when not read.
    markers: int | None = None
    aborted: int | None = None
    # How far behind in time: now - timestamp of the oldest unread record (the first record
    # at or after the committed offset), in ms; 0 when caught up. None with no commit, or
    # when that record was not read (time_lag_note says why).
    time_lag_ms: int | None = None
    time_lag_note: str = ""
    unread_offset: int | None = None
    unread_at: dt.datetime | None = None

    @property
    def lag(self) -> int | None:
        """End offset - committed offset: the figure kafka-consumer-groups prints."""
        if self.committed is None or self.end is None:
            return None
        return max(0, self.end - self.committed)

    @property
    def below_log_start(self) -> bool:
        return self.committed is not None and self.low is not None and self.committed < self.low

    @property
    def before_stable(self) -> int:
        """Offsets of lag a read_committed consumer can fetch now (records, markers, aborted)."""
        if self.committed is None or self.end is None or self.stable is None:
            return 0
        return max(0, min(self.stable, self.end) - self.committed)

    @property
    def pending(self) -> int:
        """Offsets of lag held back by an open transaction: from the last stable offset (or the
        committed one, if later) to the end. read_committed consumers get none of them until
        the transaction ends."""
        if self.committed is None or self.end is None or self.stable is None:
            return 0
        return max(0, self.end - max(self.committed, self.stable))

    @property
    def readable(self) -> int | None:
        """Records a read_committed consumer of this group receives now; None when not read."""
        if self.markers is None or self.aborted is None:
            return None
        return self.before_stable - self.markers - self.aborted

    @property
    def caught_up(self) -> bool:
        """There is lag, but no record left that a read_committed consumer would receive."""
        return bool(self.lag) and self.pending == 0 and self.readable == 0

    @property
    def markers_only(self) -> bool:
        return bool(self.lag) and self.markers == self.lag

    @property
    def skipped(self) -> str:
        """The offsets of lag that are not records to read, in words ("" when none)."""
        parts = []
        if self.aborted:
            parts.append(_count(self.aborted, "aborted record"))
        if self.markers:
            parts.append(_count(self.markers, "transaction marker"))
        return ", ".join(parts)


@dataclass
class TopicLag:
    topic: str
    lag: int = 0
    no_commit: int = 0
    partitions: int = 0
    time_lag_ms: int | None = None  # the most behind partition's, over those read
    time_lag_unknown: int = 0  # partitions with lag whose time lag was not read
    time_lag_note: str = ""  # why (the first such partition's reason)
    estimate: str = ""  # catching up, in words (from the sampler's history)


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
        return sum(r.markers or 0 for r in self.rows)

    @property
    def aborted(self) -> int:
        return sum(r.aborted or 0 for r in self.rows)

    @property
    def pending(self) -> int:
        return sum(r.pending for r in self.rows)

    @property
    def time_lag_ms(self) -> int | None:
        """The most behind partition's time lag, over those read."""
        return _max(t.time_lag_ms for t in self.topics.values())

    @property
    def time_lag_unknown(self) -> int:
        return sum(t.time_lag_unknown for t in self.topics.values())

    @property
    def time_lag_note(self) -> str:
        return next((t.time_lag_note for t in self.topics.values() if t.time_lag_note), "")

    @property
    def max_lag(self) -> int:
        """The largest partition lag (the per-partition bars are drawn against it)."""
        return max((r.lag or 0 for r in self.rows), default=0)


def _max(values) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def lag_rows(committed: dict, description: GroupDescription | None, marks: dict) -> list[LagRow]:
    """One row per partition the group committed on or is assigned (watermarks from `marks`)."""
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
        if r.time_lag_ms is not None:
            t.time_lag_ms = _max([t.time_lag_ms, r.time_lag_ms])
        elif r.lag:
            t.time_lag_unknown += 1
            t.time_lag_note = t.time_lag_note or r.time_lag_note
    return lag


def group_lag_get(
    *,
    cluster: Cluster,
    group_id: str,
    description: GroupDescription | None = None,
    check_markers: bool = True,
    time_lag: bool = True,
) -> GroupLag:
    """Per partition committed, log-end and lag (end - committed, as Kafka's tool prints it),
    with partitions that have no commit kept apart, never counted as lag 0. `check_markers`
    explains lag that is not records to read: open transactions, markers, aborted records;
    `time_lag` reads how old the oldest unread record of each lagging partition is."""
    if description is None:
        found = group_descriptions(cluster, [group_id])[group_id]
        description = found if isinstance(found, GroupDescription) else None
    committed = committed_offsets(cluster, [group_id])[group_id]
    if isinstance(committed, KafkaConsoleError):
        raise committed
    rows = lag_rows(committed, description, {})
    marks = watermarks(cluster, [(r.topic, r.partition) for r in rows])
    rows = lag_rows(committed, description, marks)
    if check_markers:
        rows = _explain_lag(cluster, rows)
    if time_lag:
        rows = with_time_lag(cluster, {group_id: rows})[group_id]
    return _summarise(rows)


def _explain_lag(cluster: Cluster, rows: list[LagRow]) -> list[LagRow]:
    """What the lag is made of, at a bounded cost: one ListOffsets batch (the last stable
    offsets of the partitions with lag), then at most two short reads by one consumer each:
    read_uncommitted for the first record of each open transaction and the records of small
    gaps, read_committed for those gaps' records that were not aborted."""
    lagging = [(r.topic, r.partition) for r in rows if r.lag]
    if not lagging:
        return rows
    stable = last_stable_offsets(cluster, lagging)
    rows = [
        replace(r, stable=lso) if isinstance(lso := stable.get((r.topic, r.partition)), int) else r
        for r in rows
    ]
    by_tp = {(r.topic, r.partition): r for r in rows}
    gaps: dict[tuple[str, int], tuple[int, int]] = {}  # [committed, stable), small enough
    peek: dict[tuple[str, int], tuple[int, int]] = {}
    for r in rows:
        if len(peek) >= PEEK_PARTITIONS_MAX:
            break
        if not r.lag or r.stable is None or r.below_log_start:
            continue
        tp = (r.topic, r.partition)
        if 0 < r.before_stable <= MARKER_CHECK_MAX:
            gaps[tp] = (r.committed, r.committed + r.before_stable)
        if r.pending:  # read up to the open transaction's first record, for its timestamp
            peek[tp] = (gaps[tp][0] if tp in gaps else r.stable, r.stable + 1)
        elif tp in gaps:
            peek[tp] = gaps[tp]
    if not peek:
        return rows
    deadline = time.monotonic() + PEEK_SECONDS
    peeked = records_peek(cluster, peek, read_committed=False, max_seconds=PEEK_SECONDS)
    # Per gap, the records a read_uncommitted consumer received: data and aborted records.
    received = {
        tp: sum(start <= x.offset < end for x in peeked[tp])
        for tp, (start, end) in gaps.items()
        if peeked.get(tp) is not None
    }
    # The offsets those records do not fill are markers (or, on a compacted topic, records
    # compaction removed). Aborted records can only be among the records, and only where a
    # transaction wrote: with no transaction open, each one left its marker in the gap, so a
    # gap without markers holds no aborted record. Elsewhere, read again with read_committed.
    readable: dict[tuple[str, int], int | None] = {}
    again = {}
    for tp, n in received.items():
        r = by_tp[tp]
        if n == 0 or (n == r.before_stable and not r.pending):
            readable[tp] = n
        else:
            again[tp] = gaps[tp]
    if again:
        left = max(0.0, deadline - time.monotonic())
        for tp, got in records_peek(cluster, again, read_committed=True, max_seconds=left).items():
            readable[tp] = None if got is None else len(got)
    out = []
    for r in rows:
        tp = (r.topic, r.partition)
        if r.pending and peeked.get(tp):
            first = next((x for x in peeked[tp] if x.offset == r.stable), None)
            r = replace(r, open_since=first.timestamp if first else None)
        if readable.get(tp) is not None:
            n = received[tp]
            r = replace(r, markers=r.before_stable - n, aborted=max(0, n - readable[tp]))
        out.append(r)
    return out


# --- time lag ------------------------------------------------------------------------


def with_time_lag(
    cluster: Cluster,
    lags: dict[str, list[LagRow]],
    *,
    max_reads: int = TIME_LAG_READS,
    max_seconds: float = TIME_LAG_SECONDS,
) -> dict[str, list[LagRow]]:
    """The rows of each group with their time lag: now - timestamp of the first record at or
    after the committed offset (0 when caught up, None with no commit).

    One short-lived consumer reads the first unread record of every lagging partition of all
    the groups, at most `max_reads` of them within `max_seconds`: each group-topic's most
    lagging partition first, so every group gets its likely worst one before any gets a
    second. A partition not read keeps None and a note saying why."""
    wanted, got, failure = first_unread_reads(
        cluster, lags, max_reads=max_reads, max_seconds=max_seconds
    )
    now = timezone.now()
    out = {}
    for gid, rows in lags.items():
        out[gid] = [_time_lag(r, wanted, got, now, failure, max_reads, max_seconds) for r in rows]
    return out


def first_unread_reads(
    cluster: Cluster, lags: dict[str, list[LagRow]], *, max_reads: int, max_seconds: float
) -> tuple[dict, dict, str]:
    """The reads behind with_time_lag: the partitions chosen (`wanted`, (topic, partition,
    start) keys), the first unread record found for each, and why none was (or "")."""
    order = []
    for gid, rows in lags.items():
        rank: dict[str, int] = {}
        for i, r in sorted(enumerate(rows), key=lambda x: -(x[1].lag or 0)):
            if r.lag and not r.caught_up:
                rank[r.topic] = rank.get(r.topic, -1) + 1
                order.append((rank[r.topic], -r.lag, gid, i))
    order.sort()
    wanted: dict[tuple[str, int, int], None] = {}  # (topic, partition, start), in order
    for _rank, _lag, gid, i in order:
        r = lags[gid][i]
        key = (r.topic, r.partition, max(r.committed, r.low or 0))
        if key not in wanted and len(wanted) >= max_reads:
            break
        wanted[key] = None
    got: dict = {}
    failure = ""
    if wanted:
        try:
            got = first_unread(
                cluster, [((t, p), start) for t, p, start in wanted], max_seconds=max_seconds
            )
        except KafkaConsoleError as exc:
            failure = f"not read: {exc}"
    return wanted, got, failure


def time_lag_ms(r: LagRow, wanted: dict, got: dict, now: dt.datetime) -> int | None:
    """_time_lag's figure alone (no new row, no note): what the lag sampler keeps of each of
    a large cluster's 100,000 rows."""
    if r.lag is None:
        return None
    if not r.lag or r.caught_up:
        return 0
    start = max(r.committed, r.low or 0)
    if (r.topic, r.partition, start) not in wanted:
        return None
    found = got.get(((r.topic, r.partition), start))
    if found is None:
        return None
    if found.offset is None:
        return 0  # only transaction markers left
    if found.timestamp is None:
        return None
    return max(0, round((now - found.timestamp).total_seconds() * 1000))


def _time_lag(r: LagRow, wanted, got, now, failure, max_reads, max_seconds) -> LagRow:
    if r.lag is None:
        return replace(r, time_lag_ms=None, time_lag_note="no committed offset")
    if not r.lag or r.caught_up:
        return replace(r, time_lag_ms=0, time_lag_note="caught up")
    key = (r.topic, r.partition, max(r.committed, r.low or 0))
    found = got.get(((r.topic, r.partition), key[2]))
    if key not in wanted:
        note = f"not read: a page reads the oldest unread record of at most {max_reads} partitions"
        return replace(r, time_lag_ms=None, time_lag_note=note)
    if found is None:
        note = failure or f"not read: no record arrived within {max_seconds:g} s"
        return replace(r, time_lag_ms=None, time_lag_note=note)
    if found.offset is None:
        return replace(r, time_lag_ms=0, time_lag_note="caught up: only transaction markers left")
    if found.timestamp is None:
        note = f"the record at offset {found.offset:,} carries no timestamp"
        return replace(r, time_lag_ms=None, time_lag_note=note, unread_offset=found.offset)
    ms = max(0, round((now - found.timestamp).total_seconds() * 1000))
    return replace(
        r,
        time_lag_ms=ms,
        time_lag_note="",
        unread_offset=found.offset,
        unread_at=found.timestamp,
    )


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
    topic_lags: tuple[TopicLag, ...] = ()  # per topic: lag, and time lag (max)
    time_lag_ms: int | None = None  # the group's most behind partition
    time_lag_unknown: int = 0
    time_lag_note: str = ""

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

    @property
    def descending(self) -> bool:
        """Rows go from the largest value of the sort column down (lag sorts start there)."""
        return (self.sort in LARGEST_FIRST) != self.desc


def latest_samples(
    cluster: Cluster, *, figure: str = "lag"
) -> tuple[dt.datetime | None, dict[str, int]]:
    """The lag sampler's latest run for the cluster: when, and each group's total lag
    (`figure="lag"`) or its largest time lag in ms (`"time_lag"`; groups whose time lag
    was not read are left out)."""
    last = (
        LagSample.objects.filter(cluster=cluster.name)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if last is None:
        return None, {}
    out: dict[str, int] = {}
    rows = LagSample.objects.filter(cluster=cluster.name, at=last)
    if figure == "time_lag":
        for group, ms in rows.filter(time_lag_ms__isnull=False).values_list("group", "time_lag_ms"):
            out[group] = max(out.get(group, 0), ms)
        return last, out
    for group, lag in rows.values_list("group", "lag"):
        out[group] = out.get(group, 0) + lag
    return last, out


def _db_read(read, *args, **kwargs):
    """read(*args, **kwargs); on a background refresh thread, its database connection is
    closed afterwards (the thread ends; the connection would stay open)."""
    try:
        return read(*args, **kwargs)
    finally:
        if threading.current_thread().name == REFRESH_THREAD:
            connections.close_all()


def sample_times(cluster: Cluster, runs: int = 3) -> list[dt.datetime]:
    """When the sampler's last `runs` runs were (newest first)."""
    return list(
        LagSample.objects.filter(cluster=cluster.name)
        .order_by("-at")
        .values_list("at", flat=True)
        .distinct()[:runs]
    )


def growing_groups(
    cluster: Cluster, group_ids: list[str], runs: int = 3, ats: list | None = None
) -> set[str]:
    """Groups whose total lag rose at each of the sampler's last `runs` runs (`ats`: those
    runs' times, when the caller has them)."""
    ats = sample_times(cluster, runs) if ats is None else ats
    if len(ats) < runs:
        return set()
    series: dict[str, dict] = {}
    for group, at, lag in (
        LagSample.objects.filter(cluster=cluster.name, at__in=ats, group__in=group_ids)
        .order_by()
        .values_list("group", "at", "lag")
    ):  # unordered: by (cluster, group), not at
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
    # Every group's id and state from the list index (a recent ListGroups, refreshed in the
    # background: CONSOLE_LIST_INDEX_S); the shown groups are described and read below.
    max_age, stale_s = list_index_age()
    listings = group_listings(cluster, max_age=max_age, stale_s=stale_s)
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
    sampled_at, sampled = None, {}
    if sort in LARGEST_FIRST:
        if max_age is None:
            sampled_at, sampled = latest_samples(cluster, figure=sort)
        else:  # the sampler's figures change once a run: shared like the list index
            sampled_at, sampled = shared(
                cluster.name,
                ("latest_samples", sort),
                max_age,
                lambda: _db_read(latest_samples, cluster, figure=sort),
                stale_s=stale_s,
            )
    shown.sort(key=attrgetter("group_id"))
    if sort in LARGEST_FIRST:
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
    ats = None  # the sampler's last runs: shared like its figures (a DISTINCT over them all)
    if max_age is not None:
        ats = shared(
            cluster.name,
            "sample_times",
            max_age,
            lambda: _db_read(sample_times, cluster),
            stale_s=stale_s,
        )
    growing = growing_groups(cluster, ids, ats=ats)
    by_group = {
        g.group_id: lag_rows(committed[g.group_id], descriptions.get(g.group_id), marks)
        for g in page_groups
        if not isinstance(committed.get(g.group_id), KafkaConsoleError | None)
        and not isinstance(descriptions.get(g.group_id), KafkaConsoleError)
    }
    by_group = with_time_lag(cluster, by_group)
    rows = []
    for g in page_groups:
        if g.group_id not in by_group:
            d, c = descriptions.get(g.group_id), committed.get(g.group_id)
            error = c if isinstance(c, KafkaConsoleError) else d
            rows.append(GroupRow(g, None, (), None, 0, False, str(error or "no answer")))
            continue
        d = descriptions.get(g.group_id)
        lag = _summarise(by_group[g.group_id])
        rows.append(
            GroupRow(
                listing=g,
                members=len(d.members) if d else None,
                topics=tuple(sorted(lag.topics)),
                lag=lag.total if lag.rows else None,
                no_commit=lag.no_commit,
                growing=g.group_id in growing,
                topic_lags=tuple(lag.topics[t] for t in sorted(lag.topics)),
                time_lag_ms=lag.time_lag_ms,
                time_lag_unknown=lag.time_lag_unknown,
                time_lag_note=lag.time_lag_note,
            )
        )
    return GroupPage(rows, len(shown), page, pages, sort, desc, sampled_at, states)


@dataclass(frozen=True, slots=True)
class TopicConsumer:
    group_id: str
    lag: TopicLag


def topic_consumers_for(*, cluster: Cluster, topic: str) -> list[TopicConsumer]:
    """The groups with committed offsets on a topic, with their lag and time lag on it: one
    OffsetFetch round for all groups, one describe and one ListOffsets batch for the readers,
    one short read for the time lags."""
    ids = [g.group_id for g in group_listings(cluster)]
    committed = {
        gid: {tp: off for tp, off in c.items() if tp[0] == topic}
        for gid, c in committed_offsets(cluster, ids).items()
        if isinstance(c, dict)
    }
    readers = sorted(gid for gid, c in committed.items() if c)
    descriptions = group_descriptions(cluster, readers)
    parts = {tp for gid in readers for tp in committed[gid]}
    for d in descriptions.values():
        if isinstance(d, GroupDescription):
            parts.update(tp for m in d.members for tp in m.assignment if tp[0] == topic)
    marks = watermarks(cluster, parts)
    by_group = {}
    for gid in readers:
        d = descriptions.get(gid)
        rows = lag_rows(committed[gid], d if isinstance(d, GroupDescription) else None, marks)
        by_group[gid] = [r for r in rows if r.topic == topic]
    by_group = with_time_lag(cluster, by_group)
    return [TopicConsumer(gid, _summarise(rows).topics[topic]) for gid, rows in by_group.items()]


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
    history = lag_history(cluster=cluster, group_id=group_id, hours=1)
    estimates = {
        t: catch_up_estimate(samples, lag.topics[t].lag)
        for t, samples in history.items()
        if t in lag.topics
    }
    for t, estimate in estimates.items():
        lag.topics[t].estimate = estimate
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
    return [
        *_idle_members(d, per_topic),
        *_unowned_partitions(d, lag),
        *_empty_with_lag(d, lag),
        *_below_log_start(lag),
        *_no_commit(lag),
        *_transactions(lag),
        *_growing_lag(history),
    ]


def _idle_members(d: GroupDescription, per_topic: dict[str, int]) -> list[Diagnosis]:
    """Why a consumer of the group gets no partition."""
    idle = [m for m in d.members if not m.assignment]
    if not (idle and d.state == "Stable" and d.members):
        return []
    subscribed = sorted({tp[0] for m in d.members for tp in m.assignment} or set(per_topic))
    partitions = sum(per_topic.get(t, 0) for t in subscribed)
    topics = ", ".join(f"{t} has {per_topic.get(t, '?')} partitions" for t in subscribed)
    if len(d.members) > partitions:
        text = (
            f"{len(idle)} of {len(d.members)} consumers have no partition: {topics}; "
            "members of one group never share a partition, so consumers beyond the partition "
            "count stand by (they take over if another leaves)."
        )
    else:
        text = (
            f"{len(idle)} of {len(d.members)} consumers have no partition right now "
            "(the assignor gave them none)."
        )
    return [Diagnosis("warn", text)]


def _unowned_partitions(d: GroupDescription, lag: GroupLag) -> list[Diagnosis]:
    """Committed partitions nobody reads any more: their lag never shrinks."""
    unowned = [r for r in lag.rows if r.committed is not None and r.owner is None]
    if not (d.members and unowned):
        return []
    return [
        Diagnosis(
            "warn",
            f"{len(unowned)} partition(s) have committed offsets but no member owns them "
            f"(e.g. {unowned[0].topic}[{unowned[0].partition}]): the members do not subscribe "
            "to that topic any more, so its lag will not shrink.",
        )
    ]


def _empty_with_lag(d: GroupDescription, lag: GroupLag) -> list[Diagnosis]:
    if not (d.state == "Empty" and lag.total > 0):
        return []
    return [
        Diagnosis(
            "warn",
            f"The group is Empty (no consumer is running) and has lag {lag.total:,}: nothing "
            "reads these partitions until a consumer of this group starts.",
        )
    ]


def _below_log_start(lag: GroupLag) -> list[Diagnosis]:
    """Records retention deleted before the group read them."""
    return [
        Diagnosis(
            "warn",
            f"{r.topic}[{r.partition}]: committed offset {r.committed:,} is below the log "
            f"start {r.low:,}: records {r.committed:,}–{r.low - 1:,} were deleted (retention) "
            "before this group read them; on restart the consumer jumps per its "
            "auto.offset.reset.",
        )
        for r in lag.rows
        if r.below_log_start
    ]


def _no_commit(lag: GroupLag) -> list[Diagnosis]:
    if not lag.no_commit:
        return []
    return [
        Diagnosis(
            "info",
            f"{lag.no_commit} partition(s) have no committed offset: they are shown as "
            "'no commit', not as lag 0. A consumer starting there follows auto.offset.reset.",
        )
    ]


def _transactions(lag: GroupLag) -> list[Diagnosis]:
    """Lag that is not records to read: open transactions, markers, aborted records."""
    out = []
    pending = [r for r in lag.rows if r.pending]
    if pending:
        out.append(_open_transactions(pending))
    if lag.markers:
        out.append(
            Diagnosis(
                "info",
                f"{lag.markers:,} offset(s) of lag are transaction markers, not records: each "
                "commit or abort takes an offset that no consumer ever receives. Kafka's "
                "tool still counts them as lag.",
            )
        )
    if lag.aborted:
        out.append(
            Diagnosis(
                "info",
                f"{lag.aborted:,} offset(s) of lag are records of aborted transactions: a "
                "read_committed consumer skips them, a read_uncommitted one still receives "
                "them. Kafka's tool counts them as lag.",
            )
        )
    return out


def _growing_lag(history: dict[str, list[LagSample]]) -> list[Diagnosis]:
    """Why lag grows: three samples in a row, each higher than the one before."""
    out = []
    for topic, samples in history.items():
        last3 = samples[-3:]
        if len(last3) == 3 and last3[0].lag < last3[1].lag < last3[2].lag:
            out.append(
                Diagnosis(
                    "warn",
                    f"Lag on {topic} grew from {last3[0].lag:,} to {last3[2].lag:,} over the last 3 "
                    "samples: producers write faster than this group reads.",
                )
            )
    return out


def _open_transactions(rows: list[LagRow]) -> Diagnosis:
    """Lag held back by open transactions, oldest first, with how long they have been open."""
    rows = sorted(rows, key=lambda r: r.open_since or timezone.now())
    shown = []
    for r in rows[:3]:
        when = ""
        if r.open_since:
            age = timesince(r.open_since, timezone.now()).replace("\xa0", " ")
            when = f", open since {timezone.localtime(r.open_since):%Y-%m-%d %H:%M:%S %Z} ({age})"
        shown.append(f"{r.topic}[{r.partition}]: {r.pending:,} from offset {r.stable:,}{when}")
    more = f" and {len(rows) - 3} more partition(s)" if len(rows) > 3 else ""
    oldest = rows[0].open_since
    old = oldest is not None and timezone.now() - oldest > OPEN_TRANSACTION_WARN
    return Diagnosis(
        "warn" if old else "info",
        (
            f"{sum(r.pending for r in rows):,} offset(s) of lag are pending in an open transaction "
            f"({'; '.join(shown)}{more}): a read_committed consumer receives nothing past a "
            "partition's last stable offset until the producer commits the transaction (its "
            "records then arrive) or aborts it (they are skipped). Kafka's tool counts them as "
            "lag. A transaction open for long is usually a producer that hung mid-transaction; "
            "the broker aborts it after the producer's transaction.timeout.ms."
        ),
    )


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


# --- lag history (charts) ------------------------------------------------------------

# The time ranges the group page offers, in hours; the first is the default.
HISTORY_RANGES = {"1h": 1, "6h": 6, "24h": 24}
# More samples than this in the range are shown as the highest of each run of k samples.
HISTORY_POINTS_MAX = 240
# Topics drawn in one chart (charts.js has four colours); all of them are in the table.
CHART_SERIES_MAX = 4


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    at: dt.datetime
    lag: tuple[int | None, ...]  # per topic, in LagHistory.topics order; None: no sample
    time_lag_ms: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class LagHistory:
    span: str  # a key of HISTORY_RANGES
    since: dt.datetime
    until: dt.datetime
    sample_s: float  # the sampler's interval
    topics: tuple[str, ...]  # largest latest lag first
    points: tuple[HistoryPoint, ...]  # oldest first
    per_point: int  # samples behind each point (the highest of them is shown)
    samples: int  # sampler runs in the range

    @property
    def hours(self) -> int:
        return HISTORY_RANGES[self.span]

    @property
    def start(self) -> dt.datetime:
        """Where the charts begin: the range's start, or the first sample when the sampler
        has been running for less than the range (a line squeezed into the last minute of
        an hour shows nothing)."""
        return max(self.since, self.points[0].at) if self.points else self.since

    @property
    def charted(self) -> tuple[str, ...]:
        return self.topics[:CHART_SERIES_MAX]

    @property
    def not_charted(self) -> tuple[str, ...]:
        return self.topics[CHART_SERIES_MAX:]

    @property
    def has_time_lag(self) -> bool:
        return any(v is not None for p in self.points for v in p.time_lag_ms)

    @property
    def rows(self) -> list[tuple[HistoryPoint, list[tuple[int | None, int | None]]]]:
        """Newest first, each point's (lag, time lag) per topic: the charts' numbers."""
        return [(p, list(zip(p.lag, p.time_lag_ms, strict=True))) for p in reversed(self.points)]

    def _x(self) -> tuple[list[int], list[int | None]]:
        """Epoch seconds of the points, with a gap (None index) where the sampler missed
        runs, so the line breaks instead of bridging the hole."""
        xs: list[int] = []
        index: list[int | None] = []
        gap = 3 * self.sample_s * self.per_point
        for i, p in enumerate(self.points):
            t = int(p.at.timestamp())
            if xs and t - xs[-1] > gap:
                xs.append(xs[-1] + int(self.sample_s * self.per_point))
                index.append(None)
            xs.append(t)
            index.append(i)
        return xs, index

    def _chart(self, unit: str, values, scale: float = 1) -> dict:
        xs, index = self._x()
        series = []
        for k, topic in enumerate(self.charted):
            column = []
            for i in index:
                v = None if i is None else values(self.points[i])[k]
                column.append(None if v is None else (v / scale if scale != 1 else v))
            series.append({"label": topic, "values": column})
        return {
            "unit": unit,
            "from": int(self.start.timestamp()),
            "to": int(self.until.timestamp()),
            "x": xs,
            "series": series,
        }

    def lag_chart(self) -> dict:
        """Lag in messages per topic, as charts.js draws it (json_script)."""
        return self._chart("messages", lambda p: p.lag)

    def time_lag_chart(self) -> dict:
        """Time lag per topic, in s, min or h (whichever reads best at its largest value)."""
        top = max((v or 0 for p in self.points for v in p.time_lag_ms), default=0)
        unit, scale = ("h", 3_600_000) if top >= 7_200_000 else ("s", 1000)
        if unit == "s" and top >= 120_000:
            unit, scale = "min", 60_000
        return self._chart(unit, lambda p: p.time_lag_ms, scale)


def lag_history_get(*, cluster: Cluster, group_id: str, span: str = "1h") -> LagHistory:
    """The sampler's lag and time lag of a group per topic over a time range (from the
    database: it survives restarts), at most HISTORY_POINTS_MAX points per topic."""
    span = span if span in HISTORY_RANGES else next(iter(HISTORY_RANGES))
    until = timezone.now()
    since = until - dt.timedelta(hours=HISTORY_RANGES[span])
    by_at: dict[dt.datetime, dict[str, tuple[int, int | None]]] = {}
    latest: dict[str, int] = {}
    for at, topic, lag, ms in LagSample.objects.filter(
        cluster=cluster.name, group=group_id, at__gte=since
    ).values_list("at", "topic", "lag", "time_lag_ms"):
        by_at.setdefault(at, {})[topic] = (lag, ms)
        latest[topic] = lag  # ordered by time: the last one wins
    topics = tuple(sorted(latest, key=lambda t: (-latest[t], t)))
    ats = sorted(by_at)
    per_point = max(1, math.ceil(len(ats) / HISTORY_POINTS_MAX))
    points = []
    for start in range(0, len(ats), per_point):
        chunk = ats[start : start + per_point]
        lags, times = [], []
        for t in topics:
            got = [by_at[at][t] for at in chunk if t in by_at[at]]
            lags.append(_max(g[0] for g in got))
            times.append(_max(g[1] for g in got))
        points.append(HistoryPoint(chunk[-1], tuple(lags), tuple(times)))
    return LagHistory(
        span=span,
        since=since,
        until=until,
        sample_s=float(settings.CONSOLE_LAG_SAMPLE_S),
        topics=topics,
        points=tuple(points),
        per_point=per_point,
        samples=len(ats),
    )
