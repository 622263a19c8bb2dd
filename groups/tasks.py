"""Group tasks: offset resets and the lag sampler (Celery beat)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from console.clusters import all_clusters
from console.jobs import job_cluster, job_fail, job_finish, job_progress, job_start
from console.kafka.errors import KafkaConsoleError
from console.kafka.groups import committed_offsets, group_listings
from console.kafka.offsets import watermarks
from console.monitoring import lag_snapshot_save
from groups.models import LagSample
from groups.selectors import (
    SAMPLER_TIME_LAG_READS,
    SAMPLER_TIME_LAG_SECONDS,
    lag_rows,
    with_time_lag,
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
            committed = committed_offsets(cluster, ids)
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
        rows = with_time_lag(
            cluster, rows, max_reads=SAMPLER_TIME_LAG_READS, max_seconds=SAMPLER_TIME_LAG_SECONDS
        )
        samples = []
        for gid, group_rows in rows.items():
            per_topic: dict[str, LagSample] = {}
            for r in group_rows:
                s = per_topic.setdefault(
                    r.topic,
                    LagSample(
                        at=now,
                        cluster=cluster.name,
                        group=gid,
                        topic=r.topic,
                        lag=0,
                        committed=0,
                        end=0,
                        time_lag_ms=None,
                    ),
                )
                s.lag += r.lag or 0
                s.committed += r.committed or 0
                s.end += r.end or 0
                if r.time_lag_ms is not None:
                    s.time_lag_ms = max(s.time_lag_ms or 0, r.time_lag_ms)
            samples += per_topic.values()
        LagSample.objects.bulk_create(samples, batch_size=1000)
        written += len(samples)
    keep = dt.timedelta(hours=settings.CONSOLE_LAG_HISTORY_HOURS)
    LagSample.objects.filter(at__lt=now - keep).delete()
    return written
