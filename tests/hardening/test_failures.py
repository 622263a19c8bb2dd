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
        frozen_row = r.text.split('data-cluster="frozen"')[1].split("</tr>")[0]
        local_row = r.text.split('data-cluster="local"')[1].split("</tr>")[0]
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
