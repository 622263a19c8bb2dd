"""Role decisions from provider groups, and the log-in audit trail (no provider needed)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from console.access import Capability, can, role_of
from console.identity import apply_external_role, decide_role, normalise_group
from console.identity.config import check_default_role, parse_role_map
from console.models import AuditEntry

MAP = {"kafka-admins": "admin", "kafka-operators": "operator", "kafka-viewers": "viewer"}


def test_role_map_parses_and_rejects_bad_entries() -> None:
    assert parse_role_map(" kafka-admins=admin, ops = operator ,") == {
        "kafka-admins": "admin",
        "ops": "operator",
    }
    assert parse_role_map("") == {}
    with pytest.raises(ImproperlyConfigured, match="not group=role"):
        parse_role_map("kafka-admins")
    with pytest.raises(ImproperlyConfigured, match="unknown role 'root'"):
        parse_role_map("kafka-admins=root")
    with pytest.raises(ImproperlyConfigured, match="CONSOLE_DEFAULT_ROLE"):
        check_default_role("superuser")
    assert check_default_role("") == ""


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("/kafka-admins", "kafka-admins"),
        ("/org/kafka-admins", "kafka-admins"),
        ("cn=kafka-admins,ou=groups,dc=example,dc=org", "kafka-admins"),
        ("CN=Kafka Ops,OU=Groups,DC=corp", "Kafka Ops"),
        ("kafka-viewers", "kafka-viewers"),
    ],
)
def test_provider_spellings_of_a_group(raw: str, name: str) -> None:
    assert normalise_group(raw) == name


@override_settings(CONSOLE_ROLE_MAP=MAP, CONSOLE_DEFAULT_ROLE="")
def test_highest_mapped_role_wins_and_no_group_means_no_role() -> None:
    assert decide_role(["/kafka-viewers", "/kafka-admins", "other"]) == (
        "admin",
        ["kafka-admins", "kafka-viewers"],
    )
    assert decide_role(["kafka-operators"]) == ("operator", ["kafka-operators"])
    assert decide_role(["unrelated"]) == ("", [])
    assert decide_role([]) == ("", [])
    with override_settings(CONSOLE_DEFAULT_ROLE="viewer"):
        assert decide_role(["unrelated"]) == ("viewer", [])


@pytest.mark.django_db
@override_settings(CONSOLE_ROLE_MAP=MAP, CONSOLE_DEFAULT_ROLE="")
def test_apply_sets_exactly_the_decided_role_and_audits_it(django_user_model) -> None:
    user = django_user_model.objects.create_user("ext-user")
    assert apply_external_role(user, ["/kafka-operators"], "oidc") == "operator"
    assert role_of(django_user_model.objects.get(pk=user.pk)) == "operator"
    # A demotion at the provider takes effect: exactly viewer now, not viewer + operator.
    assert apply_external_role(user, ["kafka-viewers"], "oidc") == "viewer"
    fresh = django_user_model.objects.get(pk=user.pk)
    assert role_of(fresh) == "viewer"
    assert not can(fresh, Capability.READ_MESSAGES)
    # No group left: no role at all, and the decision is a denial in the log.
    assert apply_external_role(user, ["unrelated"], "ldap") == ""
    fresh = django_user_model.objects.get(pk=user.pk)
    assert role_of(fresh) == "" and not can(fresh, Capability.VIEW)
    entries = list(AuditEntry.objects.filter(action="login.role").order_by("id"))
    assert [(e.params["role"], e.params["source"], e.outcome) for e in entries] == [
        ("operator", "oidc", "ok"),
        ("viewer", "oidc", "ok"),
        ("none", "ldap", "denied"),
    ]
    assert entries[0].params["matched"] == ["kafka-operators"]
    assert "refused" in entries[-1].detail


@pytest.mark.django_db
def test_local_login_logout_and_failure_are_audited(client, make_user) -> None:
    from tests.conftest import PASSWORD

    user = make_user("viewer")
    bad = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert bad.status_code == 400
    ok = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert ok.status_code == 302
    client.post("/accounts/logout/")
    entries = list(AuditEntry.objects.filter(cluster="").order_by("id"))
    assert [(e.action, e.target, e.outcome) for e in entries] == [
        ("login.failed", user.username, "denied"),
        ("login", user.username, "ok"),
        ("logout", user.username, "ok"),
    ]
    assert entries[1].params["source"] == "local"
    assert entries[1].params["address"] == "127.0.0.1"
    # The password never reaches the log.
    assert all("wrong" not in str(e.params) + e.detail for e in entries)


@pytest.mark.django_db
def test_with_local_accounts_off_roles_still_grant_and_passwords_never_log_in(make_user) -> None:
    from django.contrib.auth import authenticate

    from tests.conftest import PASSWORD

    user = make_user("operator")
    backends = ["console.identity.backends.RolePermissionsBackend"]
    with override_settings(AUTHENTICATION_BACKENDS=backends):
        assert authenticate(username=user.username, password=PASSWORD) is None
        fresh = type(user).objects.get(pk=user.pk)
        assert can(fresh, Capability.OPERATE) and not can(fresh, Capability.ADMIN)
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.target == user.username


def test_no_way_to_log_in_stops_the_start() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CONSOLE_LOCAL_ACCOUNTS": "0", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    for name in [k for k in env if k.startswith(("CONSOLE_LDAP_", "CONSOLE_OIDC_"))]:
        del env[name]
    r = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "nobody could log in" in r.stderr
