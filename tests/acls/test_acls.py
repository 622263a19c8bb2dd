"""Kafka ACLs against a real broker with KRaft's StandardAuthorizer on a SASL/SCRAM listener.

The broker is this module's own (the session broker has no authorizer, and keeps none: a
test here also checks the "no authorizer" message on it). allow.everyone.if.no.acl.found is
true, so alice reads until a DENY names her, and reads again once it is deleted.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, reset_clusters
from console.models import AuditEntry
from tests.acls.conftest import ADMIN_PW, alice_reads, sasl

pytestmark = [pytest.mark.django_db, pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def clusters(acl_kafka):
    """'acl' (the console as SASL super user admin) and 'acl-ro' (the same, read-only)."""
    props = {
        k: v for k, v in sasl(acl_kafka, "admin", ADMIN_PW).items() if k != "bootstrap.servers"
    }
    saved = all_clusters()
    reset_clusters(
        [
            *saved,
            Cluster("acl", acl_kafka.sasl_bootstrap_servers, properties=props),
            Cluster("acl-ro", acl_kafka.sasl_bootstrap_servers, properties=props, read_only=True),
        ]
    )
    yield
    reset_clusters(saved)


def test_deny_read_refuses_alice_until_the_console_deletes_it(
    acl_kafka, acl_topic, clusters, client_for
):
    t0 = time.monotonic()
    assert alice_reads(acl_kafka, acl_topic) == "ok"
    admin = client_for("admin")
    url = reverse("acls:create", args=["acl"])
    fields = {
        "principal": "User:alice",
        "resource_type": "topic",
        "resource_name": acl_topic,
        "pattern_type": "literal",
        "operation": "read",
        "permission": "deny",
        "host": "*",
    }
    # The preview changes nothing.
    preview = admin.post(url, fields)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'id="create-preview"' in html and acl_topic in html and "DENY" in html
    listing = admin.get(reverse("acls:list", args=["acl"]), {"principal": "User:alice"})
    assert 'id="no-acls"' in listing.content.decode()
    # Confirmed: created, audited, and the broker refuses alice.
    r = admin.post(url, {**fields, "confirm": "1"})
    assert r.status_code == 302, r.content.decode()[-1500:]
    assert AuditEntry.objects.filter(action="acl.create", outcome="ok", cluster="acl").exists()
    assert alice_reads(acl_kafka, acl_topic) == "TOPIC_AUTHORIZATION_FAILED"

    # The list, filtered, shows it; other filters do not.
    listing = admin.get(
        reverse("acls:list", args=["acl"]),
        {"principal": "User:alice", "resource_name": acl_topic, "permission": "deny"},
    ).content.decode()
    assert listing.count('class="acl-row"') == 1 and acl_topic in listing
    other = admin.get(
        reverse("acls:list", args=["acl"]), {"resource_name": acl_topic, "operation": "write"}
    ).content.decode()
    assert 'id="no-acls"' in other
    # Per topic and per principal.
    topic_page = admin.get(reverse("acls:topic", args=["acl", acl_topic])).content.decode()
    denied = topic_page.split('data-operation="read"')[1].split("</tr>")[0]
    assert "User:alice" in denied.split('class="denied"')[1]
    who = admin.get(reverse("acls:principal", args=["acl"]), {"principal": "User:alice"})
    assert f"TOPIC:{acl_topic}" in who.content.decode().replace('data-resource="topic:', "TOPIC:")

    # Delete through the console: preview, confirm; alice reads again.
    delete_url = reverse("acls:delete", args=["acl"])
    preview = admin.get(delete_url, {"principal": "User:alice", "resource_name": acl_topic})
    html = preview.content.decode()
    assert preview.status_code == 200 and html.count('class="acl-row"') == 1
    plan = re.search(r'name="plan" value="([^"]+)"', html).group(1)
    r = admin.post(delete_url, {"plan": plan})
    assert r.status_code == 302
    entry = AuditEntry.objects.get(action="acl.delete", cluster="acl", outcome="ok")
    assert len(entry.after) == 1 and entry.after[0]["principal"] == "User:alice"
    assert alice_reads(acl_kafka, acl_topic) == "ok"
    print(f"deny/delete round trip {time.monotonic() - t0:.1f} s")


def test_delete_preview_shows_exactly_the_matching_bindings(acl_kafka, clusters, client_for):
    admin = client_for("admin")
    a, b = f"pre-{uuid.uuid4().hex[:6]}", f"pre-{uuid.uuid4().hex[:6]}"
    url = reverse("acls:create", args=["acl"])
    for principal, name, op in (
        ("User:bob", a, "read"),
        ("User:bob", a, "write"),
        ("User:bob", b, "read"),
        ("User:carol", a, "read"),
    ):
        r = admin.post(
            url,
            {
                "principal": principal,
                "resource_type": "topic",
                "resource_name": name,
                "pattern_type": "literal",
                "operation": op,
                "permission": "allow",
                "host": "*",
                "confirm": "1",
            },
        )
        assert r.status_code == 302
    delete_url = reverse("acls:delete", args=["acl"])
    html = admin.get(delete_url, {"principal": "User:bob", "resource_name": a}).content.decode()
    table = html.split('id="delete-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr class="acl-row">(.*?)</tr>', table)
    assert len(rows) == 2
    assert all("User:bob" in r and a in r for r in rows)
    assert {("READ" in r, "WRITE" in r) for r in rows} == {(True, False), (False, True)}
    # A binding added after the preview is not deleted by its confirmation.
    plan = re.search(r'name="plan" value="([^"]+)"', html).group(1)
    admin.post(
        url,
        {
            "principal": "User:bob",
            "resource_type": "topic",
            "resource_name": a,
            "pattern_type": "literal",
            "operation": "describe",
            "permission": "allow",
            "host": "*",
            "confirm": "1",
        },
    )
    assert admin.post(delete_url, {"plan": plan}).status_code == 302
    left = admin.get(reverse("acls:list", args=["acl"]), {"resource_name": a}).content.decode()
    ops = re.findall(r'data-operation="(\w+)"', left)
    assert sorted(ops) == ["describe", "read"]  # bob's describe and carol's read stay
    # A forged or missing plan deletes nothing.
    assert admin.post(delete_url, {"plan": plan + "x"}).status_code == 400
    assert admin.post(delete_url, {}).status_code == 400


def test_empty_delete_filter_is_refused(acl_kafka, clusters, client_for):
    admin = client_for("admin")
    url = reverse("acls:delete", args=["acl"])
    for params in ({}, {"operation": "read"}, {"resource_type": "topic", "permission": "allow"}):
        r = admin.get(url, params)
        assert r.status_code == 400
        assert "empty filter" in r.content.decode()
        assert 'name="plan"' not in r.content.decode()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewer_and_operator_may_not_create_or_delete(
    role, acl_kafka, acl_topic, clusters, client_for
):
    c = client_for(role)
    fields = {
        "principal": "User:mallory",
        "resource_type": "topic",
        "resource_name": acl_topic,
        "pattern_type": "literal",
        "operation": "all",
        "permission": "allow",
        "host": "*",
        "confirm": "1",
    }
    assert c.get(reverse("acls:create", args=["acl"])).status_code == 403
    assert c.post(reverse("acls:create", args=["acl"]), fields).status_code == 403
    assert c.get(reverse("acls:delete", args=["acl"]), {"principal": "User:x"}).status_code == 403
    assert c.post(reverse("acls:delete", args=["acl"]), {"plan": "x"}).status_code == 403
    assert AuditEntry.objects.filter(outcome="denied", cluster="acl").count() >= 2
    # They may still look.
    listing = c.get(reverse("acls:list", args=["acl"]))
    assert listing.status_code == 200 and 'id="new-acl"' not in listing.content.decode()
    assert "User:mallory" not in listing.content.decode()


def test_read_only_cluster_refuses_changes(acl_kafka, acl_topic, clusters, client_for):
    admin = client_for("admin")
    fields = {
        "principal": "User:mallory",
        "resource_type": "topic",
        "resource_name": acl_topic,
        "pattern_type": "literal",
        "operation": "all",
        "permission": "allow",
        "host": "*",
        "confirm": "1",
    }
    assert admin.post(reverse("acls:create", args=["acl-ro"]), fields).status_code == 403
    r = admin.get(reverse("acls:delete", args=["acl-ro"]), {"principal": "User:alice"})
    assert r.status_code == 403
    assert admin.post(reverse("acls:delete", args=["acl-ro"]), {"plan": "x"}).status_code == 403
    denied = AuditEntry.objects.filter(cluster="acl-ro", outcome="denied")
    assert sorted(denied.values_list("action", flat=True)) == [
        "acl.create",
        "acl.delete",
        "acl.delete",
    ]
    listing = admin.get(reverse("acls:list", args=["acl-ro"])).content.decode()
    assert 'id="read-only"' in listing and 'id="new-acl"' not in listing
    who = admin.get(reverse("acls:list", args=["acl"]), {"principal": "User:mallory"})
    assert 'id="no-acls"' in who.content.decode()


def test_bad_input_is_a_400_not_a_500(acl_kafka, clusters, client_for):
    admin = client_for("admin")
    r = admin.post(
        reverse("acls:create", args=["acl"]),
        {"principal": "alice", "resource_type": "topic", "resource_name": "x"},
    )
    assert r.status_code == 400
    assert "Type:name" in r.content.decode()
    base = {
        "principal": "User:x",
        "resource_type": "cluster",
        "resource_name": "",
        "pattern_type": "literal",
        "operation": "read",
        "permission": "allow",
        "host": "*",
        "confirm": "1",
    }
    r = admin.post(reverse("acls:create", args=["acl"]), base)
    assert r.status_code == 400 and "READ means nothing on a cluster" in r.content.decode()
    r = admin.post(
        reverse("acls:create", args=["acl"]),
        {**base, "resource_type": "topic", "resource_name": "t", "host": "10.0.0.x"},
    )
    assert r.status_code == 400 and "one IP address" in r.content.decode()
    assert not AuditEntry.objects.filter(
        action="acl.create", cluster="acl", target__contains="User:x"
    )
    r = admin.get(reverse("acls:list", args=["acl"]), {"operation": "fly"})
    assert r.status_code == 400
    r = admin.get(reverse("acls:principal", args=["acl"]), {"principal": "nobody"})
    assert r.status_code == 400


def test_broker_without_authorizer_says_so(kafka, topic, client_for):
    admin = client_for("admin")
    for url in (
        reverse("acls:list", args=["local"]),
        reverse("acls:topic", args=["local", topic]),
        reverse("acls:principal", args=["local"]) + "?principal=User:alice",
    ):
        r = admin.get(url)
        assert r.status_code == 200, url
        html = r.content.decode()
        assert 'id="acls-disabled"' in html and "no authorizer" in html


def test_topic_page_links_to_its_acls(acl_kafka, acl_topic, clusters, client_for):
    html = client_for("viewer").get(reverse("topics:detail", args=["acl", acl_topic]))
    assert reverse("acls:topic", args=["acl", acl_topic]) in html.content.decode()


def test_unreachable_cluster_is_a_visible_error_in_bounded_time(client_for):
    from tools.kafka.local import free_port

    saved = all_clusters()
    reset_clusters([*saved, Cluster("acl-down", f"127.0.0.1:{free_port()}")])
    try:
        t0 = time.monotonic()
        r = client_for("viewer").get(reverse("acls:list", args=["acl-down"]))
        elapsed = time.monotonic() - t0
        assert r.status_code == 503 and "unreachable" in r.content.decode()
        assert elapsed < 20, elapsed
    finally:
        reset_clusters(saved)


def test_topic_page_shows_literal_prefixed_and_wildcard_bindings(acl_kafka, clusters, client_for):
    from console.kafka import acls

    cluster = next(c for c in all_clusters() if c.name == "acl")
    stem = f"zz-{uuid.uuid4().hex[:6]}"
    topic = f"{stem}.orders"
    made = [
        acls.Acl("topic", topic, "literal", "User:carol", "*", "read", "allow"),
        acls.Acl("topic", f"{stem}.", "prefixed", "User:dave", "*", "write", "allow"),
        acls.Acl("topic", "*", "literal", "User:nobody", "*", "all", "deny"),
        acls.Acl("topic", f"{stem}-other", "literal", "User:erin", "*", "read", "allow"),
    ]
    acls.create_acls(cluster, made)
    try:
        html = client_for("viewer").get(reverse("acls:topic", args=["acl", topic])).content.decode()
        table = html.split('id="topic-acl-table"')[1].split("</table>")[0]
        assert table.count('class="acl-row"') == 3
        assert "User:erin" not in html  # another topic's binding
        rows = {
            op: html.split(f'<tr data-operation="{op}">')[1].split("</tr>")[0]
            for op in ("read", "write")
        }
        assert "User:carol" in rows["read"].split('class="denied"')[0]
        assert "User:dave" in rows["write"].split('class="denied"')[0]
        assert all("User:nobody" in r.split('class="denied"')[1] for r in rows.values())
        # "What may dave do?": his prefixed binding, by resource.
        who = client_for("viewer").get(
            reverse("acls:principal", args=["acl"]), {"principal": "User:dave"}
        )
        assert f'data-resource="topic:{stem}."' in who.content.decode()
    finally:
        acls.delete_acls(cluster, made)
    assert not acls.describe_acls(cluster, acls.AclFilter(resource_name="*"))
