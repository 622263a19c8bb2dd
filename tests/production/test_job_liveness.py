"""Job liveness: a worker process takes a job, beats for it; a redelivered task takes over a
job only when its process stopped beating; the reaper fails a job nobody beats for."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from console.jobs import job_create, job_start, jobs_reap
from console.models import Job

pytestmark = pytest.mark.django_db


def running_elsewhere(*, beat_s_ago: float, progress: dict | None = None) -> Job:
    job = job_create(kind="produce.generate", cluster="local", target="t")
    Job.objects.filter(id=job.id).update(
        state=Job.State.RUNNING,
        worker="worker-1@elsewhere pid 4242",
        attempts=1,
        heartbeat_at=timezone.now() - dt.timedelta(seconds=beat_s_ago),
        progress=progress or {},
    )
    return Job.objects.get(id=job.id)


def test_starting_a_queued_job_records_the_process_and_a_first_heartbeat():
    job = job_create(kind="produce.generate", cluster="local")
    started = job_start(job.id)
    assert started.state == Job.State.RUNNING
    assert started.attempts == 1
    assert " pid " in started.worker
    assert timezone.now() - started.heartbeat_at < dt.timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)  # the holder's heartbeats come from a thread
@override_settings(CONSOLE_JOB_HEARTBEAT_S=0.2)
def test_a_redelivered_task_leaves_a_job_whose_process_still_beats():
    job = running_elsewhere(beat_s_ago=0)

    stop = threading.Event()

    def beating():  # the live holder beats during the wait
        while not stop.wait(0.1):
            Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now())
        connection.close()

    started = time.monotonic()

    t = threading.Thread(target=beating)
    t.start()
    try:
        assert job_start(job.id) is None
    finally:
        stop.set()
        t.join()
    assert time.monotonic() - started < 3
    job.refresh_from_db()
    assert job.worker == "worker-1@elsewhere pid 4242" and job.attempts == 1


@override_settings(CONSOLE_JOB_HEARTBEAT_S=0.2)
def test_a_redelivered_task_takes_over_a_job_whose_process_stopped_beating():
    job = running_elsewhere(beat_s_ago=0)  # killed just now: it beats no more
    started = job_start(job.id)
    assert started is not None
    assert started.attempts == 2
    assert started.worker != "worker-1@elsewhere pid 4242"


@override_settings(CONSOLE_JOB_STALE_S=60)
def test_the_reaper_fails_running_jobs_nobody_beats_for_with_the_reason():
    stale = running_elsewhere(beat_s_ago=90, progress={"delivered": 1234})
    fresh = running_elsewhere(beat_s_ago=5)
    queued = job_create(kind="produce.message", cluster="local")
    reaped = jobs_reap()
    assert [j.id for j in reaped] == [stale.id]
    stale.refresh_from_db()
    assert stale.state == Job.State.FAILED
    assert "worker-1@elsewhere pid 4242" in stale.error and "stopped" in stale.error
    assert "1,234 event(s) had been delivered" in stale.error
    assert stale.result == {"delivered": 1234}
    assert Job.objects.get(id=fresh.id).state == Job.State.RUNNING
    assert Job.objects.get(id=queued.id).state == Job.State.QUEUED
    # The task the broker redelivers an hour later finds the job failed and stops.
    assert job_start(stale.id) is None
