"""Roles, read-only clusters and the audit log of mutations."""

import pytest

from console.access import Capability, CapabilityDenied, ReadOnlyCluster, can, role_of
from console.audit import mutation
from console.clusters import Cluster
from console.models import AuditEntry

pytestmark = pytest.mark.django_db

RW = Cluster("rw", "127.0.0.1:1")
RO = Cluster("ro", "127.0.0.1:1", read_only=True)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("viewer", {Capability.VIEW}),
        ("operator", {Capability.VIEW, Capability.READ_MESSAGES, Capability.OPERATE}),
        ("admin", set(Capability)),
        (None, set()),
    ],
)
def test_roles_grant_exactly_their_capabilities(make_user, role, expected):
    user = make_user(role)
    assert {c for c in Capability if can(user, c)} == expected
    assert role_of(user) == (role or "")


def test_denied_mutation_is_refused_and_audited(make_user):
    viewer = make_user("viewer")
    with (
        pytest.raises(CapabilityDenied, match="needs the admin role; you are viewer"),
        mutation(
            user=viewer, cluster=RW, action="topic.delete", target="t", capability=Capability.ADMIN
        ),
    ):
        pytest.fail("the body must not run")
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.outcome) == (
        viewer.username,
        "topic.delete",
        "denied",
    )


def test_read_only_cluster_refuses_even_admins(make_user):
    admin = make_user("admin")
    with (
        pytest.raises(ReadOnlyCluster, match="read-only"),
        mutation(
            user=admin, cluster=RO, action="topic.create", target="t", capability=Capability.OPERATE
        ),
    ):
        pytest.fail("the body must not run")
    assert AuditEntry.objects.get().outcome == "denied"


def test_successful_mutation_records_params_before_and_after(make_user):
    operator = make_user("operator")
    with mutation(
        user=operator,
        cluster=RW,
        action="group.reset",
        target="g",
        capability=Capability.OPERATE,
        params={"to": "earliest"},
    ) as m:
        m.before = {"t:0": 10}
        m.after = {"t:0": 0}
    entry = AuditEntry.objects.get()
    assert entry.outcome == "ok"
    assert entry.params == {"to": "earliest"}
    assert (entry.before, entry.after) == ({"t:0": 10}, {"t:0": 0})


def test_failed_mutation_is_audited_with_the_error(make_user):
    operator = make_user("operator")
    with (
        pytest.raises(RuntimeError),
        mutation(
            user=operator, cluster=RW, action="produce", target="t", capability=Capability.OPERATE
        ),
    ):
        raise RuntimeError("broker said no")
    entry = AuditEntry.objects.get()
    assert (entry.outcome, entry.detail) == ("error", "broker said no")
