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
from console.kafka.offsets import Watermarks, watermarks
from console.monitoring import lag_snapshot_save
from groups.models import LagSample
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
    """Record every group's lag per topic on every cluster; drop samples past the window."""
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
        samples = []
        for gid, offsets in committed.items():
            if not isinstance(offsets, dict):
                continue
            per_topic: dict[str, list[int]] = {}
            for (topic, p), off in offsets.items():
                mark = marks.get((topic, p))
                if not isinstance(mark, Watermarks):
                    continue
                t = per_topic.setdefault(topic, [0, 0, 0])
                t[0] += max(0, mark.high - off)
                t[1] += off
                t[2] += mark.high
            samples += [
                LagSample(
                    at=now,
                    cluster=cluster.name,
                    group=gid,
                    topic=topic,
                    lag=lag,
                    committed=c,
                    end=e,
                )
                for topic, (lag, c, e) in per_topic.items()
            ]
        LagSample.objects.bulk_create(samples, batch_size=1000)
        written += len(samples)
    keep = dt.timedelta(hours=settings.CONSOLE_LAG_HISTORY_HOURS)
    LagSample.objects.filter(at__lt=now - keep).delete()
    return written
