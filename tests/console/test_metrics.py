"""/metrics: closed without a token or an allowed network; request, job and Kafka metrics;
opt-in lag gauges equal to what Kafka's own tool reports; values add up across processes."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import group_describe, start_asgi_server, unique

TOKEN = "metrics-token-for-tests"


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape() -> dict[tuple[str, frozenset], float]:
    with override_settings(CONSOLE_METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.content.decode())


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- access ----------------------------------------------------------------------


@override_settings(CONSOLE_METRICS_TOKEN="", CONSOLE_METRICS_ALLOW=[])
def test_metrics_are_closed_when_nothing_is_configured():
    response = Client().get("/metrics")
    assert response.status_code == 403
    assert b"CONSOLE_METRICS_TOKEN" in response.content
    # a log-in does not open them either: they are for the monitoring system
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


@override_settings(CONSOLE_METRICS_TOKEN=TOKEN, CONSOLE_METRICS_ALLOW=[])
def test_metrics_refuse_a_request_without_the_token():
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"console_" not in response.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").status_code == 401


@pytest.mark.django_db
@override_settings(CONSOLE_METRICS_TOKEN="", CONSOLE_METRICS_ALLOW=["10.0.0.0/8", "::1"])
def test_metrics_answer_an_allowed_network_only():
    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="192.168.1.5").get("/metrics").status_code == 403


# --- what they count -----------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_view_name():
    before = scrape()
    for _ in range(3):
        assert Client().get("/accounts/login/").status_code == 200
    assert Client().get("/no/such/page/").status_code == 404
    after = scrape()
    login = {"view": "login", "method": "GET", "status": "200"}
    assert (
        value(after, "console_http_requests_total", **login)
        - value(before, "console_http_requests_total", **login)
        == 3
    )
    assert (
        value(after, "console_http_request_duration_seconds_count", view="login")
        - value(before, "console_http_request_duration_seconds_count", view="login")
        == 3
    )
    missing = {"view": "unmatched", "method": "GET", "status": "404"}
    assert (
        value(after, "console_http_requests_total", **missing)
        - value(before, "console_http_requests_total", **missing)
        == 1
    )


@pytest.mark.django_db
def test_jobs_are_counted_by_kind_and_outcome():
    from console.jobs import job_cancel, job_create, job_fail, job_finish

    kind = unique("kind")
    job_finish(job_create(kind=kind, cluster="local").id, {"done": 1})
    job_finish(job_create(kind=kind, cluster="local").id, {"done": 2})
    job_fail(job_create(kind=kind, cluster="local").id, "broker gone")
    job_cancel(job_create(kind=kind, cluster="local").id)
    after = scrape()
    assert value(after, "console_jobs_total", kind=kind, outcome="succeeded") == 2
    assert value(after, "console_jobs_total", kind=kind, outcome="failed") == 1
    assert value(after, "console_jobs_total", kind=kind, outcome="cancelled") == 1


@pytest.mark.kafka
@pytest.mark.django_db
def test_kafka_requests_are_timed_and_errors_counted_by_cluster(kafka):
    from console.clusters import get_cluster
    from console.kafka.cluster import broker_racks
    from console.kafka.errors import NotFound
    from console.kafka.topics import topic_delete

    cluster = get_cluster("local")
    before = scrape()
    assert len(broker_racks(cluster)) == 1
    with pytest.raises(NotFound):
        topic_delete(cluster, name=unique("never-created"))
    after = scrape()
    count = "console_kafka_request_duration_seconds_count"
    assert value(after, count, cluster="local") - value(before, count, cluster="local") == 2
    errors = "console_kafka_request_errors_total"
    assert (
        value(after, errors, cluster="local", error="NotFound")
        - value(before, errors, cluster="local", error="NotFound")
        == 1
    )


# --- lag gauges ----------------------------------------------------------------------


@pytest.fixture
def lag_metrics_on(kafka, monkeypatch):
    """The 'local' cluster with lag_metrics = true (KAFKA_CLUSTERS_0_LAGMETRICS)."""
    from console.clusters import reset_clusters

    monkeypatch.setenv("KAFKA_CLUSTERS_0_LAGMETRICS", "true")
    reset_clusters()
    yield
    monkeypatch.delenv("KAFKA_CLUSTERS_0_LAGMETRICS", raising=False)
    reset_clusters()


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        c.close()


def tool_lag(kafka, group: str, topic: str) -> dict[int, int]:
    """LAG per partition as Kafka's ConsumerGroupCommand --describe prints it."""
    return {p: lag for p, (_cur, _end, lag) in group_describe(kafka, group, topic).items()}


@pytest.mark.kafka
@pytest.mark.django_db
def test_lag_gauges_equal_kafka_consumer_groups_tool(
    kafka, lag_metrics_on, topic_factory, produce, monkeypatch
):
    from console.clusters import reset_clusters
    from groups.tasks import lag_sample

    t = topic_factory(partitions=3)
    produce(t, [{"value": b"v", "partition": p} for p in (0, 1, 1, 2, 2, 2)] * 5)
    group = unique("lagm")
    commit(kafka.bootstrap_servers, group, {(t, 0): 2, (t, 1): 10, (t, 2): 0})
    lag_sample()
    samples = scrape()
    tool = tool_lag(kafka, group, t)
    assert tool == {0: 3, 1: 0, 2: 15}
    for partition, lag in tool.items():
        labels = {"cluster": "local", "group": group, "topic": t, "partition": str(partition)}
        assert value(samples, "console_group_lag", **labels) == lag
    assert value(samples, "console_group_lag_sampled_timestamp_seconds", cluster="local") > 0

    # opt-in: with the flag off, the next sample takes the cluster's gauges away
    monkeypatch.delenv("KAFKA_CLUSTERS_0_LAGMETRICS")
    reset_clusters()
    lag_sample()
    assert not [key for key in scrape() if key[0] == "console_group_lag"]


# --- several processes ---------------------------------------------------------------


def _get(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


@pytest.mark.slow
def test_metrics_add_up_across_server_processes(django_db_setup, tmp_path):
    """Two web processes sharing PROMETHEUS_MULTIPROC_DIR: either one's /metrics
    counts the requests both served, also after one has gone."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "CONSOLE_METRICS_TOKEN": TOKEN}
    first, url_1 = start_asgi_server(tmp_path, **env)
    second, url_2 = start_asgi_server(tmp_path, **env)
    try:
        for _ in range(2):
            _get(f"{url_1}/accounts/login/")
        for _ in range(3):
            _get(f"{url_2}/accounts/login/")
        login = {"view": "login", "method": "GET", "status": "200"}
        assert (
            value(parse(_get(f"{url_1}/metrics", TOKEN)), "console_http_requests_total", **login)
            == 5
        )
        second.stop()
        assert (
            value(parse(_get(f"{url_1}/metrics", TOKEN)), "console_http_requests_total", **login)
            == 5
        )
    finally:
        first.stop()
        second.stop()


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tail_viewers_and_their_shared_consumer_are_gauged(
    kafka, topic_factory, make_user, tmp_path
):
    from tests.topics.tail.conftest import TailClient

    server, url = start_asgi_server(tmp_path, CONSOLE_METRICS_TOKEN=TOKEN)
    c = Client()
    c.force_login(make_user("operator"))
    session = c.cookies["sessionid"].value
    t = topic_factory(partitions=2)

    def gauges() -> tuple[float, float]:
        samples = parse(_get(f"{url}/metrics", TOKEN))
        return value(samples, "console_tail_viewers"), value(samples, "console_tail_consumers")

    viewers = []
    try:
        assert gauges() == (0, 0)
        for _ in range(2):
            viewers.append(TailClient(url, session, t))
            viewers[-1].wait_live()
        assert gauges() == (2, 1)
        for v in viewers:
            v.close()
        deadline = time.monotonic() + 20
        while gauges() != (0, 0):
            assert time.monotonic() < deadline, gauges()
            time.sleep(0.2)
    finally:
        for v in viewers:
            v.close()
        server.stop()


@pytest.mark.slow
def test_the_allowed_network_is_the_peers_unless_a_proxy_is_trusted(django_db_setup, tmp_path):
    """console.serve ignores X-Forwarded-For by default: a loopback peer allowed to read
    /metrics stays allowed whatever it claims. With the proxy trusted
    (CONSOLE_FORWARDED_ALLOW_IPS), the forwarded address is the one checked."""
    env = {"CONSOLE_METRICS_TOKEN": "", "CONSOLE_METRICS_ALLOW": "127.0.0.1/32"}

    def status(url: str, forwarded: str) -> int:
        request = urllib.request.Request(f"{url}/metrics", headers={"X-Forwarded-For": forwarded})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    direct, url = start_asgi_server(tmp_path, **env)
    try:
        assert status(url, "10.9.8.7") == 200
    finally:
        direct.stop()
    proxied, url = start_asgi_server(tmp_path, CONSOLE_FORWARDED_ALLOW_IPS="127.0.0.1", **env)
    try:
        assert status(url, "10.9.8.7") == 403
        assert status(url, "127.0.0.1") == 200
    finally:
        proxied.stop()
