"""Cluster-level tasks."""

from __future__ import annotations

import dataclasses

from celery import shared_task

from console.clusters import get_cluster
from console.jobs import job_fail, job_finish, job_start
from console.kafka.cluster import cluster_overview


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
