"""OIDC without a provider: claims to groups, the settings' checks, the log-in page's
choices, and the pages for a provider that does not answer or a stale callback.

The full log-in against a real Keycloak is tests/identity/test_oidc_browser.py.
"""

from __future__ import annotations

import socket
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from console.identity import oidc
from console.identity.oidc import claim_values, username_from
from console.identity.oidc_config import BACKEND, oidc_settings
from console.models import AuditEntry

MODEL = "django.contrib.auth.backends.ModelBackend"
ROLE_PERMISSIONS = "console.identity.backends.RolePermissionsBackend"
BASE = {
    "CONSOLE_OIDC_ISSUER": "https://sso.example.com/realms/main/",
    "CONSOLE_OIDC_CLIENT_ID": "kafka-console",
    "CONSOLE_OIDC_CLIENT_SECRET": "s3cret",
}


# --- claims ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "path", "expected"),
    [
        (
            {"groups": ["/kafka-admins", "/org/kafka-viewers"]},
            "groups",
            ["/kafka-admins", "/org/kafka-viewers"],
        ),
        ({"groups": "kafka-admins"}, "groups", ["kafka-admins"]),  # one group as a string
        ({"groups": []}, "groups", []),
        ({}, "groups", []),  # no claim, no groups
        ({"groups": None}, "groups", []),
        ({"groups": ["ok", 3, None, {"x": 1}, " "]}, "groups", ["ok"]),  # non-strings dropped
        ({"groups": {"kafka-admins": True}}, "groups", []),  # an object is not a list
        (
            {"realm_access": {"roles": ["kafka-operators"]}},
            "realm_access.roles",
            ["kafka-operators"],
        ),
        ({"realm_access": ["kafka-operators"]}, "realm_access.roles", []),
        ({"realm_access": {}}, "realm_access.roles", []),
    ],
)
def test_claim_values(claims, path, expected):
    assert claim_values(claims, path) == expected


@pytest.mark.django_db
def test_keycloak_group_paths_map_to_roles(settings):
    from console.identity import decide_role

    settings.CONSOLE_ROLE_MAP = {"kafka-admins": "admin", "kafka-viewers": "viewer"}
    settings.CONSOLE_DEFAULT_ROLE = ""
    groups = claim_values({"groups": ["/kafka-viewers", "/kafka-admins"]}, "groups")
    assert decide_role(groups, "oidc") == ("admin", ["kafka-admins", "kafka-viewers"])
    assert decide_role(claim_values({}, "groups"), "oidc") == ("", [])


def test_username_from_claims(settings):
    settings.CONSOLE_OIDC_USERNAME_CLAIM = "preferred_username"
    assert username_from({"preferred_username": " ada ", "email": "a@x", "sub": "1"}) == "ada"
    assert username_from({"email": "a@x", "sub": "1"}) == "a@x"
    assert username_from({"sub": "f00"}) == "f00"
    assert username_from({"preferred_username": 7}) == ""
    assert len(username_from({"preferred_username": "x" * 500})) == 150


# --- settings -------------------------------------------------------------------------


def test_off_without_issuer_or_endpoints():
    assert oidc_settings({}) == {"CONSOLE_OIDC_ENABLED": False}


def test_issuer_settings():
    s = oidc_settings({**BASE, "CONSOLE_OIDC_PROVIDER_NAME": "Keycloak"})
    assert s["CONSOLE_OIDC_ENABLED"] is True
    assert s["CONSOLE_OIDC_ISSUER"] == "https://sso.example.com/realms/main"  # no trailing /
    assert s["OIDC_USE_PKCE"] is True and s["OIDC_PKCE_CODE_CHALLENGE_METHOD"] == "S256"
    assert s["OIDC_STORE_ID_TOKEN"] is True
    assert s["CONSOLE_OIDC_ROLES_CLAIM"] == "groups"
    assert s["CONSOLE_OIDC_PROVIDER_NAME"] == "Keycloak"
    assert s["OIDC_TIMEOUT"] == 5.0


def test_explicit_endpoints_without_issuer():
    env = {
        "CONSOLE_OIDC_CLIENT_ID": "c",
        "CONSOLE_OIDC_CLIENT_SECRET": "s",
        "CONSOLE_OIDC_AUTHORIZATION_ENDPOINT": "https://idp/auth",
        "CONSOLE_OIDC_TOKEN_ENDPOINT": "https://idp/token",
        "CONSOLE_OIDC_USERINFO_ENDPOINT": "https://idp/userinfo",
        "CONSOLE_OIDC_JWKS_ENDPOINT": "https://idp/jwks",
    }
    s = oidc_settings(env)
    assert s["CONSOLE_OIDC_ISSUER"] == ""
    assert s["CONSOLE_OIDC_ENDPOINTS"]["jwks_uri"] == "https://idp/jwks"
    del env["CONSOLE_OIDC_JWKS_ENDPOINT"]
    with pytest.raises(ImproperlyConfigured, match="missing CONSOLE_OIDC_JWKS_ENDPOINT"):
        oidc_settings(env)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CONSOLE_OIDC_ISSUER": "sso.example.com"}, "CONSOLE_OIDC_ISSUER.*https://"),
        ({"CONSOLE_OIDC_ISSUER": "http://sso.example.com/realms/x"}, "over https"),
        ({"CONSOLE_OIDC_CLIENT_ID": ""}, "CONSOLE_OIDC_CLIENT_ID is not set"),
        ({"CONSOLE_OIDC_CLIENT_SECRET": ""}, "CONSOLE_OIDC_CLIENT_SECRET is not set"),
        ({"CONSOLE_OIDC_ROLES_CLAIM": "realm_access..roles"}, "CONSOLE_OIDC_ROLES_CLAIM"),
        ({"CONSOLE_OIDC_TIMEOUT": "soon"}, "CONSOLE_OIDC_TIMEOUT"),
        ({"CONSOLE_OIDC_TIMEOUT": "0"}, "between 0 and 60"),
        ({"CONSOLE_OIDC_SIGN_ALGO": "HS256"}, "CONSOLE_OIDC_SIGN_ALGO"),
        ({"CONSOLE_OIDC_TOKEN_ENDPOINT": "ftp://idp/token"}, "CONSOLE_OIDC_TOKEN_ENDPOINT"),
    ],
)
def test_bad_settings_say_what_to_fix(change, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        oidc_settings({**BASE, **change})


def test_secret_is_never_in_a_message():
    with pytest.raises(ImproperlyConfigured) as exc:
        oidc_settings(
            {**BASE, "CONSOLE_OIDC_ISSUER": "bad", "CONSOLE_OIDC_CLIENT_SECRET": "s3cret"}
        )
    assert "s3cret" not in str(exc.value)


def test_plain_http_is_allowed_on_loopback_only():
    s = oidc_settings({**BASE, "CONSOLE_OIDC_ISSUER": "http://127.0.0.1:8080/realms/console"})
    assert s["CONSOLE_OIDC_ISSUER"] == "http://127.0.0.1:8080/realms/console"
    oidc_settings({**BASE, "CONSOLE_OIDC_ISSUER": "http://localhost:8080/realms/console"})


# --- pages ----------------------------------------------------------------------------


def _enable(settings, issuer: str, backends: list[str], timeout: float = 5.0) -> None:
    for name, value in oidc_settings(
        {
            **BASE,
            "CONSOLE_OIDC_ISSUER": issuer,
            "CONSOLE_OIDC_PROVIDER_NAME": "Acme SSO",
            "CONSOLE_OIDC_TIMEOUT": str(timeout),
        }
    ).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = backends
    oidc._discovered.clear()


@pytest.mark.django_db
def test_login_page_without_oidc_has_only_the_password_form(client):
    page = client.get(reverse("login")).content.decode()
    assert 'id="sso-login"' not in page
    assert 'id="id_password"' in page


@pytest.mark.django_db
def test_login_page_offers_the_provider_beside_local_accounts(client, settings):
    _enable(settings, "https://sso.example.com/realms/main", [MODEL, BACKEND])
    page = client.get(reverse("login") + "?next=/audit/").content.decode()
    assert ">Log in with Acme SSO</a>" in page
    assert 'href="/accounts/oidc/login/?next=/audit/"' in page
    assert 'id="id_password"' in page


@pytest.mark.django_db
def test_password_form_hidden_when_oidc_is_the_only_way_in(client, settings):
    _enable(settings, "https://sso.example.com/realms/main", [BACKEND, ROLE_PERMISSIONS])
    settings.CONSOLE_LOCAL_ACCOUNTS = False
    page = client.get(reverse("login")).content.decode()
    assert ">Log in with Acme SSO</a>" in page
    assert 'id="id_password"' not in page


@pytest.mark.django_db
def test_password_form_stays_for_ldap_when_local_accounts_are_off(client, settings):
    from console.identity.ldap_settings import BACKEND as LDAP_BACKEND

    _enable(settings, "https://sso.example.com/realms/main", [LDAP_BACKEND, BACKEND])
    settings.CONSOLE_LOCAL_ACCOUNTS = False
    page = client.get(reverse("login")).content.decode()
    assert ">Log in with Acme SSO</a>" in page
    assert 'id="id_password"' in page


@pytest.mark.django_db
def test_oidc_pages_are_404_when_not_configured(client):
    assert client.get(reverse("oidc_login")).status_code == 404
    assert client.get(reverse("oidc_callback") + "?code=x&state=y").status_code == 404


@pytest.mark.django_db
def test_provider_that_does_not_answer_gives_a_page_within_the_timeout(client, settings):
    # A listener that accepts connections and never answers: the worst kind of down.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        _enable(settings, f"http://127.0.0.1:{port}/realms/x", [MODEL, BACKEND], timeout=1.0)
        began = time.monotonic()
        response = client.get(reverse("oidc_login"))
        took = time.monotonic() - began
    finally:
        silent.close()
    assert response.status_code == 503
    assert "did not answer within 1 s" in response.content.decode()
    assert took < 3


@pytest.mark.django_db
def test_provider_refusing_connections_gives_a_page(client, settings):
    from tools.kafka.local import free_port

    _enable(settings, f"http://127.0.0.1:{free_port()}/realms/x", [MODEL, BACKEND], timeout=1.0)
    response = client.get(reverse("oidc_login"))
    assert response.status_code == 503
    assert "The identity provider at http://127.0.0.1:" in response.content.decode()


@pytest.mark.django_db
def test_wrong_issuer_path_names_the_setting(client, settings, live_server):
    # The console's own server answers 404 for a discovery document it does not have.
    _enable(settings, f"{live_server.url}/realms/nowhere", [MODEL, BACKEND], timeout=2.0)
    response = client.get(reverse("oidc_login"))
    assert response.status_code == 503
    assert "answered HTTP 404" in response.content.decode()
    assert "CONSOLE_OIDC_ISSUER" in response.content.decode()


@pytest.mark.django_db
def test_stale_callback_asks_to_start_again(client, settings):
    _enable(settings, "https://sso.example.com/realms/main", [MODEL, BACKEND])
    response = client.get(reverse("oidc_callback") + "?code=abc&state=never-issued")
    assert response.status_code == 400
    assert "expired or was already used" in response.content.decode()


@pytest.mark.django_db
def test_provider_error_on_callback_is_shown_and_audited(client, settings):
    _enable(settings, "https://sso.example.com/realms/main", [MODEL, BACKEND])
    response = client.get(
        reverse("oidc_callback") + "?error=access_denied&error_description=User+cancelled&state=s"
    )
    assert response.status_code == 403
    assert "User cancelled" in response.content.decode()
    failed = AuditEntry.objects.get(action="login.failed")
    assert failed.params["source"] == "oidc"
    assert "User cancelled" in failed.detail


@pytest.mark.django_db
def test_local_logout_still_works_with_oidc_on(client, settings, make_user):
    _enable(settings, "https://sso.example.com/realms/main", [MODEL, BACKEND])
    client.force_login(make_user("viewer"))
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")  # no id token: no trip to the provider


# --- ID token checks ------------------------------------------------------------------


@pytest.fixture
def signed(settings):
    """A function signing ID tokens with a throwaway RSA key the backend trusts."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    for name, value in oidc_settings(BASE).items():
        setattr(settings, name, value)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    backend = oidc.ConsoleOIDCBackend()
    backend.OIDC_RP_IDP_SIGN_KEY = public

    def sign(**claims) -> tuple[oidc.ConsoleOIDCBackend, str]:
        now = int(time.time())
        base = {
            "iss": "https://sso.example.com/realms/main",
            "aud": "kafka-console",
            "sub": "1",
            "nonce": "n",
            "iat": now,
            "exp": now + 60,
        }
        return backend, jwt.encode({**base, **claims}, key, algorithm="RS256")

    return sign


def test_id_token_for_this_client_from_the_issuer_is_accepted(signed):
    backend, token = signed(aud=["other", "kafka-console"])
    assert backend.verify_token(token, nonce="n")["sub"] == "1"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"aud": "another-client"}, "another client"),
        ({"iss": "https://evil.example.com/realms/main"}, "another issuer"),
        ({"nonce": "replayed"}, "Nonce"),
    ],
)
def test_id_token_refused(signed, claims, error):
    from django.core.exceptions import SuspiciousOperation

    backend, token = signed(**claims)
    with pytest.raises(SuspiciousOperation, match=error):
        backend.verify_token(token, nonce="n")


def test_expired_id_token_refused(signed):
    import jwt

    backend, token = signed(exp=int(time.time()) - 600)
    with pytest.raises(jwt.ExpiredSignatureError):
        backend.verify_token(token, nonce="n")


@pytest.mark.django_db
def test_token_endpoint_that_does_not_answer_gives_a_page_within_the_timeout(client, settings):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    env = {
        "CONSOLE_OIDC_CLIENT_ID": "kafka-console",
        "CONSOLE_OIDC_CLIENT_SECRET": "s3cret",
        "CONSOLE_OIDC_TIMEOUT": "1",
        **{
            f"CONSOLE_OIDC_{name}_ENDPOINT": f"{url}/{name.lower()}"
            for name in ("AUTHORIZATION", "TOKEN", "USERINFO", "JWKS")
        },
    }
    for name, value in oidc_settings(env).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [MODEL, BACKEND]
    # The state the log-in view would have left in the session.
    session = client.session
    session["oidc_states"] = {"st": {"nonce": "n", "code_verifier": "v" * 64, "added_on": 0}}
    session.save()
    try:
        began = time.monotonic()
        response = client.get(reverse("oidc_callback") + "?code=c&state=st")
        took = time.monotonic() - began
    finally:
        silent.close()
    assert response.status_code == 503
    assert "did not answer within 1 s" in response.content.decode()
    assert took < 3
