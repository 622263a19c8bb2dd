"""Replay tasks: thin wrappers around the services, recording the outcome in the Job."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from console.jobs import job_cluster, job_fail, job_finish, job_start
from console.models import Job
from topics.produce.services import message_produce
from topics.replay.services import records_copy, unb64


def _user(job: Job):
    return get_user_model().objects.filter(id=job.created_by_id).first()


@shared_task(name="topics.replay_message", acks_late=True)
def replay_message_task(*, job_id: str) -> None:
    """Produce the job's one (re-produced) message, tombstones included."""
    job = job_start(job_id)
    if job is None or job.result:  # job.result: delivered by an earlier attempt
        return
    cluster = job_cluster(job)
    if cluster is None:
        return
    p = job.params
    try:
        report = message_produce(
            user=_user(job),
            cluster=cluster,
            topic=job.target,
            key=unb64(p.get("key")),
            value=unb64(p.get("value")),
            headers=[(n, unb64(v)) for n, v in p.get("headers", [])],
            partition=p.get("partition"),
            compression=p.get("compression", "none"),
        )
    except Exception as exc:  # noqa: BLE001 - the task's outer edge: record why it failed
        job_fail(job_id, str(exc))
        return
    job_finish(job_id, report)


@shared_task(name="topics.records_copy", acks_late=True)
def records_copy_task(*, job_id: str) -> None:
    """Run a copy / redrive / import job; a redelivered task resumes from its checkpoint."""
    job = job_start(job_id)
    if job is None:
        return
    cluster = job_cluster(job)
    if cluster is None:
        return
    try:
        result = records_copy(
            user=_user(job),
            job_id=job_id,
            cluster=cluster,
            params=job.params,
            progress=job.progress or {},
        )
    except Exception as exc:  # noqa: BLE001 - the task's outer edge: record why it failed
        ck = (Job.objects.get(id=job_id).progress or {}).get("checkpoint") or {}
        delivered = int(ck.get("delivered", 0))
        total = int(job.params.get("expected") or 0)
        job_fail(
            job_id,
            f"{exc}. {delivered:,} delivered, {max(0, total - delivered):,} not sent.",
            result={"delivered": delivered},
        )
        return
    if result["cancelled"]:
        job_finish(job_id, result, state=Job.State.CANCELLED)
    elif result["failed"]:
        job_fail(
            job_id,
            f"{result['failed']:,} record(s) failed: "
            + "; ".join(f"{n} × {e}" for e, n in result["errors"].items())
            + f". {result['delivered']:,} delivered, {result['not_sent']:,} not sent.",
            result=result,
        )
    else:
        job_finish(job_id, result)
