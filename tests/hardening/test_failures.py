"""Kafka or Redis misbehaving: pages stay bounded and clear; nothing hangs or 500s."""

import concurrent.futures
import re
import time

import pytest
import requests

from tests.conftest import PASSWORD, start_asgi_server
from tools.kafka.local import LocalKafka, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def login(base: str, username: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/accounts/login/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = s.post(
        f"{base}/accounts/login/",
        timeout=10,
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    assert r.url == f"{base}/clusters/", r.text[-500:]
    return s


def timed_get(session: requests.Session, url: str) -> tuple[float, requests.Response]:
    started = time.monotonic()
    r = session.get(url, timeout=30)
    return time.monotonic() - started, r


def test_frozen_broker_is_bounded_and_does_not_slow_another_cluster(kafka, make_user, tmp_path):
    """A broker paused with SIGSTOP accepts TCP but answers nothing: its pages answer within
    the timeout, and pages of a healthy cluster served meanwhile stay fast."""
    frozen = LocalKafka(tmp_path / "frozen", nodes=1).start()
    proc, base = start_asgi_server(
        tmp_path,
        KAFKA_CLUSTERS_1_NAME="frozen",
        KAFKA_CLUSTERS_1_BOOTSTRAPSERVERS=frozen.bootstrap_servers,
        CONSOLE_KAFKA_TIMEOUT="3",
    )
    try:
        s = login(base, make_user("viewer").username)
        assert timed_get(s, f"{base}/clusters/frozen/")[1].status_code == 200
        frozen.pause_node(1)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(timed_get, s, f"{base}/clusters/frozen/topics/")
            time.sleep(0.3)  # the slow request is in flight
            fast_elapsed, fast = timed_get(s, f"{base}/clusters/local/")
            slow_elapsed, slow_r = slow.result()
        assert fast.status_code == 200 and 'data-broker="1"' in fast.text
        assert fast_elapsed < 1.5, fast_elapsed
        assert slow_elapsed < 3 + 2, slow_elapsed
        assert slow_r.status_code == 503
        assert "unreachable" in slow_r.text.lower()
        # the clusters page shows both: the healthy one reachable, the frozen one not
        elapsed, r = timed_get(s, f"{base}/clusters/")
        assert elapsed < 3 + 2
        frozen_row = r.text.split('data-cluster="frozen"')[1].split("</article>")[0]
        local_row = r.text.split('data-cluster="local"')[1].split("</article>")[0]
        assert "unreachable" in frozen_row and "unreachable" not in local_row
        # thawed, it recovers without restarting the console
        frozen.resume_node(1)
        deadline = time.monotonic() + 30
        while timed_get(s, f"{base}/clusters/frozen/topics/")[1].status_code != 200:
            assert time.monotonic() < deadline, "the console never saw the broker come back"
            time.sleep(1)
    finally:
        proc.stop()
        frozen.destroy()


def test_redis_down_pages_work_and_enqueue_fails_clearly(kafka, make_user, tmp_path):
    """Redis mode with Redis down: reading pages keep working, a task gives a clear 503."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    proc, base = start_asgi_server(tmp_path, REDIS_URL=dead)
    try:
        s = login(base, make_user("operator").username)
        assert timed_get(s, f"{base}/clusters/local/")[1].status_code == 200
        started = time.monotonic()
        r = s.post(
            f"{base}/clusters/local/worker-check/",
            timeout=30,
            headers={"X-CSRFToken": s.cookies["csrftoken"], "Referer": base},
        )
        assert time.monotonic() - started < 10
        assert r.status_code == 503
        assert "task queue" in r.text.lower() and "unreachable" in r.text.lower()
    finally:
        proc.stop()


@pytest.mark.celery
def test_tasks_fail_with_a_reason_when_every_broker_stops(kafka, make_user, tmp_path):
    """A generator running when its cluster goes away stops, records why and how many it
    delivered; a message produced while it is away fails with the reason, within bounds;
    the worker survives and runs the next task.

    The cluster that dies is private to this test, so it has its own worker (which knows
    it) on its own broker queue: the session's worker never sees these tasks."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from console.celery import app
    from console.clusters import Cluster, all_clusters, reset_clusters
    from console.jobs import job_create
    from console.models import Job
    from tests.conftest import start_celery_worker
    from topics.produce.tasks import events_generate_task, message_produce_task

    doomed = LocalKafka(tmp_path / "doomed", nodes=1)
    doomed.start()
    saved = all_clusters()
    broker = f"sqla+sqlite:///{tmp_path}/doomed-broker.sqlite3"
    worker = None
    user = make_user("operator")

    def run(task, kind: str, params: dict) -> str:
        job = job_create(kind=kind, cluster="doomed", target="events", user=user, params=params)
        with app.connection_for_write(broker) as conn:
            task.apply_async(kwargs={"job_id": str(job.id)}, connection=conn, retry=False)
        return str(job.id)

    def wait(job_id: str, bound: float) -> Job:
        t0 = time.monotonic()
        while not (job := Job.objects.get(id=job_id)).finished:
            assert time.monotonic() - t0 < bound, ("task still running", job.progress)
            time.sleep(0.3)
        return job

    try:
        admin = AdminClient({"bootstrap.servers": doomed.bootstrap_servers})
        admin.create_topics([NewTopic("events", 3, 1)])["events"].result(30)
        time.sleep(1)
        reset_clusters([*saved, Cluster("doomed", doomed.bootstrap_servers)])
        worker = start_celery_worker(
            tmp_path,
            CELERY_BROKER_URL=broker,
            KAFKA_CLUSTERS_5_NAME="doomed",
            KAFKA_CLUSTERS_5_BOOTSTRAPSERVERS=doomed.bootstrap_servers,
        )
        gen = run(
            events_generate_task,
            "produce.generate",
            {"template": "clickstream", "total": 36000, "seconds": 120, "rate": 300, "seed": 5},
        )
        deadline = time.monotonic() + 60
        while Job.objects.get(id=gen).progress.get("delivered", 0) < 300:
            assert time.monotonic() < deadline, Job.objects.get(id=gen).progress
            time.sleep(0.2)
        doomed.stop()
        job = wait(gen, 60)
        assert job.state == "failed"
        assert job.result["delivered"] >= 300 and job.result["not_sent"] > 0
        assert f"Delivered {job.result['delivered']:,} before the failure" in job.error
        # one message while the cluster is away: a bounded failure that says why
        one = run(
            message_produce_task,
            "produce.message",
            {"key": None, "value": "eA==", "headers": [], "partition": None, "compression": "none"},
        )
        job = wait(one, 30)
        assert job.state == "failed" and "unreachable" in job.error, job.error
        # the worker is alive and runs the next task once the cluster is back
        assert worker.popen.poll() is None
        doomed.start()
        again = run(
            message_produce_task,
            "produce.message",
            {"key": None, "value": "eA==", "headers": [], "partition": 0, "compression": "none"},
        )
        job = wait(again, 60)
        assert job.state == "succeeded", job.error
    finally:
        reset_clusters(saved)
        if worker is not None:
            worker.stop()
        doomed.destroy()
