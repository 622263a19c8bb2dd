"""What the cluster dashboard shows, read in one place: health from Kafka, messages in/s
from the throughput samples, the worst lag from the lag sampler's newest round, and the
newest audited operations (for roles that may read the audit log)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.utils import timezone

from console.access import Capability, can
from console.clusters import Cluster
from console.kafka.cluster import cluster_overview, cluster_overviews
from console.kafka.types import ClusterOverview
from console.models import AuditEntry
from console.throughput import (
    Rate,
    RatePoint,
    throughput_rate_get,
    throughput_sample_count,
    throughput_series_for,
)
from groups.models import LagSample

CHART_WINDOW = dt.timedelta(hours=1)
WORST_LAG_LIMIT = 5
OPERATIONS_LIMIT = 8


def _brokers_online(overview: ClusterOverview) -> int:
    snap = overview.snapshot
    return sum(1 for b in snap.brokers if b.online) if snap else 0


def _partitions_online(overview: ClusterOverview) -> int:
    snap = overview.snapshot
    return snap.partition_count - snap.offline_partitions if snap else 0


@dataclass(frozen=True, slots=True)
class ClusterCard:
    overview: ClusterOverview
    rate: Rate | None

    @property
    def brokers_online(self) -> int:
        return _brokers_online(self.overview)

    @property
    def partitions_online(self) -> int:
        return _partitions_online(self.overview)


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    lag: int
    topics: int


@dataclass(frozen=True, slots=True)
class ClusterDashboard:
    overview: ClusterOverview
    rate: Rate | None  # between the two newest samples; None: not enough recent samples
    series: list[RatePoint]  # messages in/s over CHART_WINDOW
    samples: int  # samples taken in CHART_WINDOW
    since: dt.datetime
    until: dt.datetime
    sample_s: float
    lag_sample_s: float
    lag_at: dt.datetime | None  # the lag sampler's newest round (None: it never ran)
    worst_lag: list[GroupLag]
    operations: list[AuditEntry] | None  # None: the role may not read the audit log

    @property
    def brokers_online(self) -> int:
        return _brokers_online(self.overview)

    @property
    def partitions_online(self) -> int:
        return _partitions_online(self.overview)


def _sample_s() -> float:
    return settings.CONSOLE_THROUGHPUT_SAMPLE_S


def cluster_rate_get(*, cluster: str) -> Rate | None:
    """The cluster's messages in/s between its two newest samples, if they are recent."""
    return throughput_rate_get(cluster=cluster, max_age_s=3 * _sample_s())


def cluster_cards_get(*, clusters: list[Cluster]) -> list[ClusterCard]:
    """A card per cluster: health (fetched in parallel) and messages in/s."""
    return [ClusterCard(o, cluster_rate_get(cluster=o.name)) for o in cluster_overviews(clusters)]


def worst_lag_for(*, cluster: str, limit: int = WORST_LAG_LIMIT) -> tuple[dt.datetime | None, list]:
    """The groups with the most lag in the lag sampler's newest round, summed over topics."""
    at = LagSample.objects.filter(cluster=cluster).aggregate(Max("at"))["at__max"]
    if at is None:
        return None, []
    rows = (
        LagSample.objects.filter(cluster=cluster, at=at)
        .values("group")
        .annotate(total=Sum("lag"), topics=Count("topic"))
        .order_by("-total", "group")[:limit]
    )
    return at, [GroupLag(r["group"], r["total"], r["topics"]) for r in rows]


def cluster_dashboard_get(*, cluster: Cluster, user) -> ClusterDashboard:
    """Everything the cluster overview page shows."""
    until = timezone.now()
    since = until - CHART_WINDOW
    sample_s = _sample_s()
    lag_at, worst = worst_lag_for(cluster=cluster.name)
    operations = None
    if can(user, Capability.AUDIT):
        operations = list(AuditEntry.objects.filter(cluster=cluster.name)[:OPERATIONS_LIMIT])
    return ClusterDashboard(
        overview=cluster_overview(cluster),
        rate=cluster_rate_get(cluster=cluster.name),
        # Up to 3 intervals between samples is still a line; longer is the sampler stopping.
        series=throughput_series_for(cluster=cluster.name, since=since, gap_s=3 * sample_s),
        samples=throughput_sample_count(cluster=cluster.name, since=since),
        since=since,
        until=until,
        sample_s=sample_s,
        lag_sample_s=settings.CONSOLE_LAG_SAMPLE_S,
        lag_at=lag_at,
        worst_lag=worst,
        operations=operations,
    )


def rate_chart_data(dash: ClusterDashboard) -> dict:
    """The messages in/s series as charts.js draws it (json_script): times in epoch seconds."""
    return {
        "unit": "msg/s",
        "from": int(dash.since.timestamp()),
        "to": int(dash.until.timestamp()),
        "x": [int(p.at.timestamp()) for p in dash.series],
        "series": [
            {
                "label": "Messages in",
                "values": [None if p.per_s is None else round(p.per_s, 3) for p in dash.series],
            }
        ],
    }
