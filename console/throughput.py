"""Messages in per second, from log-end offsets sampled over time (Celery beat, every 30 s).

Each round records, per cluster, every topic's summed log-end offsets and a running count of
the offsets added since its series began (`produced`), plus one row for the cluster's
non-internal topics (topic ""). A rate is the difference of two rows' `produced` over the
difference of their times. Offsets count messages plus transaction markers, so a
transactional producer's rate reads slightly high.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone

from console.kafka.cluster import cluster_snapshot
from console.kafka.connection import Connection
from console.kafka.offsets import Watermarks, watermarks
from console.models import ThroughputSample

# A topic missing from the previous round (a partition failed then) continues from its last
# row when that is at most this old; otherwise its series starts again at 0.
RESUME_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class RatePoint:
    at: dt.datetime
    per_s: float | None  # since the previous sample; None when none is close enough
    produced: int  # offsets added in the interval (0 when per_s is None)
    interval_s: float | None


@dataclass(frozen=True, slots=True)
class Rate:
    per_s: float
    at: dt.datetime  # the newer of the two samples
    interval_s: float


def throughput_sample_record(*, cluster: Connection, at: dt.datetime | None = None) -> int:
    """Sample one cluster's log-end offsets: one row per topic and one for the cluster.

    A topic with a partition that did not answer is left out of this round (a partial sum
    would look like a drop, then a burst). Returns the rows written."""
    at = at or timezone.now()
    snap = cluster_snapshot(cluster)
    topics = {t.name: t for t in snap.topics if not t.error}
    parts = {(t.name, p.id) for t in topics.values() for p in t.partitions}
    ends: dict[str, int] = {}
    failed: set[str] = set()
    for (name, _p), mark in (watermarks(cluster, parts) if parts else {}).items():
        if isinstance(mark, Watermarks):
            ends[name] = ends.get(name, 0) + mark.high
        else:
            failed.add(name)
    for name in failed:
        ends.pop(name, None)

    previous = _previous_rows(cluster.name, at, ends)
    rows = []
    added_total = 0
    end_total = 0
    for name, end in sorted(ends.items()):
        before = previous.get(name)
        added = max(0, end - before.end) if before else 0
        rows.append(
            ThroughputSample(
                at=at,
                cluster=cluster.name,
                topic=name,
                end=end,
                produced=(before.produced if before else 0) + added,
            )
        )
        if not topics[name].internal:
            added_total += added
            end_total += end
    before = previous.get("")
    rows.append(
        ThroughputSample(
            at=at,
            cluster=cluster.name,
            topic="",
            end=end_total,
            produced=(before.produced if before else 0) + added_total,
        )
    )
    ThroughputSample.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _previous_rows(cluster: str, at: dt.datetime, names) -> dict[str, ThroughputSample]:
    """Each topic's row of the newest round before `at`; for a topic absent from that round,
    its newest row within RESUME_WINDOW."""
    newest = ThroughputSample.objects.filter(cluster=cluster, at__lt=at).aggregate(Max("at"))
    last_at = newest["at__max"]
    if last_at is None:
        return {}
    rows = {r.topic: r for r in ThroughputSample.objects.filter(cluster=cluster, at=last_at)}
    missing = [n for n in names if n not in rows]
    if missing:
        older = ThroughputSample.objects.filter(
            cluster=cluster, topic__in=missing, at__lt=last_at, at__gte=at - RESUME_WINDOW
        ).order_by("at")
        rows.update({r.topic: r for r in older})  # ascending: the newest row per topic wins
    return rows


def throughput_samples_prune(*, before: dt.datetime) -> int:
    """Delete the samples taken before `before`; returns how many."""
    deleted, _ = ThroughputSample.objects.filter(at__lt=before).delete()
    return deleted


def throughput_series_for(
    *, cluster: str, topic: str = "", since: dt.datetime, gap_s: float
) -> list[RatePoint]:
    """Messages in per second at each sample since `since` (topic "": the cluster), each
    over the interval from the sample before; an interval longer than `gap_s` (the sampler
    stopped) is a gap, not an average."""
    rows = list(
        ThroughputSample.objects.filter(
            cluster=cluster, topic=topic, at__gte=since - dt.timedelta(seconds=gap_s)
        )
        .order_by("at")
        .values_list("at", "produced")
    )
    points = []
    for (a_at, a_produced), (b_at, b_produced) in zip(rows, rows[1:], strict=False):
        if b_at < since:
            continue
        interval = (b_at - a_at).total_seconds()
        if 0 < interval <= gap_s:
            added = max(0, b_produced - a_produced)
            points.append(RatePoint(b_at, added / interval, added, interval))
        else:
            points.append(RatePoint(b_at, None, 0, None))
    return points


def throughput_sample_count(*, cluster: str, topic: str = "", since: dt.datetime) -> int:
    """How many samples of the series were taken since `since`."""
    return ThroughputSample.objects.filter(cluster=cluster, topic=topic, at__gte=since).count()


def throughput_rate_get(
    *, cluster: str, topic: str = "", max_age_s: float, now: dt.datetime | None = None
) -> Rate | None:
    """Messages in per second between the two newest samples; None without two samples, or
    when the newest is older than `max_age_s` (the sampler is not running)."""
    now = now or timezone.now()
    rows = list(
        ThroughputSample.objects.filter(cluster=cluster, topic=topic)
        .order_by("-at")
        .values_list("at", "produced")[:2]
    )
    if len(rows) < 2 or (now - rows[0][0]).total_seconds() > max_age_s:
        return None
    (b_at, b_produced), (a_at, a_produced) = rows
    interval = (b_at - a_at).total_seconds()
    if interval <= 0:
        return None
    return Rate(max(0, b_produced - a_produced) / interval, b_at, interval)
