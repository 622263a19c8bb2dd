"""Cluster-level tasks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from console.clusters import all_clusters, get_cluster
from console.jobs import job_fail, job_finish, job_start, jobs_reap
from console.kafka.cluster import cluster_overview
from console.kafka.errors import KafkaConsoleError
from console.throughput import throughput_sample_record, throughput_samples_prune

log = logging.getLogger(__name__)


@shared_task(name="console.cluster_probe")
def cluster_probe(*, job_id: str) -> None:
    """Describe a cluster from the worker: proves the worker runs and reaches Kafka."""
    job = job_start(job_id)
    if job is None:
        return
    cluster = get_cluster(job.cluster)
    if cluster is None:
        job_fail(job_id, f"cluster {job.cluster!r} is not configured on the worker")
        return
    overview = cluster_overview(cluster)
    if not overview.reachable:
        job_fail(job_id, overview.error)
        return
    snap = overview.snapshot
    job_finish(
        job_id,
        {
            "brokers": [dataclasses.asdict(b) for b in snap.brokers],
            "topics": len(snap.topics),
            "partitions": snap.partition_count,
            "elapsed_s": round(overview.elapsed_s, 3),
        },
    )


@shared_task(name="console.throughput_sample")
def throughput_sample() -> int:
    """Sample every cluster's log-end offsets (messages in/s); drop samples past the window."""
    now = timezone.now()
    written = 0
    for cluster in all_clusters():
        try:
            written += throughput_sample_record(cluster=cluster, at=now)
        except KafkaConsoleError as exc:
            log.warning("throughput sampler: %s: %s", cluster.name, exc)
    keep = dt.timedelta(hours=settings.CONSOLE_THROUGHPUT_HISTORY_HOURS)
    throughput_samples_prune(before=now - keep)
    return written


@shared_task(name="console.jobs_reap")
def jobs_reap_task() -> int:
    """Fail the running jobs whose worker process died (see console.jobs.jobs_reap)."""
    return len(jobs_reap())
