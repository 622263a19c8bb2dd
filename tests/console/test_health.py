"""/healthz and /readyz: no log-in, bounded checks, 503 while a required part is down."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client, override_settings

from tests.conftest import start_asgi_server
from tools.kafka.local import free_port
from tools.postgres.local import LocalPostgres

READY_PARTS = {"database", "channel_layer", "task_queue"}


def test_healthz_answers_ok_without_login_or_io():
    # No django_db mark: a query would fail the test.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


@override_settings(ALLOWED_HOSTS=["console.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_answer_a_balancer_by_address_over_plain_http():
    """Host validation and the HTTPS redirect would turn a probe into a 400 or a 301."""
    client = Client(HTTP_HOST="10.1.2.3:8000")
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 400  # the rest stays guarded


@pytest.mark.django_db(transaction=True)
def test_readyz_checks_each_required_part():
    with override_settings(CONSOLE_READYZ_TIMEOUT=5.0):  # the first check imports a lot
        response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == READY_PARTS
    assert all(c["ok"] for c in body["checks"].values()), body
    assert isinstance(body["kafka"], dict)


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_while_the_channel_layer_is_unreachable():
    port = free_port()
    closed = f"redis://127.0.0.1:{port}/0"
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [closed]},
        }
    }
    # A generous bound: the parts that are up must pass on a busy machine too.
    with override_settings(CHANNEL_LAYERS=layers, CONSOLE_READYZ_TIMEOUT=5.0):
        started = time.monotonic()
        response = Client().get("/readyz")
        assert time.monotonic() - started < 6
        with override_settings(CONSOLE_METRICS_TOKEN="tok"):
            told = Client().get("/readyz", HTTP_AUTHORIZATION="Bearer tok").json()["checks"]
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["ok"] is False
    assert checks["database"]["ok"] and checks["task_queue"]["ok"]
    # the reason (host, port) only for who may read /metrics; others get the error's class
    assert checks["channel_layer"]["error"] == "ConnectionError"
    assert told["channel_layer"]["error"].startswith("ConnectionError: ")
    assert str(port) in told["channel_layer"]["error"]


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_while_the_task_queue_is_unreachable():
    from console.celery import app

    broker = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        with override_settings(CONSOLE_READYZ_TIMEOUT=5.0):
            response = Client().get("/readyz")
    finally:
        app.conf.broker_url = broker
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["task_queue"]["ok"] is False
    assert checks["database"]["ok"] and checks["channel_layer"]["ok"]


@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_readyz_reports_kafka_clusters_without_requiring_them(kafka, monkeypatch):
    from console.clusters import reset_clusters
    from console.health import kafka_checks

    monkeypatch.setenv("KAFKA_CLUSTERS_9_NAME", "nowhere")
    monkeypatch.setenv("KAFKA_CLUSTERS_9_BOOTSTRAPSERVERS", f"127.0.0.1:{free_port()}")
    reset_clusters()
    kafka_checks.reset()
    try:
        deadline = time.monotonic() + 30
        while True:
            response = Client().get("/readyz")
            clusters = response.json()["kafka"]
            if clusters["local"]["ok"] is not None and clusters["nowhere"]["ok"] is not None:
                break
            assert time.monotonic() < deadline, clusters
            time.sleep(0.5)
        assert response.status_code == 200  # a down cluster does not make the console unready
        assert clusters["local"] == {
            "ok": True,
            "detail": "1 broker(s)",
            "ms": clusters["local"]["ms"],
        }
        assert clusters["nowhere"]["ok"] is False
    finally:
        monkeypatch.delenv("KAFKA_CLUSTERS_9_NAME")
        monkeypatch.delenv("KAFKA_CLUSTERS_9_BOOTSTRAPSERVERS")
        reset_clusters()
        kafka_checks.reset()


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_status(url: str, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = _get(url)
        if got == status:
            return body
        assert time.monotonic() < deadline, (got, body)
        time.sleep(0.2)


@pytest.mark.slow
def test_readyz_follows_the_database_down_and_back(tmp_path):
    """A real web process with the production settings on a PostgreSQL of its own, which the
    test stops and starts again."""
    server = LocalPostgres().start()
    web = None
    try:
        web, url = start_asgi_server(
            tmp_path,
            DJANGO_SETTINGS_MODULE="console.settings",
            CONSOLE_VAR_DIR=str(tmp_path),
            CONSOLE_POSTGRES_DSN=server.dsn,
            CONSOLE_READYZ_TIMEOUT="2",
        )
        body = _wait_status(f"{url}/readyz", 200, 20)
        assert body["checks"]["database"]["detail"] == "postgresql"
        server.stop()
        started = time.monotonic()
        status, body = _get(f"{url}/readyz")
        assert time.monotonic() - started < 3.5  # within the 2 s bound, not a hang
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["channel_layer"]["ok"] and body["checks"]["task_queue"]["ok"]
        server.start()
        body = _wait_status(f"{url}/readyz", 200, 20)
        assert body["checks"]["database"]["ok"] is True
    finally:
        if web is not None:
            web.stop()
        server.destroy()
