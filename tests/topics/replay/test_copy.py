"""Bulk re-publish (copy a range) against the real broker, in process and with a real worker."""

import pytest
from confluent_kafka import Producer

from console.clusters import get_cluster
from console.jobs import job_create
from console.kafka.offsets import watermarks
from console.kafka.replay import read_ranges
from console.models import Job
from tests.topics.replay.conftest import copy_job, copy_params
from topics.replay.services import plan, ranges_for

pytestmark = [pytest.mark.kafka]


def fill(kafka, topic: str, n: int, partitions: int) -> None:
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20})
    for i in range(n):
        p.produce(
            topic,
            key=f"k{i % 5000}".encode(),
            value=f'{{"i": {i}}}'.encode() + bytes([i % 256]),
            partition=i % partitions,
            headers=[("h", bytes([i % 256, 0, 255]))] if i % 3 == 0 else None,
        )
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def counts(topic: str, partitions: int) -> dict[int, int]:
    marks = watermarks(get_cluster("local"), [(topic, p) for p in range(partitions)], max_age=-1)
    return {p: marks[(topic, p)].high for p in range(partitions)}


@pytest.mark.django_db
def test_copy_in_process_keeps_bytes_and_partitions(kafka, topic_factory, run_copy):
    src, dst = topic_factory(partitions=4), topic_factory(partitions=4)
    fill(kafka, src, 2000, 4)
    params = copy_params(src, dst, n=2000)
    dry = plan(get_cluster("local"), get_cluster("local"), params)
    assert dry["to_send"] == 2000 and dry["complete"]
    assert dry["per_target"] == {f"{dst}:{p}": 500 for p in range(4)}
    result = run_copy(params)
    assert result["delivered"] == 2000 and result["failed"] == 0
    cluster = get_cluster("local")
    for p in range(4):
        a = list(read_ranges(cluster, src, {p: (0, 500)}))
        b = list(read_ranges(cluster, dst, {p: (0, 500)}))
        assert [(r[2], r[3], r[4], r[5]) for r in a] == [(r[2], r[3], r[4], r[5]) for r in b]


class Interrupted(Exception):
    pass


@pytest.mark.django_db
def test_interrupted_copy_resumes_without_sending_twice(kafka, topic_factory, run_copy, settings):
    """A run stops after its checkpoint with more records delivered than checkpointed (as a
    killed worker leaves it); the rerun finds those in the target and does not resend them."""
    settings.CONSOLE_REPLAY_CHECKPOINT_S = 0.0
    src, dst = topic_factory(partitions=3), topic_factory(partitions=5)
    fill(kafka, src, 30_000, 3)
    params = copy_params(src, dst, n=30_000, keep=False, parts=5)
    dry = plan(get_cluster("local"), get_cluster("local"), params)
    job = copy_job(params)
    with pytest.raises(Interrupted):
        run_copy(params, job=job, fail_at=(17_345, Interrupted()))
    job.refresh_from_db()
    ck = job.progress["checkpoint"]
    assert 0 < ck["delivered"] < 17_345
    assert sum(counts(dst, 5).values()) == 17_345  # more than checkpointed got there
    result = run_copy(params, job=job, progress=job.progress)
    assert result["resumed"] and result["skipped_resent"] == 17_345 - ck["delivered"]
    after = counts(dst, 5)
    assert sum(after.values()) == 30_000
    assert {f"{dst}:{p}": n for p, n in after.items()} == dry["per_target"]
    assert result["delivered"] == 30_000


def _preview_and_confirm(c, src, form) -> str:
    from django.urls import reverse

    r = c.post(reverse("topics:replay_copy", args=["local", src]), form)
    assert r.status_code == 200, r.content.decode()[-3000:]
    token = r.content.decode().split('name="token" value="')[1].split('"')[0]
    r = c.post(reverse("topics:replay_confirm", args=["local", src]), {"token": token})
    assert r.status_code == 302, r.content.decode()[-3000:]
    return r.url.rstrip("/").split("/")[-1]


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_bulk_republish_of_100000_delivers_exactly_100000(
    celery_worker, kafka, topic_factory, client_for
):
    from tests.conftest import wait_job

    src, dst = topic_factory(partitions=4), topic_factory(partitions=4)
    fill(kafka, src, 100_000, 4)
    c = client_for("operator")
    job_id = _preview_and_confirm(
        c,
        src,
        {
            "target_cluster": "local",
            "target_topic": dst,
            "routing": "source",
            "keep_timestamps": "on",
        },
    )
    job = wait_job(job_id, timeout=180)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["delivered"] == 100_000 and job.result["failed"] == 0
    assert counts(dst, 4) == counts(src, 4) == dict.fromkeys(range(4), 25000)
    assert job.result["per_target"] == {f"{dst}:{p}": 25_000 for p in range(4)}
    print(f"bulk re-publish: {job.result['rate_per_s']:,} records/s")


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_worker_killed_halfway_resumes_and_sends_nothing_twice(
    kafka, topic_factory, make_user, tmp_path, redis_server
):
    """The pool process running the copy is killed after a checkpoint; Celery requeues the
    task, a new process takes the job over (its heartbeat stopped) and resumes from the
    checkpoint, skipping what the killed process delivered after it. The worker uses a
    Redis broker of its own, as production does (the SQLite broker's worker can crash
    when a pool process is killed), so only it takes the task."""
    import os
    import signal
    import time

    from tests.conftest import start_celery_worker, wait_job

    worker = start_celery_worker(
        tmp_path, CELERY_BROKER_URL=redis_server, CONSOLE_JOB_HEARTBEAT_S="1"
    )
    try:
        src, dst = topic_factory(partitions=4), topic_factory(partitions=6)
        fill(kafka, src, 100_000, 4)
        # Created as the confirm view does (checkpoints every 0.1 s), sent to that broker.
        from console.celery import app
        from topics.replay.tasks import records_copy_task

        params = {**copy_params(src, dst, n=100_000, keep=False, parts=6), "checkpoint_s": 0.1}
        job = job_create(
            kind="replay.copy",
            cluster="local",
            target=dst,
            params=params,
            user=make_user("operator"),
        )
        with app.connection_for_write(redis_server) as conn:
            records_copy_task.apply_async(kwargs={"job_id": str(job.id)}, connection=conn)
        job_id = job.id
        deadline = time.monotonic() + 120
        while True:
            job = Job.objects.get(id=job_id)
            ck = (job.progress or {}).get("checkpoint") or {}
            if job.state == "running" and ck.get("delivered", 0) >= 30_000:
                break
            assert not job.finished and time.monotonic() < deadline, (job.state, job.progress)
            time.sleep(0.02)
        time.sleep(0.05)  # mid-way between checkpoints: records delivered past the last one
        victim = int(job.worker.rsplit(" pid ", 1)[1])
        assert victim != worker.popen.pid  # the pool process, not the worker
        os.kill(victim, signal.SIGKILL)
        job = wait_job(job_id, timeout=180)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.attempts == 2 and job.result["resumed"]
        assert job.result["delivered"] == 100_000
        assert sum(counts(dst, 6).values()) == 100_000  # nothing sent twice, nothing lost
        print(
            f"killed at {ck['delivered']:,} checkpointed; resumed, "
            f"{job.result['skipped_resent']:,} found delivered and not sent again"
        )
    finally:
        worker.stop()


@pytest.mark.django_db
def test_a_time_range_selects_by_timestamp(kafka, topic_factory, client_for):
    from django.urls import reverse

    src, dst = topic_factory(partitions=2), topic_factory(partitions=2)
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    base = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
    for i in range(40):
        p.produce(src, value=b"v%d" % i, partition=i % 2, timestamp=base + i * 60_000)
    assert p.flush(30) == 0
    ranges = ranges_for(
        get_cluster("local"),
        src,
        partitions=None,
        start=None,
        end=None,
        start_ms=base + 10 * 60_000,
        end_ms=base + 20 * 60_000,
    )
    assert ranges == {0: (5, 10), 1: (5, 10)}  # minutes 10..19: ten records
    r = client_for("operator").post(
        reverse("topics:replay_copy", args=["local", src]),
        {
            "target_cluster": "local",
            "target_topic": dst,
            "routing": "source",
            "from_time": "2023-11-14 22:23:20",
            "to_time": "2023-11-14 22:33:20",
        },
    )
    assert r.status_code == 200, r.content.decode()[-2000:]
    assert 'data-to-send="10"' in r.content.decode()


@pytest.mark.django_db
def test_a_preview_cut_by_its_time_bound_still_copies_everything(kafka, topic_factory, run_copy):
    src, dst = topic_factory(partitions=2), topic_factory(partitions=2)
    fill(kafka, src, 5000, 2)
    params = copy_params(src, dst, n=5000, parts=2)
    dry = plan(get_cluster("local"), get_cluster("local"), params, bound_s=0)
    assert not dry["complete"] and dry["to_send"] < 5000
    params["expected"] = 5000  # what the view takes then: the offsets of the ranges
    result = run_copy(params)
    assert result["delivered"] == 5000 and result["not_sent"] == 0


@pytest.mark.django_db
def test_a_source_read_failure_records_how_far_the_copy_got(
    kafka, topic_factory, run_copy, settings
):
    from console.kafka.errors import ClusterUnavailable

    settings.CONSOLE_REPLAY_CHECKPOINT_S = 3600.0  # no checkpoint but the failure's
    src, dst = topic_factory(partitions=2), topic_factory(partitions=2)
    fill(kafka, src, 6000, 2)
    params = copy_params(src, dst, n=6000, parts=2)
    job = copy_job(params)
    with pytest.raises(ClusterUnavailable):
        run_copy(params, job=job, fail_at=(4321, ClusterUnavailable("source gone")))
    job.refresh_from_db()
    assert job.progress["checkpoint"]["delivered"] == 4321
    assert sum(counts(dst, 2).values()) == 4321
