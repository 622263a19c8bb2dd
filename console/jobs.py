"""Jobs: a Celery task's state in the database, so any page (and any process) can follow it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from kombu.exceptions import OperationalError

from console import metrics
from console.models import Job


class EnqueueFailed(Exception):
    """The task queue (Celery broker) did not take the task."""


def job_create(
    *, kind: str, cluster: str, target: str = "", params: dict | None = None, user=None, audit=None
) -> Job:
    return Job.objects.create(
        kind=kind,
        cluster=cluster,
        target=target,
        params=params or {},
        created_by=user if user is not None and user.is_authenticated else None,
        audit=audit,
    )


def job_enqueue(task, job: Job, **kwargs: Any) -> Job:
    """Send `task(job_id=..., **kwargs)` to the worker once the job row is committed."""
    try:
        # Wait for the commit: the worker must find the Job row it is handed.
        transaction.on_commit(
            lambda: task.apply_async(kwargs={"job_id": str(job.id), **kwargs}, retry=False),
            robust=False,
        )
    except OperationalError as exc:
        job_fail(job.id, f"the task queue is unreachable: {exc}")
        raise EnqueueFailed(
            "The task queue (Celery broker) is unreachable, so the task was not started. "
            "Pages that read Kafka keep working; try again when the queue is back."
        ) from exc
    return job


def job_start(job_id) -> Job | None:
    """Mark a job running; None when it was already finished (a retried task stops there)."""
    updated = Job.objects.filter(id=job_id, state__in=[Job.State.QUEUED, Job.State.RUNNING]).update(
        state=Job.State.RUNNING
    )
    return Job.objects.get(id=job_id) if updated else None


def job_progress(job_id, **progress: Any) -> bool:
    """Merge progress figures; returns True when a cancel was requested."""
    job = Job.objects.only("progress", "cancel_requested").get(id=job_id)
    job.progress = {**job.progress, **progress}
    Job.objects.filter(id=job_id).update(progress=job.progress)
    return job.cancel_requested


def job_finish(job_id, result: Any, *, state: str = Job.State.SUCCEEDED) -> None:
    if Job.objects.filter(id=job_id).update(state=state, result=result):
        _job_ended(job_id, state)


def job_fail(job_id, error: str, *, result: Any = None) -> None:
    if Job.objects.filter(id=job_id).update(state=Job.State.FAILED, error=error, result=result):
        _job_ended(job_id, Job.State.FAILED)


def job_cancel(job_id) -> None:
    """Ask a running job to stop; the task checks between batches."""
    Job.objects.filter(id=job_id).update(cancel_requested=True)
    if Job.objects.filter(id=job_id, state=Job.State.QUEUED).update(state=Job.State.CANCELLED):
        _job_ended(job_id, Job.State.CANCELLED)


def _job_ended(job_id, outcome: str) -> None:
    """Count the outcome for /metrics (console_jobs_total)."""
    kind = Job.objects.filter(id=job_id).values_list("kind", flat=True).first()
    if kind is not None:
        metrics.job_ended(kind=kind, outcome=str(outcome))


__all__ = [
    "EnqueueFailed",
    "F",
    "job_cancel",
    "job_create",
    "job_enqueue",
    "job_fail",
    "job_finish",
    "job_progress",
    "job_start",
]


def job_cluster(job: Job):
    """The job's cluster as this worker knows it; when it does not, the job fails with the
    reason and None is returned (a worker must read the web server's cluster config)."""
    from console.clusters import get_cluster

    cluster = get_cluster(job.cluster)
    if cluster is None:
        job_fail(
            job.id,
            f"This worker has no cluster named {job.cluster!r}: the worker and the web "
            "server must read the same cluster configuration.",
        )
    return cluster
