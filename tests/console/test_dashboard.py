"""The cluster dashboard: the throughput sampler and its rates, the overview's figures,
chart data, worst lag and recent operations, full page and fragment, roles."""

import datetime as dt
import json
import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from console.clusters import get_cluster
from console.models import AuditEntry, ThroughputSample
from console.tasks import throughput_sample
from console.throughput import (
    throughput_rate_get,
    throughput_sample_record,
    throughput_series_for,
)
from groups.models import LagSample
from tests.console.test_dashboard_browser import offsets_answer

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def chart_json(html: str) -> dict:
    found = re.search(r'<script id="rate-chart-data" type="application/json">(.*?)</script>', html)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"[^>]*>(.*?)</dd>', html, re.S)
    assert found, f"no {name} figure"
    return re.sub(r"<[^>]+>", " ", found.group(1)).split()[0]


def test_sampler_rate_is_messages_produced_over_the_interval(kafka, topic, produce):
    local = get_cluster("local")
    offsets_answer(local, topic)
    t0 = timezone.now() - dt.timedelta(seconds=30)
    throughput_sample_record(cluster=local, at=t0)
    produce(topic, [b"x"] * 600)
    throughput_sample_record(cluster=local, at=t0 + dt.timedelta(seconds=30))

    rows = {r.topic: r for r in ThroughputSample.objects.filter(at=t0 + dt.timedelta(seconds=30))}
    assert rows[topic].end == 600 and rows[topic].produced == 600
    assert rows[""].produced == 600  # the cluster's total
    rate = throughput_rate_get(cluster="local", max_age_s=90)
    assert rate is not None and rate.per_s == pytest.approx(20.0) and rate.interval_s == 30
    topic_rate = throughput_rate_get(cluster="local", topic=topic, max_age_s=90)
    assert topic_rate.per_s == pytest.approx(20.0)


def test_a_recreated_topic_never_makes_the_rate_negative(kafka):
    """Offsets that fall (a topic deleted and recreated) add nothing, then count again."""
    at = timezone.now() - dt.timedelta(minutes=2)
    for i, (end, produced) in enumerate([(1000, 0), (10, 0), (70, 60)]):
        ThroughputSample.objects.create(
            at=at + dt.timedelta(seconds=30 * i), cluster="x", topic="t", end=end, produced=produced
        )
    points = throughput_series_for(cluster="x", topic="t", since=at, gap_s=90)
    assert [p.per_s for p in points] == [0, 2.0]


def test_a_stopped_sampler_is_a_gap_and_no_current_rate(kafka):
    at = timezone.now() - dt.timedelta(minutes=30)
    for i, offset_s in enumerate([0, 30, 630]):  # ten minutes without a sample
        ThroughputSample.objects.create(
            at=at + dt.timedelta(seconds=offset_s), cluster="x", topic="", end=0, produced=i * 300
        )
    points = throughput_series_for(cluster="x", since=at, gap_s=90)
    assert [p.per_s for p in points] == [10.0, None]
    assert throughput_rate_get(cluster="x", max_age_s=90) is None  # newest is 20 min old


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_sampler_task_runs_on_the_worker_and_prunes(celery_worker, topic):
    old = timezone.now() - dt.timedelta(days=3)
    ThroughputSample.objects.create(at=old, cluster="local", topic="", end=1, produced=1)
    throughput_sample.delay()
    deadline = time.monotonic() + 30
    while not ThroughputSample.objects.filter(cluster="local", topic=topic).exists():
        assert time.monotonic() < deadline, "the worker never sampled"
        time.sleep(0.2)
    # The task writes the new round, then prunes: wait for the prune, bounded.
    while ThroughputSample.objects.filter(at=old).exists():
        assert time.monotonic() < deadline, "the worker sampled but never pruned the old row"
        time.sleep(0.2)


def test_overview_page_and_fragment(kafka, client_for, topic):
    c = client_for("viewer")
    html = c.get(reverse("console:cluster", args=["local"])).content.decode()
    assert "<html" in html and 'id="overview"' in html
    assert 'data-broker="1"' in html and 'data-figure="topics"' in html
    # refreshes itself while visible, never under someone typing
    assert "every 10s [document.visibilityState === 'visible'" in html
    assert "form:focus-within" in html
    assert "No samples yet — the sampler runs every 30 s." in html
    r = c.get(reverse("console:cluster", args=["local"]), HTTP_HX_REQUEST="true")
    fragment = r.content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="overview"')
    assert 'data-figure="topics"' in fragment


def test_chart_data_points_equal_the_stored_samples(kafka, client_for):
    base = timezone.now() - dt.timedelta(seconds=125)
    produced = [0, 300, 300, 1200, 1500]
    for i, p in enumerate(produced):
        ThroughputSample.objects.create(
            at=base + dt.timedelta(seconds=30 * i), cluster="local", topic="", end=p, produced=p
        )
    html = client_for("viewer").get(reverse("console:cluster", args=["local"])).content.decode()
    data = chart_json(html)
    rows = list(ThroughputSample.objects.filter(cluster="local", topic="").order_by("at"))
    assert data["x"] == [int(r.at.timestamp()) for r in rows[1:]]
    expected = [
        (b.produced - a.produced) / (b.at - a.at).total_seconds()
        for a, b in zip(rows[:-1], rows[1:], strict=True)
    ]
    assert data["series"][0]["values"] == pytest.approx(expected)
    assert data["series"][0]["values"] == pytest.approx([10, 0, 30, 10])
    assert data["unit"] == "msg/s" and data["to"] - data["from"] == 3600
    # the same numbers in the table, newest first
    table = html.split('id="rate-table"')[1].split("</table>")[0]
    assert re.findall(r'data-rate="([^"]*)"', table) == ["10.0", "30.0", "0.0", "10.0"]
    # the two newest samples give the figure card
    assert figure(html, "rate") == "10"


def test_figures_and_cards_say_what_the_cluster_has(kafka, client_for, topic_factory):
    from confluent_kafka.admin import AdminClient

    topic_factory(partitions=4)
    md = AdminClient({"bootstrap.servers": kafka.bootstrap_servers}).list_topics(timeout=10)
    partitions = sum(len(t.partitions) for t in md.topics.values())
    c = client_for("viewer")
    html = c.get(reverse("console:cluster", args=["local"])).content.decode()
    assert figure(html, "topics") == f"{len(md.topics):,}"
    assert figure(html, "partitions") == f"{partitions:,}"
    assert figure(html, "brokers") == "1"
    assert figure(html, "under-replicated") == "0"
    cards = c.get(reverse("console:clusters")).content.decode()
    card = cards.split('data-cluster="local"')[1].split("</article>")[0]
    assert figure(card, "partitions") == f"{partitions:,}" and f"of {partitions:,}" in card
    assert "online" in card and "reachable in" in card


def test_worst_lag_comes_from_the_newest_lag_round(kafka, client_for):
    old, new = timezone.now() - dt.timedelta(minutes=1), timezone.now()
    LagSample.objects.create(
        at=old, cluster="local", group="g-old", topic="t", lag=10**6, committed=0, end=10**6
    )
    for group, topic, lag in [
        ("g-a", "t1", 5),
        ("g-a", "t2", 7),
        ("g-b", "t1", 100),
        ("g-c", "t", 0),
    ]:
        LagSample.objects.create(
            at=new, cluster="local", group=group, topic=topic, lag=lag, committed=0, end=lag
        )
    html = client_for("viewer").get(reverse("console:cluster", args=["local"])).content.decode()
    table = html.split('id="worst-lag"')[1].split("</table>")[0]
    assert re.findall(r'data-group="([^"]+)"', table) == ["g-b", "g-a", "g-c"]
    assert ">12<" in table and "g-old" not in table


def test_recent_operations_only_for_roles_that_read_the_audit_log(kafka, client_for):
    AuditEntry.objects.create(
        username="alice", cluster="local", action="topic_create", target="payments", outcome="ok"
    )
    AuditEntry.objects.create(
        username="bob", cluster="elsewhere", action="topic_delete", target="other", outcome="ok"
    )
    url = reverse("console:cluster", args=["local"])
    admin = client_for("admin").get(url).content.decode()
    ops = admin.split('id="recent-operations"')[1].split("</table>")[0]
    assert "payments" in ops and "alice" in ops and "other" not in ops
    for role in ("viewer", "operator"):
        html = client_for(role).get(url).content.decode()
        assert "Recent operations" not in html and "payments" not in html


def test_broker_configs_are_humanised_with_the_raw_value_in_the_title(kafka, client_for):
    html = client_for("viewer").get(reverse("console:broker", args=["local", 1])).content.decode()
    row = html.split('data-config="log.retention.hours"')[1].split("</tr>")[0]
    assert '<span class="num" title="168">7 d</span>' in row
    row = html.split('data-config="log.segment.bytes"')[1].split("</tr>")[0]
    assert re.search(r'title="\d+">[\d.]+ (MiB|GiB)</span>', row)
