"""CONSOLE_OIDC_* parsed while settings load (no Django apps, no network).

`oidc_settings(os.environ)` returns the settings to add (empty when OIDC is off) or raises
ImproperlyConfigured naming the variable at fault. Endpoints come from the issuer's
discovery document (fetched at the first log-in, console/identity/oidc.py) unless given
one by one; explicit ones win over discovered ones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKEND = "console.identity.oidc.ConsoleOIDCBackend"
# Explicit endpoints: variable -> the discovery document's key.
ENDPOINT_VARS = {
    "CONSOLE_OIDC_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "CONSOLE_OIDC_TOKEN_ENDPOINT": "token_endpoint",
    "CONSOLE_OIDC_USERINFO_ENDPOINT": "userinfo_endpoint",
    "CONSOLE_OIDC_JWKS_ENDPOINT": "jwks_uri",
    "CONSOLE_OIDC_END_SESSION_ENDPOINT": "end_session_endpoint",
}
# Without an issuer to discover them from, these must all be given.
REQUIRED_WITHOUT_ISSUER = (
    "CONSOLE_OIDC_AUTHORIZATION_ENDPOINT",
    "CONSOLE_OIDC_TOKEN_ENDPOINT",
    "CONSOLE_OIDC_USERINFO_ENDPOINT",
    "CONSOLE_OIDC_JWKS_ENDPOINT",
)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(name: str, value: str) -> str:
    """An https URL with a host (http only for a loopback host), or ImproperlyConfigured."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected an https:// URL, e.g. https://sso.example.com/realms/main"
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ImproperlyConfigured(
            f"{name}={value!r}: the identity provider must be reached over https "
            "(plain http only on a loopback address, for local tests)"
        )
    return value.rstrip("/") if name == "CONSOLE_OIDC_ISSUER" else value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a number of seconds") from None
    if not 0 < value <= 60:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected seconds between 0 and 60")
    return value


def oidc_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings OIDC adds, from the environment; {} when neither an issuer nor an
    endpoint is set."""
    issuer = env.get("CONSOLE_OIDC_ISSUER", "").strip()
    explicit = {var: env.get(var, "").strip() for var in ENDPOINT_VARS}
    if not issuer and not any(explicit.values()):
        return {"CONSOLE_OIDC_ENABLED": False}
    if issuer:
        issuer = check_url("CONSOLE_OIDC_ISSUER", issuer)
    else:
        missing = [v for v in REQUIRED_WITHOUT_ISSUER if not explicit[v]]
        if missing:
            raise ImproperlyConfigured(
                "OIDC: set CONSOLE_OIDC_ISSUER (endpoints are then discovered from its "
                "/.well-known/openid-configuration), or every endpoint: missing "
                + ", ".join(missing)
            )
    endpoints = {ENDPOINT_VARS[v]: check_url(v, url) for v, url in explicit.items() if url}
    client_id = env.get("CONSOLE_OIDC_CLIENT_ID", "").strip()
    secret = env.get("CONSOLE_OIDC_CLIENT_SECRET", "")
    if not client_id:
        raise ImproperlyConfigured(
            "OIDC: CONSOLE_OIDC_CLIENT_ID is not set: give the client id the identity "
            "provider registered for the console"
        )
    if not secret:
        raise ImproperlyConfigured(
            "OIDC: CONSOLE_OIDC_CLIENT_SECRET is not set: the console is a confidential "
            "client; give the secret the identity provider issued for it"
        )
    claim = env.get("CONSOLE_OIDC_ROLES_CLAIM", "groups").strip()
    if not claim or any(not part for part in claim.split(".")):
        raise ImproperlyConfigured(
            f"CONSOLE_OIDC_ROLES_CLAIM={claim!r}: expected a claim name such as groups, or a "
            "dotted path such as realm_access.roles"
        )
    username_claim = env.get("CONSOLE_OIDC_USERNAME_CLAIM", "preferred_username").strip()
    algo = env.get("CONSOLE_OIDC_SIGN_ALGO", "RS256").strip()
    if not algo.startswith(("RS", "ES", "PS")):
        raise ImproperlyConfigured(
            f"CONSOLE_OIDC_SIGN_ALGO={algo!r}: expected the provider's ID token signing "
            "algorithm, e.g. RS256 or ES256"
        )
    timeout = _float(env, "CONSOLE_OIDC_TIMEOUT", 5.0)
    return {
        "CONSOLE_OIDC_ENABLED": True,
        "CONSOLE_OIDC_ISSUER": issuer,
        "CONSOLE_OIDC_ENDPOINTS": endpoints,
        "CONSOLE_OIDC_ROLES_CLAIM": claim,
        "CONSOLE_OIDC_USERNAME_CLAIM": username_claim or "preferred_username",
        "CONSOLE_OIDC_PROVIDER_NAME": env.get("CONSOLE_OIDC_PROVIDER_NAME", "").strip()
        or "single sign-on",
        # mozilla-django-oidc's own settings.
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": secret,
        "OIDC_RP_SIGN_ALGO": algo,
        "OIDC_RP_SCOPES": env.get("CONSOLE_OIDC_SCOPES", "openid email profile").strip(),
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_TIMEOUT": timeout,
        "OIDC_STORE_ID_TOKEN": True,  # the id_token_hint of the provider log-out
        "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc_callback",
        "OIDC_CREATE_USER": True,
    }
