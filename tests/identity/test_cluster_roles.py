"""Roles on single clusters: ``group=role@cluster`` in CONSOLE_ROLE_MAP, held only there."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse

from console.access import Capability, can, role_of, set_cluster_roles
from console.identity import apply_external_role, decide_cluster_roles
from console.identity.config import parse_cluster_role_map, parse_role_map
from console.models import AuditEntry, ClusterRole

MAP = "kafka-viewers=viewer,local-ops=operator@local,other-admins=admin@other"
EVERYWHERE = parse_role_map(MAP)
PER_CLUSTER = parse_cluster_role_map(MAP)


def test_the_map_splits_into_everywhere_and_single_clusters() -> None:
    assert EVERYWHERE == {"kafka-viewers": "viewer"}
    assert PER_CLUSTER == {"local-ops": {"local": "operator"}, "other-admins": {"other": "admin"}}
    both = "g=viewer@a, g=admin@a, g=operator@b, g=operator"
    assert parse_cluster_role_map(both) == {"g": {"a": "admin", "b": "operator"}}
    assert parse_role_map(both) == {"g": "operator"}
    with pytest.raises(ImproperlyConfigured, match="names no cluster"):
        parse_role_map("g=admin@")
    with pytest.raises(ImproperlyConfigured, match="unknown role 'root'"):
        parse_role_map("g=root@prod")


@override_settings(CONSOLE_ROLE_MAP=EVERYWHERE, CONSOLE_CLUSTER_ROLE_MAP=PER_CLUSTER)
def test_single_cluster_roles_only_where_they_add_to_the_role_everywhere() -> None:
    groups = ["/local-ops", "/other-admins"]
    assert decide_cluster_roles(groups) == {"local": "operator", "other": "admin"}
    assert decide_cluster_roles(groups, above="operator") == {"other": "admin"}
    assert decide_cluster_roles(["kafka-viewers"]) == {}


@pytest.mark.django_db
@override_settings(
    CONSOLE_ROLE_MAP=EVERYWHERE, CONSOLE_CLUSTER_ROLE_MAP=PER_CLUSTER, CONSOLE_DEFAULT_ROLE=""
)
def test_a_role_on_one_cluster_holds_there_only(django_user_model) -> None:
    user = django_user_model.objects.create_user("ext-local-op")
    assert apply_external_role(user, ["local-ops"], "oidc") == "operator@local"
    user = django_user_model.objects.get(pk=user.pk)
    assert can(user, Capability.OPERATE, "local") and can(user, Capability.READ_MESSAGES, "local")
    assert not can(user, Capability.ADMIN, "local")
    assert not can(user, Capability.VIEW, "other") and not can(user, Capability.VIEW)
    assert role_of(user, "local") == "operator" and role_of(user, "other") == ""
    entry = AuditEntry.objects.get(action="login.role", target="ext-local-op")
    assert entry.params["clusters"] == {"local": "operator"} and entry.outcome == "ok"
    # Next log-in, the group is gone and the viewer group came: the cluster role goes.
    assert apply_external_role(user, ["kafka-viewers"], "oidc") == "viewer"
    user = django_user_model.objects.get(pk=user.pk)
    assert not ClusterRole.objects.filter(user=user).exists()
    assert not can(user, Capability.READ_MESSAGES, "local") and can(user, Capability.VIEW, "x")
    # An admin role on one cluster never opens the audit log, which spans all of them.
    set_cluster_roles(user, {"local": "admin"})
    assert can(user, Capability.ADMIN, "local") and not can(user, Capability.AUDIT, "local")


@pytest.mark.kafka
@pytest.mark.django_db
def test_pages_follow_the_role_of_their_cluster(kafka, topic, produce, make_user) -> None:
    produce(topic, [{"key": b"k", "value": b'{"secret": "v-on-local"}'}])
    local_op = make_user(None)
    set_cluster_roles(local_op, {"local": "operator"})
    elsewhere = make_user("viewer")
    set_cluster_roles(elsewhere, {"other": "operator"})
    op, viewer = Client(), Client()
    op.force_login(local_op)
    viewer.force_login(elsewhere)
    messages = reverse("topics:messages", args=["local", topic])
    # The operator of cluster local: the cluster list shows it, its messages show contents.
    clusters = op.get(reverse("console:clusters"))
    assert clusters.status_code == 200 and b"/clusters/local/" in clusters.content
    page = op.get(messages)
    assert page.status_code == 200 and b"v-on-local" in page.content
    assert b'<span class="badge">operator</span>' in page.content
    assert op.get(reverse("topics:produce", args=["local", topic])).status_code == 200
    assert op.get(reverse("console:audit")).status_code == 403
    # A viewer everywhere who operates another cluster: a viewer here, no contents.
    page = viewer.get(messages)
    assert page.status_code == 200 and b"v-on-local" not in page.content
    assert viewer.get(reverse("topics:produce", args=["local", topic])).status_code == 403


@pytest.mark.django_db
def test_the_live_tail_watch_reads_the_role_of_the_tails_cluster(make_user) -> None:
    from types import SimpleNamespace

    from topics.tail.consumers import _refused

    class Tail:  # what the watch reads of a live-tail consumer: its cluster
        def __init__(self, name: str) -> None:
            self.cluster = SimpleNamespace(name=name)

    user = make_user(None)
    set_cluster_roles(user, {"local": "operator"})
    here, there = Tail("local"), Tail("other")
    watched = {here: (user.pk, None), there: (user.pk, None)}
    assert _refused(watched) == [there]
    set_cluster_roles(user, {})
    assert set(_refused(watched)) == {here, there}
