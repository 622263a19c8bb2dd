"""Single sign-on with OpenID Connect (mozilla-django-oidc): authorization code flow with
PKCE (S256), roles from a claim, log-out that ends the provider's session too.

- `oidc_login` sends the browser to the provider's authorization endpoint (state, nonce
  and the PKCE verifier kept in the session).
- `oidc_callback` exchanges the code (with the verifier) for tokens, checks the ID token
  (signature, issuer, audience, nonce), reads the user's claims (ID token and userinfo)
  and maps the roles claim (`CONSOLE_OIDC_ROLES_CLAIM`, default `groups`) to a role with
  console.identity's role map, again at every log-in. No role: the log-in is refused with
  a page that says so, and audited as a failed log-in.
- `ProviderLogoutView` (the console's log-out) ends the Django session and, for a user who
  came through OIDC, the provider's too (RP-initiated log-out with id_token_hint and
  post_logout_redirect_uri).

Endpoints come from the issuer's discovery document, fetched within `CONSOLE_OIDC_TIMEOUT`
seconds at the first log-in and kept; a provider that does not answer gives a page that
says so, never a 500.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from console.identity import NO_ROLE_MESSAGE, apply_external_role
from console.identity.oidc_config import BACKEND

log = logging.getLogger(__name__)
SOURCE = "oidc"


class ProviderUnavailable(Exception):
    """The identity provider did not answer (or answered nonsense) within the timeout."""


class LoginRefused(Exception):
    """The provider vouched for the user, but the console refuses the log-in."""

    def __init__(self, message: str, username: str = "") -> None:
        super().__init__(message)
        self.username = username


# --- configuration ----------------------------------------------------------------


def enabled() -> bool:
    return bool(getattr(settings, "CONSOLE_OIDC_ENABLED", False))


def provider_name() -> str:
    return getattr(settings, "CONSOLE_OIDC_PROVIDER_NAME", "") or "single sign-on"


_discovered: dict[str, dict[str, Any]] = {}
_discovery_lock = threading.Lock()


def discover(issuer: str, timeout: float) -> dict[str, Any]:
    """The issuer's /.well-known/openid-configuration (kept once fetched)."""
    with _discovery_lock:
        if issuer in _discovered:
            return _discovered[issuer]
    url = issuer + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            document = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise ProviderUnavailable(
            f"The identity provider answered HTTP {exc.code} for {url}: check CONSOLE_OIDC_ISSUER."
        ) from None
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise ProviderUnavailable(
            f"The identity provider at {issuer} did not answer within {timeout:g} s "
            f"({getattr(exc, 'reason', exc)})."
        ) from None
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(
            f"{url} is not the discovery document of issuer {issuer}: check CONSOLE_OIDC_ISSUER."
        )
    with _discovery_lock:
        _discovered[issuer] = document
    return document


def endpoints() -> dict[str, str]:
    """authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri and (when the
    provider has one) end_session_endpoint: explicit settings over discovered ones."""
    found: dict[str, str] = {}
    if settings.CONSOLE_OIDC_ISSUER:
        document = discover(settings.CONSOLE_OIDC_ISSUER, settings.OIDC_TIMEOUT)
        keys = (
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        )
        found = {k: document[k] for k in keys if isinstance(document.get(k), str)}
    found.update(settings.CONSOLE_OIDC_ENDPOINTS)
    missing = {"authorization_endpoint", "token_endpoint", "jwks_uri"} - found.keys()
    if missing:
        raise ProviderUnavailable(
            "The identity provider's discovery document lacks " + ", ".join(sorted(missing))
        )
    return found


# --- claims -------------------------------------------------------------------------


def claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """The strings at a claim path ("groups", or "realm_access.roles" inside an object): a
    list's strings, a lone string as one value; a missing claim or any other type, none."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def username_from(claims: Mapping[str, Any]) -> str:
    """The console user name: the username claim (preferred_username), else the email,
    else the subject."""
    for key in (settings.CONSOLE_OIDC_USERNAME_CLAIM, "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:150]
    return ""


# --- the backend --------------------------------------------------------------------


class ConsoleOIDCBackend(OIDCAuthenticationBackend):
    """Users by the username claim; their role from the roles claim at every log-in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds a backend for every session lookup: read settings, never the network.
        self.UserModel = auth.get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.OIDC_OP_TOKEN_ENDPOINT = self.OIDC_OP_USER_ENDPOINT = ""
        self.OIDC_OP_JWKS_ENDPOINT = ""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any):
        """Only the callback (a code and a state) authenticates; ProviderUnavailable and
        LoginRefused reach the callback view."""
        if request is None or "code" not in request.GET or "state" not in request.GET:
            return None
        found = endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = found["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = found.get("userinfo_endpoint", "")
        self.OIDC_OP_JWKS_ENDPOINT = found["jwks_uri"]
        try:
            return super().authenticate(request, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ProviderUnavailable(
                f"The identity provider did not answer within {settings.OIDC_TIMEOUT:g} s "
                f"({type(exc).__name__})."
            ) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            log.warning("OIDC: the provider refused a token or userinfo request: %s", exc)
            raise LoginRefused(
                f"The identity provider refused the log-in (HTTP {status}). Try again; if it "
                "keeps failing, the console's client settings may be wrong."
            ) from None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks the signature, expiry and nonce; also check who issued the
        ID token and for whom."""
        payload = super().verify_token(token, **kwargs)
        issuer = settings.CONSOLE_OIDC_ISSUER
        if issuer and payload.get("iss", "").rstrip("/") != issuer:
            raise SuspiciousOperation("ID token from another issuer")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]):
        """The ID token's claims, completed by the userinfo endpoint's (when there is one)."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            claims.update(super().get_userinfo(access_token, id_token, payload))
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(username_from(claims))

    def describe_user_by_claims(self, claims: dict[str, Any]) -> str:
        return f"user {username_from(claims)}"

    def filter_users_by_claims(self, claims: dict[str, Any]):
        username = username_from(claims)
        users = self.UserModel.objects.filter(username=username)
        local = [u for u in users if u.has_usable_password()]
        if local:
            # A local account of that name (a break-glass admin, say) is not the provider's
            # to take over.
            raise LoginRefused(
                f"A local account named {username!r} exists, so the console does not let "
                "single sign-on log in as it. Ask an administrator to rename one of them.",
                username,
            )
        return users

    def create_user(self, claims: dict[str, Any]):
        user = self.UserModel(username=username_from(claims))
        user.set_unusable_password()  # only the provider logs this user in
        self._copy_profile(user, claims)
        return self._with_role(user, claims)

    def update_user(self, user, claims: dict[str, Any]):
        self._copy_profile(user, claims)
        return self._with_role(user, claims)

    @staticmethod
    def _copy_profile(user, claims: Mapping[str, Any]) -> None:
        for field, claim in (("email", "email"), ("first_name", "given_name")):
            value = claims.get(claim)
            if isinstance(value, str):
                setattr(user, field, value[:150])
        if isinstance(claims.get("family_name"), str):
            user.last_name = claims["family_name"][:150]
        user.save()

    def _with_role(self, user, claims: Mapping[str, Any]):
        groups = claim_values(claims, settings.CONSOLE_OIDC_ROLES_CLAIM)
        role = apply_external_role(user, groups, SOURCE, getattr(self, "request", None))
        if not role:
            raise LoginRefused(NO_ROLE_MESSAGE, user.get_username())
        return user


# --- views --------------------------------------------------------------------------


def _error_page(request: HttpRequest, message: str, status: int) -> TemplateResponse:
    return TemplateResponse(
        request,
        "identity/oidc_error.html",
        {
            "message": message,
            "provider_name": provider_name(),
            "status": status,
            # Still signed in at the provider (a refused role): offer its log-out, or the
            # button would bring the same account straight back.
            "provider_session": bool(request.session.get("oidc_id_token")),
        },
        status=status,
    )


class OIDCLoginView(OIDCAuthenticationRequestView):
    """To the provider's authorization endpoint, with state, nonce and a PKCE challenge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The parent reads the endpoint from settings here; ours is discovered in get().
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoints()["authorization_endpoint"]
        except ProviderUnavailable as exc:
            return _error_page(request, str(exc), 503)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: the code for tokens, the claims for a user and a role."""

    @property
    def failure_url(self) -> str:
        return resolve_url(settings.LOGIN_URL)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("Single sign-on is not configured.")
        states = request.session.get("oidc_states") or {}
        state = request.GET.get("state", "")
        if request.GET.get("error"):
            states.pop(state, None)
            request.session.modified = True
            reason = request.GET.get("error_description") or request.GET["error"]
            self._failed(request, "", f"the provider answered: {reason}"[:300])
            return _error_page(request, f"The identity provider refused: {reason[:300]}", 403)
        if "code" not in request.GET or state not in states:
            # A reload of an old callback, or a log-in started in another browser.
            return _error_page(
                request,
                "This log-in link has expired or was already used. Start again.",
                400,
            )
        pending = states.pop(state)
        request.session.modified = True
        request.session.save()
        # Reload the session after the slow token request (as the library does), so
        # parallel tabs' changes are not overwritten.
        request.session = request.session.__class__(request.session.session_key)
        backend = ConsoleOIDCBackend()
        try:
            user = backend.authenticate(
                request, nonce=pending.get("nonce"), code_verifier=pending.get("code_verifier")
            )
        except ProviderUnavailable as exc:
            return _error_page(request, str(exc), 503)
        except LoginRefused as exc:
            self._failed(request, exc.username, str(exc))
            return _error_page(request, str(exc), 403)
        except (SuspiciousOperation, jwt.InvalidTokenError) as exc:
            # A bad signature, another issuer or audience, an expired token, a nonce mismatch.
            log.warning("OIDC: ID token refused: %s", exc)
            user = None
        if user is None or not user.is_active:
            self._failed(request, getattr(user, "username", ""), "token or claims rejected")
            return _error_page(
                request,
                "The identity provider's answer could not be verified. Start again.",
                403,
            )
        self.user = user
        auth.login(request, user, backend=BACKEND)
        return HttpResponseRedirect(self.success_url)

    @staticmethod
    def _failed(request: HttpRequest, username: str, reason: str) -> None:
        user_login_failed.send(
            sender=__name__,
            credentials={"username": username},
            request=request,
            source=SOURCE,
            reason=reason,
        )


class ProviderLogoutView(auth_views.LogoutView):
    """Django's log-out; a user who came through OIDC is then sent to the provider's
    end_session_endpoint, which ends the provider's session and comes back to log-in."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get("oidc_id_token") if enabled() else None
        response = super().post(request, *args, **kwargs)
        if not id_token:
            return response
        try:
            end_session = endpoints().get("end_session_endpoint")
        except ProviderUnavailable as exc:
            messages.warning(
                request,
                f"You are logged out of the console, but {exc} Your session at "
                f"{provider_name()} may still be open.",
            )
            return response
        if not end_session:
            return response
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
                "client_id": settings.OIDC_RP_CLIENT_ID,
            }
        )
        return HttpResponseRedirect(f"{end_session}?{query}")


def login_choices() -> dict[str, Any]:
    """For the log-in page: the SSO button, and whether the password form is of use."""
    from console.identity.ldap_settings import BACKEND as LDAP_BACKEND

    backends: Iterable[str] = settings.AUTHENTICATION_BACKENDS
    return {
        "oidc_enabled": enabled(),
        "oidc_provider_name": provider_name(),
        "password_login": settings.CONSOLE_LOCAL_ACCOUNTS or LDAP_BACKEND in backends,
    }
