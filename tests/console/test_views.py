"""Cluster pages against the real broker: full page and htmx fragment, roles, failures."""

import time

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, reset_clusters
from console.models import AuditEntry
from tools.kafka.local import LocalKafka

pytestmark = [pytest.mark.django_db, pytest.mark.kafka]


def test_clusters_page_shows_the_real_cluster(kafka, client_for, topic):
    r = client_for("viewer").get(reverse("console:clusters"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" in html
    assert 'data-cluster="local"' in html
    assert "reachable" in html
    assert kafka.bootstrap_servers in html


def test_clusters_fragment_for_htmx_is_only_the_cards(kafka, client_for):
    r = client_for("viewer").get(reverse("console:clusters"), HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in html
    assert 'class="cluster-card' in html and 'data-cluster="local"' in html


def test_brokers_page_lists_broker_with_address_and_controller(kafka, client_for):
    r = client_for("viewer").get(reverse("console:cluster", args=["local"]))
    html = r.content.decode()
    assert r.status_code == 200
    assert 'data-broker="1"' in html
    assert f"127.0.0.1:{kafka.nodes[0].port}" in html
    assert "controller" in html
    r = client_for("viewer").get(reverse("console:cluster", args=["local"]), HTTP_HX_REQUEST="true")
    assert "<html" not in r.content.decode() and 'data-broker="1"' in r.content.decode()


def test_broker_configs_show_value_and_source(kafka, client_for):
    c = client_for("viewer")
    r = c.get(reverse("console:broker", args=["local", 1]))
    html = r.content.decode()
    assert r.status_code == 200
    assert "num.partitions" in html and "static broker" in html
    r = c.get(
        reverse("console:broker", args=["local", 1]),
        {"q": "num.partitions"},
        HTTP_HX_REQUEST="true",
    )
    html = r.content.decode()
    assert "<html" not in html
    assert "num.partitions" in html and "log.retention.hours" not in html


def test_unknown_broker_is_a_404_quickly(kafka, client_for):
    started = time.monotonic()
    r = client_for("viewer").get(reverse("console:broker", args=["local", 99]))
    assert r.status_code == 404
    assert "broker 99 is not online" in r.content.decode()
    assert time.monotonic() - started < 3


def test_unknown_cluster_is_a_404_page(kafka, client_for):
    r = client_for("viewer").get(reverse("console:cluster", args=["nope"]))
    assert r.status_code == 404
    assert "No cluster named" in r.content.decode()


def test_anonymous_is_sent_to_login(kafka, client):
    r = client.get(reverse("console:clusters"))
    assert r.status_code == 302 and r.url.startswith(reverse("login"))


def test_user_without_role_is_refused(kafka, client_for):
    r = client_for(None).get(reverse("console:cluster", args=["local"]))
    assert r.status_code == 403
    assert "needs the viewer role" in r.content.decode()


def test_audit_log_is_admin_only(kafka, client_for):
    AuditEntry.objects.create(
        cluster="local", action="topic.create", target="x", outcome="ok", username="someone"
    )
    assert client_for("operator").get(reverse("console:audit")).status_code == 403
    r = client_for("admin").get(reverse("console:audit"), {"action": "topic.create"})
    assert r.status_code == 200 and "topic.create" in r.content.decode()


def test_stopped_broker_shows_unreachable_within_10s(kafka, client_for, tmp_path):
    """With the broker stopped the pages answer in time, name the reason, and never 500."""
    lone = LocalKafka(tmp_path / "lone", nodes=1).start()
    saved = all_clusters()
    reset_clusters([*saved, Cluster("lone", lone.bootstrap_servers)])
    try:
        c = client_for("viewer")
        assert 'data-cluster="lone"' in c.get(reverse("console:clusters")).content.decode()
        lone.stop()
        for url in (
            reverse("console:clusters"),
            reverse("console:cluster", args=["lone"]),
            reverse("topics:list", args=["lone"]),
            reverse("groups:list", args=["lone"]),
        ):
            started = time.monotonic()
            r = c.get(url)
            elapsed = time.monotonic() - started
            assert elapsed < 10, (url, elapsed)
            assert r.status_code in (200, 503), (url, r.status_code)
            html = r.content.decode()
            assert "unreachable" in html.lower(), url
        # the healthy cluster on the same page is still shown as reachable
        html = c.get(reverse("console:clusters")).content.decode()
        assert "Connection refused" in html or "no answer" in html or "transport" in html
    finally:
        reset_clusters(saved)
        lone.destroy()


def test_refused_post_is_audited(kafka, client_for):
    """A change refused by the role check is in the audit log, even before any service ran."""
    r = client_for(None).post(reverse("console:worker_check", args=["local"]))
    assert r.status_code == 403
    entry = AuditEntry.objects.exclude(cluster="").get()  # not the log-in
    assert entry.outcome == "denied"
    assert entry.action == "POST console:worker_check"
    assert "viewer role" in entry.detail
