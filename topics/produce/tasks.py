"""Produce tasks: thin wrappers around the services, recording the outcome in the Job."""

from __future__ import annotations

import base64

from celery import shared_task
from django.contrib.auth import get_user_model

from console.jobs import job_cluster, job_fail, job_finish, job_start
from console.models import Job
from topics.produce.services import events_generate, message_produce


def _user(job: Job):
    return get_user_model().objects.filter(id=job.created_by_id).first()


def _begin(job_id: str) -> tuple[Job | None, object]:
    """The job, marked running, and its cluster; (None, None) when there is nothing to run
    (finished already, or failed here because this worker does not know the cluster)."""
    job = job_start(job_id)
    if job is None:
        return None, None
    cluster = job_cluster(job)
    return (job, cluster) if cluster is not None else (None, None)


@shared_task(name="topics.message_produce", acks_late=True)
def message_produce_task(*, job_id: str) -> None:
    """Produce the job's one message and record its delivery report."""
    job, cluster = _begin(job_id)
    if job is None or job.result:  # job.result: delivered by an earlier attempt
        return
    p = job.params
    try:
        report = message_produce(
            user=_user(job),
            cluster=cluster,
            topic=job.target,
            key=base64.b64decode(p["key"]) if p.get("key") is not None else None,
            value=base64.b64decode(p["value"]),
            headers=[(n, base64.b64decode(v)) for n, v in p.get("headers", [])],
            partition=p.get("partition"),
            compression=p.get("compression", "none"),
        )
    except Exception as exc:  # noqa: BLE001 - the task's outer edge: record why it failed
        job_fail(job_id, str(exc))
        return
    job_finish(job_id, report)


@shared_task(name="topics.events_generate", acks_late=True)
def events_generate_task(*, job_id: str) -> None:
    """Run a generator job; a redelivered task resumes from the recorded delivered count."""
    job, cluster = _begin(job_id)
    if job is None:
        return
    start = int((job.progress or {}).get("delivered", 0))
    try:
        result = events_generate(
            user=_user(job),
            cluster=cluster,
            topic=job.target,
            job_id=job_id,
            params=job.params,
            start=start,
        )
    except Exception as exc:  # noqa: BLE001 - the task's outer edge: record why it failed
        job_fail(
            job_id,
            str(exc),
            result={
                "delivered": int((Job.objects.get(id=job_id).progress or {}).get("delivered", 0))
            },
        )
        return
    if result["cancelled"]:
        job_finish(job_id, result, state=Job.State.CANCELLED)
    elif result["failed"]:
        job_fail(
            job_id,
            f"{result['failed']} event(s) failed: "
            + "; ".join(f"{n} × {e}" for e, n in result["errors"].items())
            + f". Delivered {result['delivered']:,} before the failure"
            + (
                f"; the remaining {result['not_sent']:,} were not sent."
                if result.get("not_sent")
                else "."
            ),
            result=result,
        )
    else:
        job_finish(job_id, result)
