"""Log-in with a directory account: django-auth-ldap, with roles from the user's groups.

The user types their directory user name and password into the ordinary log-in form
(the same throttling as local accounts). ``ConsoleLDAPBackend`` finds the user with the
service account, checks the password by binding as the user, reads the names (cn) of the
groupOfNames that list them, and hands those to ``apply_external_role``: the role mapped
from CONSOLE_ROLE_MAP replaces whatever role the user had, at every log-in. No mapped
role refuses the log-in with ``NO_ROLE_MESSAGE``.

A directory that is down, hung or refusing the service account refuses the log-in with
a message saying so (within CONSOLE_LDAP_TIMEOUT), never a 500 or a hang: the reason is
left on the request as ``request.login_refusal`` for the log-in form to show.

Configured from CONSOLE_LDAP_* (console/identity/ldap_settings.py; README "LDAP").
"""

from __future__ import annotations

import contextvars
import logging

import ldap
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django_auth_ldap.backend import LDAPBackend, ldap_error, populate_user

from console.identity.roles import NO_ROLE_MESSAGE, apply_external_role

logger = logging.getLogger(__name__)

SOURCE = "ldap"

# The LDAP errors django-auth-ldap reported (and swallowed) during this log-in attempt.
_errors: contextvars.ContextVar[list[Exception] | None] = contextvars.ContextVar(
    "console_ldap_errors", default=None
)


class LocalAccountClash(Exception):
    """The directory user name belongs to a local account (one with a password here)."""


def refuse(request, message: str, code: str) -> None:
    """Leave the reason a log-in was refused where the log-in form finds it."""
    if request is not None:
        request.login_refusal = message
        request.login_refusal_code = code


def describe(exc: Exception) -> tuple[str, str]:
    """(code, message) for an LDAP error, in words a person at the log-in form can act on."""
    timeout = getattr(settings, "CONSOLE_LDAP_TIMEOUT", 0) or 0
    if isinstance(exc, ldap.TIMEOUT):
        return "unavailable", (
            f"The directory (LDAP) did not answer within {timeout:g} s, so directory "
            "accounts cannot log in right now. Try again in a few minutes; if it goes on, "
            "tell an administrator."
        )
    if getattr(settings, "AUTH_LDAP_START_TLS", False) and isinstance(
        exc, ldap.CONNECT_ERROR | ldap.PROTOCOL_ERROR
    ):
        # libldap says little more than "Connect error" for an untrusted certificate.
        return "config", (
            "The secure (StartTLS) connection to the directory (LDAP) failed: it does not "
            "offer StartTLS, or its certificate is not trusted or not for its host name. "
            "Tell an administrator (CONSOLE_LDAP_START_TLS, CONSOLE_LDAP_CA_FILE)."
        )
    if isinstance(exc, ldap.SERVER_DOWN | ldap.CONNECT_ERROR):
        return "unavailable", (
            "The directory (LDAP) cannot be reached, so directory accounts cannot log in "
            "right now. Try again in a few minutes; if it goes on, tell an administrator."
        )
    if isinstance(exc, ldap.INVALID_CREDENTIALS):
        # The user's own wrong password never gets here (django-auth-ldap handles it):
        # this is the console's service account.
        return "config", (
            "The directory (LDAP) refused the console's service account, so directory "
            "accounts cannot log in. Tell an administrator (CONSOLE_LDAP_BIND_DN and "
            "CONSOLE_LDAP_BIND_PASSWORD)."
        )
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    what = ": ".join(str(info[k]) for k in ("desc", "info") if info.get(k))
    return "error", (
        f"The directory (LDAP) answered with an error ({what or type(exc).__name__}), so "
        "you cannot log in right now. Try again; if it goes on, tell an administrator."
    )


@receiver(ldap_error, dispatch_uid="console.identity.ldap.errors")
def _collect(sender, context, user, request=None, exception=None, **kwargs) -> None:
    errors = _errors.get()
    if errors is not None and exception is not None:
        errors.append(exception)


@receiver(populate_user, dispatch_uid="console.identity.ldap.populate")
def _fit_fields(sender, user, ldap_user, **kwargs) -> None:
    """Directory values longer than the user table's columns are cut, not a failed save."""
    for name in settings.AUTH_LDAP_USER_ATTR_MAP:
        field = user._meta.get_field(name)
        value = getattr(user, name, "")
        if field.max_length and isinstance(value, str) and len(value) > field.max_length:
            setattr(user, name, value[: field.max_length])


class ConsoleLDAPBackend(LDAPBackend):
    """django-auth-ldap's backend; the console role comes from the user's LDAP groups."""

    _model = ModelBackend()

    def authenticate_ldap_user(self, ldap_user, password):
        request = ldap_user._request
        errors: list[Exception] = []
        token = _errors.set(errors)
        try:
            try:
                user = ldap_user.authenticate(password)
            except LocalAccountClash:
                logger.warning(
                    "LDAP log-in of %s refused: a local account has that name",
                    ldap_user._username,
                )
                refuse(
                    request,
                    "This user name belongs to a local account of the console: log in with "
                    "its password, or ask an administrator to remove the local account.",
                    "clash",
                )
                raise PermissionDenied("local account") from None
            if user is None:
                if errors:
                    logger.warning("LDAP log-in failed: %r", errors[-1])
                    code, message = describe(errors[-1])
                    refuse(request, message, code)
                return None
            try:
                groups = sorted(ldap_user.group_names)
            except ldap.LDAPError as exc:
                # Not "no groups": a directory that fails now must not take anyone's role.
                logger.warning("LDAP group search for %s failed: %r", user, exc)
                code, message = describe(exc)
                refuse(request, message, code)
                return None
        finally:
            _errors.reset(token)
        role = apply_external_role(user, groups, SOURCE, request=request)
        if not role:
            refuse(request, NO_ROLE_MESSAGE, "no_role")
            # PermissionDenied: no later backend may let this user in; Django audits the
            # failed log-in (user_login_failed).
            raise PermissionDenied(NO_ROLE_MESSAGE)
        return user

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and user.has_usable_password():
            # A local account (the break-glass admin, say) is never taken over by a
            # directory account that happens to share its name.
            raise LocalAccountClash(username)
        return user, built

    # Permissions come from the console's role groups, as for local accounts, even when
    # ModelBackend is off (CONSOLE_LOCAL_ACCOUNTS=0): django-auth-ldap alone grants none.
    def get_group_permissions(self, user, obj=None):
        return self._model.get_group_permissions(user, obj)

    def get_all_permissions(self, user, obj=None):
        return self._model.get_all_permissions(user, obj)
