"""Jobs: a Celery task's state in the database, so any page (and any process) can follow it."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from console import metrics
from console.models import Job

log = logging.getLogger(__name__)


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
    """Mark a job running in this worker process; None when there is nothing to run: it
    finished already (a retried task stops there), or another worker process that is alive
    runs it (the broker redelivered a long task's message: running it twice would produce
    twice). A job whose worker process died (its heartbeat stopped) is taken over."""
    me = worker_identity()
    takeover = 3 * settings.CONSOLE_JOB_HEARTBEAT_S
    deadline = time.monotonic() + takeover + settings.CONSOLE_JOB_HEARTBEAT_S
    while True:
        now = timezone.now()
        orphaned = Q(heartbeat_at__isnull=True) | Q(
            heartbeat_at__lt=now - dt.timedelta(seconds=takeover)
        )
        updated = Job.objects.filter(
            Q(state=Job.State.QUEUED) | Q(state=Job.State.RUNNING) & (orphaned | Q(worker=me)),
            id=job_id,
        ).update(state=Job.State.RUNNING, worker=me, attempts=F("attempts") + 1, heartbeat_at=now)
        if updated:
            _heartbeat_ensure()
            return Job.objects.get(id=job_id)
        state = Job.objects.filter(id=job_id).values_list("state", flat=True).first()
        if state != Job.State.RUNNING or time.monotonic() > deadline:
            # Finished, gone, or a live worker holds it (it beat throughout the wait).
            return None
        # Held by a worker that beat recently: the one killed a moment ago (its task came
        # back at once) stops beating within `takeover`; a live one keeps beating.
        time.sleep(min(1.0, settings.CONSOLE_JOB_HEARTBEAT_S / 2))


# --- liveness: each worker process beats for the jobs it runs; the reaper (Celery beat)
# fails a running job whose process stopped beating, so no job shows "running" forever.

_heartbeat_lock = threading.Lock()
_heartbeat_pid = 0


def _worker_name() -> str:
    """The Celery worker's name when this runs in a worker's task, else ''."""
    from celery import current_task

    request = current_task.request if current_task else None
    return (request.hostname or "") if request else ""


def worker_identity() -> str:
    """This process as a job's `worker`: the Celery worker's name and the process id."""
    return f"{_worker_name() or socket.gethostname()} pid {os.getpid()}"


def _heartbeat_ensure() -> None:
    """Start this worker process's heartbeat thread (once per process: a forked pool
    process starts its own); not for a task called in-process, as service tests do."""
    global _heartbeat_pid
    if not _worker_name():
        return
    with _heartbeat_lock:
        if _heartbeat_pid == os.getpid():
            return
        _heartbeat_pid = os.getpid()
        threading.Thread(
            target=_heartbeat_loop, args=(worker_identity(),), name="job-heartbeat", daemon=True
        ).start()


def _heartbeat_loop(me: str) -> None:
    while True:
        interval = settings.CONSOLE_JOB_HEARTBEAT_S
        threading.Event().wait(interval)
        try:
            close_old_connections()
            Job.objects.filter(state=Job.State.RUNNING, worker=me).update(
                heartbeat_at=timezone.now()
            )
        except Exception:  # noqa: BLE001 - log, keep beating: the database may come back
            log.warning("job heartbeat of %s failed", me, exc_info=True)
        finally:
            connection.close()


def jobs_reap(*, stale_after_s: float | None = None) -> list[Job]:
    """Fail the running jobs whose worker process stopped beating (killed, or its host
    lost); returns them. A task the broker redelivers later finds its job failed and stops."""
    stale = stale_after_s if stale_after_s is not None else settings.CONSOLE_JOB_STALE_S
    cutoff = timezone.now() - dt.timedelta(seconds=stale)
    reaped = []
    for job in Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=cutoff):
        delivered = (job.progress or {}).get("delivered")
        error = (
            f"The worker running this job ({job.worker or 'unknown'}) stopped: no sign of life "
            f"since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (killed, or its host was lost). "
            "The job did not finish"
            + (f"; {delivered:,} event(s) had been delivered." if delivered is not None else ".")
            + " Start it again if it is still needed."
        )
        # Only if still stale: a worker may have taken it over since the query.
        if Job.objects.filter(id=job.id, state=Job.State.RUNNING, heartbeat_at__lt=cutoff).update(
            state=Job.State.FAILED,
            error=error,
            result={"delivered": delivered} if delivered is not None else job.result,
        ):
            _job_ended(job.id, Job.State.FAILED)
            log.warning("job %s (%s) failed: %s", job.id, job.kind, error)
            reaped.append(job)
    return reaped


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
    "jobs_reap",
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
