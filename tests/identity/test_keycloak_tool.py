"""tools/keycloak: the real Keycloak the OIDC tests log in at, and its test realm."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from tools.keycloak.local import CLIENT_ID, LocalKeycloak, choose_java

pytestmark = pytest.mark.slow


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_discovery_offers_pkce_and_provider_logout(keycloak: LocalKeycloak):
    document = keycloak.discovery()
    assert document["issuer"] == keycloak.issuer
    assert "S256" in document["code_challenge_methods_supported"]
    assert document["end_session_endpoint"].startswith(keycloak.issuer)


def test_client_refuses_an_authorization_request_without_pkce(keycloak: LocalKeycloak):
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "http://127.0.0.1:9/accounts/oidc/callback/",
        "scope": "openid",
        "state": "s",
    }
    url = keycloak.discovery()["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(url, timeout=10)
    # Back to the client with an error, not on to the log-in form.
    location = answer.value.headers["Location"]
    assert location.startswith(params["redirect_uri"])
    assert "error=invalid_request" in location
    assert "code_challenge" in urllib.parse.unquote_plus(location)


def test_realm_users_and_groups(keycloak: LocalKeycloak):
    groups = {g["name"] for g in keycloak.admin("GET", "/groups")}
    assert groups == {"kafka-admins", "kafka-operators", "kafka-viewers"}
    member_of = {
        user: [g["name"] for g in keycloak.admin("GET", f"/users/{keycloak.user_id(user)}/groups")]
        for user in ("ada", "olga", "vic", "nog")
    }
    assert member_of == {
        "ada": ["kafka-admins"],
        "olga": ["kafka-operators"],
        "vic": ["kafka-viewers"],
        "nog": [],
    }


def test_runs_on_java_21_or_newer():
    assert choose_java().major >= 21
