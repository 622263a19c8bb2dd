"""Group tasks: offset resets and the lag sampler (Celery beat)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from console.clusters import all_clusters
from console.jobs import job_cluster, job_fail, job_finish, job_progress, job_start
from console.kafka.errors import KafkaConsoleError
from console.kafka.groups import committed_offsets_many, group_listings
from console.kafka.offsets import watermarks
from console.monitoring import lag_snapshot_save
from groups.models import LagSample
from groups.selectors import (
    SAMPLER_TIME_LAG_READS,
    SAMPLER_TIME_LAG_SECONDS,
    first_unread_reads,
    lag_rows,
    time_lag_ms,
)
from groups.services import group_offsets_reset as reset_service
from groups.services import parse_offsets

log = logging.getLogger(__name__)


@shared_task(name="groups.group_offsets_reset", acks_late=True)
def group_offsets_reset(*, job_id: str) -> None:
    """Run a confirmed reset plan (absolute offsets: a retry lands the same offsets)."""
    job = job_start(job_id)
    if job is None:
        return
    cluster = job_cluster(job)
    if cluster is None:
        return
    user = get_user_model().objects.filter(id=job.created_by_id).first()
    offsets = parse_offsets(job.params["offsets"])
    job_progress(job_id, partitions=len(offsets), step="committing offsets")
    try:
        after = reset_service(
            user=user, cluster=cluster, group_id=job.target, offsets=offsets, params=job.params
        )
    except Exception as exc:  # noqa: BLE001 - the task's outer edge: record why it failed
        job_fail(job_id, str(exc))
        return
    job_finish(job_id, {"group": job.target, "offsets": after})


@shared_task(name="groups.lag_sample")
def lag_sample() -> int:
    """Record every group's lag and time lag per topic on every cluster; drop samples past
    the window. Sorting the group list by either needs no Kafka read per request."""
    now = timezone.now()
    written = 0
    for cluster in all_clusters():
        try:
            ids = [g.group_id for g in group_listings(cluster)]
            committed = committed_offsets_many(cluster, ids)
            parts = {tp for c in committed.values() if isinstance(c, dict) for tp in c}
            marks = watermarks(cluster, parts)
        except KafkaConsoleError as exc:
            log.warning("lag sampler: %s: %s", cluster.name, exc)
            continue
        lag_snapshot_save(cluster=cluster, committed=committed, marks=marks, at=now)
        rows = {
            gid: [r for r in lag_rows(offsets, None, marks) if r.end is not None]
            for gid, offsets in committed.items()
            if isinstance(offsets, dict)
        }
        # One bounded read for the whole cluster; a topic none of whose lagging partitions
        # was read gets no time lag (null), never a made-up 0.
        wanted, got, _failure = first_unread_reads(
            cluster, rows, max_reads=SAMPLER_TIME_LAG_READS, max_seconds=SAMPLER_TIME_LAG_SECONDS
        )
        read_at = timezone.now()
        samples = []
        for gid, group_rows in rows.items():
            per_topic: dict[str, list] = {}  # topic -> [lag, committed, end, time_lag_ms]
            for r in group_rows:
                s = per_topic.setdefault(r.topic, [0, 0, 0, None])
                s[0] += r.lag or 0
                s[1] += r.committed or 0
                s[2] += r.end or 0
                ms = time_lag_ms(r, wanted, got, read_at)
                if ms is not None:
                    s[3] = max(s[3] or 0, ms)
            samples += [(gid, topic, *figures) for topic, figures in per_topic.items()]
        _insert_samples(cluster.name, now, samples)
        written += len(samples)
    keep = dt.timedelta(hours=settings.CONSOLE_LAG_HISTORY_HOURS)
    LagSample.objects.filter(at__lt=now - keep).delete()
    return written


def _insert_samples(cluster: str, at: dt.datetime, samples: list[tuple]) -> None:
    """Insert LagSample rows (group, topic, lag, committed, end, time_lag_ms) in batches of
    plain parameter tuples: a 50,000-group cluster writes about 100,000 rows per run, and
    building a model instance for each cost most of the run's time."""
    table = connection.ops.quote_name(LagSample._meta.db_table)
    names = [
        "at",
        "cluster",
        "group",
        "topic",
        "lag",
        "committed",
        "end",
        "no_commit",
        "time_lag_ms",
    ]
    columns = ", ".join(
        connection.ops.quote_name(LagSample._meta.get_field(n).column) for n in names
    )
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
    when = connection.ops.adapt_datetimefield_value(at)
    with transaction.atomic(), connection.cursor() as cursor:
        for i in range(0, len(samples), 5000):
            cursor.executemany(
                sql,
                [
                    (when, cluster, group, topic, lag, committed, end, 0, ms)
                    for group, topic, lag, committed, end, ms in samples[i : i + 5000]
                ],
            )
