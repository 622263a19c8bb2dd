"""LDAP log-in against a real OpenLDAP (Debian's slapd, started by tools/ldap)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import ldap
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from console.access import role_of
from console.identity.ldap_settings import BACKEND, ldap_settings
from console.identity.roles import NO_ROLE_MESSAGE
from console.models import AuditEntry, LoginFailure
from tests.conftest import PASSWORD
from tools.kafka.local import free_port
from tools.ldap.local import (
    PASSWORDS,
    ROOT_DN,
    ROOT_PASSWORD,
    LocalLdap,
    group_dn,
    user_dn,
)

ROLE_MAP = {"kafka-admins": "admin", "kafka-operators": "operator", "kafka-viewers": "viewer"}
MODEL = "django.contrib.auth.backends.ModelBackend"
TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def slapd() -> Iterator[LocalLdap]:
    """One real slapd for the module; fails (never skips) where slapd is not installed."""
    t0 = time.monotonic()
    server = LocalLdap().start()
    print(f"slapd started in {time.monotonic() - t0:.2f}s on {server.uri}")
    yield server
    server.destroy()


def ldap_on_env(server: LocalLdap) -> dict[str, str]:
    return {**server.settings(), "CONSOLE_LDAP_TIMEOUT": str(TIMEOUT_S)}


@pytest.fixture
def ldap_on(settings, slapd, db):
    """Settings as CONSOLE_LDAP_* pointing at `slapd` make them, local accounts on."""
    for name, value in ldap_settings(ldap_on_env(slapd)).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [MODEL, BACKEND]
    settings.CONSOLE_ROLE_MAP = ROLE_MAP
    settings.CONSOLE_DEFAULT_ROLE = ""
    return settings


def log_in(client, username: str, password: str | None = None):
    return client.post(
        reverse("login"),
        {"username": username, "password": PASSWORDS[username] if password is None else password},
    )


def move(server: LocalLdap, uid: str, from_group: str | None, to_group: str | None) -> None:
    """Change a user's group membership in the directory (as its administrator)."""
    conn = ldap.initialize(server.uri, bytes_mode=False)
    conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
    try:
        if from_group:
            # groupOfNames needs a member: the directory's admin holds the group if vic leaves
            # it empty (the admin is no console user).
            with contextlib.suppress(ldap.TYPE_OR_VALUE_EXISTS):
                conn.modify_s(group_dn(from_group), [(ldap.MOD_ADD, "member", [ROOT_DN.encode()])])
            conn.modify_s(
                group_dn(from_group), [(ldap.MOD_DELETE, "member", [user_dn(uid).encode()])]
            )
        if to_group:
            conn.modify_s(group_dn(to_group), [(ldap.MOD_ADD, "member", [user_dn(uid).encode()])])
    finally:
        conn.unbind_s()


def entries(action: str, target: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, target=target).order_by("id"))


# --- configuration (no server needed) ----------------------------------------------------


def test_settings_off_without_a_server_uri() -> None:
    assert ldap_settings({}) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONSOLE_LDAP_SERVER_URI": "127.0.0.1:389"}, "expected ldap://host"),
        ({"CONSOLE_LDAP_USER_SEARCH_BASE": ""}, "CONSOLE_LDAP_USER_SEARCH_BASE must be set"),
        ({"CONSOLE_LDAP_USER_SEARCH_BASE": "people"}, "is not a distinguished name"),
        ({"CONSOLE_LDAP_GROUP_SEARCH_BASE": ""}, "CONSOLE_LDAP_GROUP_SEARCH_BASE must be set"),
        ({"CONSOLE_LDAP_USER_SEARCH_FILTER": "(uid=*)"}, "must contain %\\(user\\)s"),
        ({"CONSOLE_LDAP_USER_SEARCH_FILTER": "uid=%(user)s"}, "must be parenthesised"),
        ({"CONSOLE_LDAP_USER_SEARCH_FILTER": "(uid=%(name)s%(user)s)"}, "only %\\(user\\)s"),
        ({"CONSOLE_LDAP_BIND_DN": ""}, "CONSOLE_LDAP_BIND_PASSWORD is set but"),
        ({"CONSOLE_LDAP_TIMEOUT": "soon"}, "CONSOLE_LDAP_TIMEOUT='soon'"),
        ({"CONSOLE_LDAP_TIMEOUT": "0"}, "between 0 and 120"),
        ({"CONSOLE_LDAP_START_TLS": "maybe"}, "expected true or false"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    base = {
        "CONSOLE_LDAP_SERVER_URI": "ldap://127.0.0.1:389",
        "CONSOLE_LDAP_BIND_DN": "cn=console,dc=example,dc=org",
        "CONSOLE_LDAP_BIND_PASSWORD": "secret-value",
        "CONSOLE_LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=org",
        "CONSOLE_LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=example,dc=org",
    }
    with pytest.raises(ImproperlyConfigured, match=message) as exc:
        ldap_settings({k: v for k, v in {**base, **env}.items() if v})
    assert "secret-value" not in str(exc.value)


def test_settings_bound_every_network_step() -> None:
    got = ldap_settings(
        {
            "CONSOLE_LDAP_SERVER_URI": "ldaps://ldap.example.org",
            "CONSOLE_LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=org",
            "CONSOLE_LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=example,dc=org",
            "CONSOLE_LDAP_START_TLS": "yes",
        }
    )
    options = got["AUTH_LDAP_CONNECTION_OPTIONS"]
    assert options[ldap.OPT_NETWORK_TIMEOUT] == options[ldap.OPT_TIMEOUT] == 5.0
    assert got["AUTH_LDAP_START_TLS"] is True
    assert got["AUTH_LDAP_USER_SEARCH"].filterstr == "(uid=%(user)s)"
    assert got["AUTH_LDAP_CACHE_TIMEOUT"] == 0 and got["AUTH_LDAP_MIRROR_GROUPS"] is False


# --- log-in against slapd ------------------------------------------------------------------


@pytest.mark.ldap
@pytest.mark.parametrize(
    ("uid", "role"), [("ada", "admin"), ("olga", "operator"), ("vic", "viewer")]
)
def test_directory_user_logs_in_with_the_role_of_their_group(ldap_on, client, uid, role):
    response = log_in(client, uid)
    assert response.status_code == 302 and response.url == reverse("console:clusters")
    user = get_user_model().objects.get(username=uid)
    assert role_of(user) == role
    assert user.email == f"{uid}@example.org" and user.first_name
    assert not user.has_usable_password()  # no local password: only the directory's counts
    assert client.get(reverse("console:clusters")).status_code == 200
    audit = client.get(reverse("console:audit"))
    assert audit.status_code == (200 if role == "admin" else 403)
    [login] = entries("login", uid)
    assert login.params["source"] == "ldap" and login.outcome == AuditEntry.Outcome.OK
    [decision] = entries("login.role", uid)
    assert decision.params["role"] == role
    assert decision.params["matched"] == [next(g for g, r in ROLE_MAP.items() if r == role)]


@pytest.mark.ldap
@pytest.mark.kafka
def test_each_directory_role_may_do_what_its_role_allows(ldap_on, client, topic, produce):
    from django.test import Client

    produce(topic, [{"value": b"ldap-secret-value", "key": b"k"}])
    clients = {}
    for uid in ("ada", "olga", "vic"):
        clients[uid] = Client()
        assert log_in(clients[uid], uid).status_code == 302
    messages = reverse("topics:messages", args=["local", topic])
    produce_page = reverse("topics:produce", args=["local", topic])
    viewer = clients["vic"].get(messages).content.decode()
    assert "ldap-secret-value" not in viewer and "needs the operator role" in viewer
    assert clients["vic"].get(produce_page).status_code == 403
    assert "ldap-secret-value" in clients["olga"].get(messages).content.decode()
    assert clients["olga"].get(produce_page).status_code == 200
    assert clients["olga"].get(reverse("console:audit")).status_code == 403
    assert clients["ada"].get(produce_page).status_code == 200
    assert clients["ada"].get(reverse("console:audit")).status_code == 200


@pytest.mark.ldap
def test_user_in_no_mapped_group_is_refused_with_the_reason(ldap_on, client):
    response = log_in(client, "nog")
    assert response.status_code == 400
    assert NO_ROLE_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("console:clusters")).status_code == 302  # to the log-in page
    [decision] = entries("login.role", "nog")
    assert decision.outcome == AuditEntry.Outcome.DENIED and decision.params["role"] == "none"
    [failed] = entries("login.failed", "nog")
    assert failed.outcome == AuditEntry.Outcome.DENIED
    assert not entries("login", "nog")
    assert role_of(get_user_model().objects.get(username="nog")) == ""


@pytest.mark.ldap
def test_wrong_password_is_400_audited_and_throttled(ldap_on, client):
    ldap_on.CONSOLE_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        response = log_in(client, "olga", "not-her-password")
        assert response.status_code == 400
        assert "enter a correct username and password" in response.content.decode()
    assert LoginFailure.objects.filter(username="olga").count() == 3
    assert len(entries("login.failed", "olga")) == 3
    assert not entries("login.role", "olga")  # no decision without a valid password
    # Locked out now, even with the right password.
    response = log_in(client, "olga")
    assert response.status_code == 429 and "Too many failed log-ins" in response.content.decode()


@pytest.mark.ldap
def test_group_change_in_the_directory_counts_at_the_next_log_in(ldap_on, slapd):
    from django.test import Client

    assert log_in(Client(), "vic").status_code == 302
    user = get_user_model().objects.get(username="vic")
    assert role_of(user) == "viewer"
    move(slapd, "vic", "kafka-viewers", "kafka-operators")
    try:
        assert log_in(Client(), "vic").status_code == 302
        assert role_of(get_user_model().objects.get(username="vic")) == "operator"
        move(slapd, "vic", "kafka-operators", None)  # in no group now
        response = log_in(Client(), "vic")
        assert response.status_code == 400 and NO_ROLE_MESSAGE in response.content.decode()
        assert role_of(get_user_model().objects.get(username="vic")) == ""
    finally:
        with contextlib.suppress(ldap.NO_SUCH_ATTRIBUTE):
            move(slapd, "vic", "kafka-operators", None)
        move(slapd, "vic", None, "kafka-viewers")
    roles = [e.params["role"] for e in entries("login.role", "vic")]
    assert roles == ["viewer", "operator", "none"]


@pytest.mark.ldap
def test_without_local_accounts_only_the_directory_lets_in(ldap_on, client, make_user):
    local = make_user("admin")
    assert (
        client.post(
            reverse("login"), {"username": local.username, "password": PASSWORD}
        ).status_code
        == 302
    )
    ldap_on.AUTHENTICATION_BACKENDS = [BACKEND]  # what CONSOLE_LOCAL_ACCOUNTS=0 leaves
    from django.test import Client

    other = Client()
    response = other.post(reverse("login"), {"username": local.username, "password": PASSWORD})
    assert response.status_code == 400
    # The directory user still logs in, and holds the permissions of their role although
    # ModelBackend (which grants group permissions to local users) is off.
    assert log_in(other, "ada").status_code == 302
    assert other.get(reverse("console:audit")).status_code == 200
    # The earlier local session no longer counts: its backend is gone.
    assert client.get(reverse("console:clusters")).status_code == 302


@pytest.mark.ldap
def test_directory_name_of_a_local_account_does_not_take_it_over(ldap_on, client, make_user):
    make_user("viewer", username="ada")  # a local account with a password
    response = log_in(client, "ada")
    assert response.status_code == 400
    assert "belongs to a local account" in response.content.decode()
    assert role_of(get_user_model().objects.get(username="ada")) == "viewer"


@pytest.mark.ldap
def test_wrong_service_account_password_names_the_setting(ldap_on, client):
    ldap_on.AUTH_LDAP_BIND_PASSWORD = "not-the-service-password"
    response = log_in(client, "ada")
    assert response.status_code == 400
    assert "CONSOLE_LDAP_BIND_PASSWORD" in response.content.decode()


@pytest.mark.ldap
def test_hung_directory_refuses_within_the_timeout(ldap_on, slapd, client):
    slapd.pause()  # SIGSTOP: the kernel still accepts connections, nobody answers
    try:
        t0 = time.monotonic()
        response = log_in(client, "ada")
        took = time.monotonic() - t0
    finally:
        slapd.resume()
    assert response.status_code == 400
    assert f"did not answer within {TIMEOUT_S:g} s" in response.content.decode()
    assert took < TIMEOUT_S * 2 + 1, took
    [failed] = entries("login.failed", "ada")
    assert failed.outcome == AuditEntry.Outcome.DENIED
    # Back up: the same user logs in.
    assert log_in(client, "ada").status_code == 302


@pytest.mark.ldap
def test_stopped_directory_refuses_at_once(ldap_on, client, slapd):
    ldap_on.AUTH_LDAP_SERVER_URI = f"ldap://127.0.0.1:{free_port()}"  # nothing listens
    t0 = time.monotonic()
    response = log_in(client, "olga")
    assert response.status_code == 400
    assert "cannot be reached" in response.content.decode()
    assert time.monotonic() - t0 < TIMEOUT_S + 1


@pytest.mark.ldap
@pytest.mark.parametrize("name", ["*", "ada)(uid=*", "a*"])
def test_filter_characters_in_a_user_name_match_nobody(ldap_on, client, name):
    response = client.post(reverse("login"), {"username": name, "password": PASSWORDS["ada"]})
    assert response.status_code == 400
    assert "enter a correct username and password" in response.content.decode()
    assert not get_user_model().objects.filter(username__in=["ada", name]).exists()


@pytest.fixture(scope="module")
def slapd_tls() -> Iterator[LocalLdap]:
    server = LocalLdap(tls=True).start()
    yield server
    server.destroy()


@pytest.mark.ldap
def test_start_tls_with_the_directory_ca_logs_in(settings, slapd_tls, db, client):
    env = {
        **slapd_tls.settings(),
        "CONSOLE_LDAP_START_TLS": "true",
        "CONSOLE_LDAP_CA_FILE": str(slapd_tls.ca_file),
        "CONSOLE_LDAP_TIMEOUT": str(TIMEOUT_S),
    }
    for name, value in ldap_settings(env).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [BACKEND]
    settings.CONSOLE_ROLE_MAP = ROLE_MAP
    assert log_in(client, "olga").status_code == 302
    assert role_of(get_user_model().objects.get(username="olga")) == "operator"


@pytest.mark.ldap
def test_start_tls_without_trusting_the_certificate_says_so(settings, slapd_tls, db, client):
    env = {**slapd_tls.settings(), "CONSOLE_LDAP_START_TLS": "true"}
    for name, value in ldap_settings(env).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [BACKEND]
    settings.CONSOLE_ROLE_MAP = ROLE_MAP
    response = log_in(client, "olga")
    assert response.status_code == 400
    assert "CONSOLE_LDAP_CA_FILE" in response.content.decode()


@pytest.mark.ldap
def test_start_tls_against_a_directory_without_tls_says_so(ldap_on, client):
    ldap_on.AUTH_LDAP_START_TLS = True
    response = log_in(client, "olga")
    assert response.status_code == 400
    assert "does not offer StartTLS" in response.content.decode()


@pytest.mark.ldap
def test_nested_groups_count_when_switched_on(ldap_on, slapd):
    from django.test import Client

    team = "cn=platform-team,ou=groups,dc=example,dc=org"
    conn = ldap.initialize(slapd.uri, bytes_mode=False)
    conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
    conn.add_s(
        team,
        [
            ("objectClass", [b"groupOfNames"]),
            ("cn", [b"platform-team"]),
            ("member", [user_dn("nog").encode()]),
        ],
    )
    conn.modify_s(group_dn("kafka-operators"), [(ldap.MOD_ADD, "member", [team.encode()])])
    try:
        # Off (the default): nog's only group, platform-team, maps to nothing.
        assert log_in(Client(), "nog").status_code == 400
        env = {**ldap_on_env(slapd), "CONSOLE_LDAP_NESTED_GROUPS": "true"}
        ldap_on.AUTH_LDAP_GROUP_TYPE = ldap_settings(env)["AUTH_LDAP_GROUP_TYPE"]
        assert log_in(Client(), "nog").status_code == 302
        assert role_of(get_user_model().objects.get(username="nog")) == "operator"
        [_, decision] = entries("login.role", "nog")
        assert decision.params["matched"] == ["kafka-operators"]
    finally:
        conn.modify_s(group_dn("kafka-operators"), [(ldap.MOD_DELETE, "member", [team.encode()])])
        conn.delete_s(team)
        conn.unbind_s()


@pytest.mark.ldap
def test_overlong_directory_names_are_cut_to_fit(ldap_on, slapd, client):
    conn = ldap.initialize(slapd.uri, bytes_mode=False)
    conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
    long_name = "Olga" * 60  # 240 characters; first_name holds 150
    conn.modify_s(user_dn("olga"), [(ldap.MOD_REPLACE, "givenName", [long_name.encode()])])
    try:
        assert log_in(client, "olga").status_code == 302
        assert get_user_model().objects.get(username="olga").first_name == long_name[:150]
    finally:
        conn.modify_s(user_dn("olga"), [(ldap.MOD_REPLACE, "givenName", [b"Olga"])])
        conn.unbind_s()
