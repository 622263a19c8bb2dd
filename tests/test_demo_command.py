"""The README's main command: tools/demo.py brings up Kafka, demo data, worker and the web process."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tools.kafka.local import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.kafka, pytest.mark.celery, pytest.mark.slow]


def test_demo_serves_the_console_with_data_and_a_worker(tmp_path):
    port, kafka_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("KAFKA_CLUSTERS_", "CONSOLE_", "DJANGO_SETTINGS", "REDIS_URL", "CELERY_")
        )
    }
    env["CONSOLE_VAR_DIR"] = str(tmp_path)
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "tools/demo.py",
            "--port",
            str(port),
            "--kafka-port",
            str(kafka_port),
            "--feed-rate",
            "20",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    output = lambda: (tmp_path / "demo.log").read_text(errors="replace")  # noqa: E731
    try:
        deadline = time.monotonic() + 180
        while f"http://127.0.0.1:{port}/" not in output():
            assert proc.poll() is None, output()[-3000:]
            assert time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"
        s = requests.Session()
        page = s.get(f"{base}/accounts/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        r = s.post(
            f"{base}/accounts/login/",
            timeout=10,
            data={"username": "admin", "password": "admin", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        assert r.url == f"{base}/clusters/"
        assert 'data-cluster="demo"' in r.text and "reachable" in r.text
        topics = s.get(f"{base}/clusters/demo/topics/", timeout=10).text
        assert 'data-topic="clicks"' in topics and 'data-topic="orders"' in topics
        assert "clicks-analytics" in s.get(f"{base}/clusters/demo/groups/", timeout=10).text
        messages = s.get(f"{base}/clusters/demo/topics/clicks/messages/", timeout=15).text
        assert messages.count('class="msg"') == 50 and "&quot;element&quot;" in messages
        deadline = time.monotonic() + 60
        while "2 of 8 consumers have no partition" not in (
            crowd := s.get(f"{base}/clusters/demo/groups/clicks-dashboard/", timeout=15).text
        ):
            assert time.monotonic() < deadline, crowd[-3000:]
            time.sleep(1)
        assert s.get(f"{base}/static/console/console.css", timeout=10).status_code == 200
        # the demo's worker (embedded SQLite broker) runs a task
        token = s.cookies["csrftoken"]
        r = s.post(
            f"{base}/clusters/demo/worker-check/",
            timeout=10,
            headers={"X-CSRFToken": token, "Referer": base},
        )
        job_url = r.url
        deadline = time.monotonic() + 60
        while 'data-state="succeeded"' not in (job := s.get(job_url, timeout=10).text):
            assert 'data-state="failed"' not in job, job
            assert time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert proc.returncode == 0, output()[-3000:]
    assert "stopped 1 Kafka node(s)" in output()
