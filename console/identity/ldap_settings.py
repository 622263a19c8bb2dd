"""CONSOLE_LDAP_* -> django-auth-ldap's AUTH_LDAP_* settings, checked while settings load.

Safe to import from settings.py: only python-ldap and django_auth_ldap.config (no apps).
A missing or malformed value raises ImproperlyConfigured naming the variable; a password
is never part of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

DEFAULT_USER_FILTER = "(uid=%(user)s)"
DEFAULT_GROUP_FILTER = "(objectClass=groupOfNames)"
DEFAULT_TIMEOUT_S = 5.0
BACKEND = "console.identity.ldap.ConsoleLDAPBackend"


def _bool(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ImproperlyConfigured(f"{name}={value!r}: expected true or false")


def _dn(env: Mapping[str, str], name: str, *, required: bool) -> str:
    import ldap.dn

    value = env.get(name, "").strip()
    if not value:
        if required:
            raise ImproperlyConfigured(
                f"{name} must be set when CONSOLE_LDAP_SERVER_URI is "
                "(a DN such as ou=people,dc=example,dc=org)"
            )
        return ""
    if not ldap.dn.is_dn(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a distinguished name (e.g. ou=people,dc=example,dc=org)"
        )
    return value


def _filter(env: Mapping[str, str], name: str, default: str, *, needs_user: bool) -> str:
    import ldap.filter

    value = env.get(name, "").strip() or default
    if needs_user and "%(user)s" not in value:
        raise ImproperlyConfigured(
            f"{name}={value!r} must contain %(user)s where the user name goes, "
            f"e.g. {DEFAULT_USER_FILTER}"
        )
    try:
        sample = value % {"user": ldap.filter.escape_filter_chars("someone")}
    except (KeyError, ValueError, TypeError):
        raise ImproperlyConfigured(
            f"{name}={value!r}: only %(user)s may be substituted (write a literal % as %%)"
        ) from None
    if not (sample.startswith("(") and sample.endswith(")")) or sample.count("(") != sample.count(
        ")"
    ):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an LDAP filter: it must be parenthesised, e.g. {default}"
        )
    return value


def ldap_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The AUTH_LDAP_* settings for the CONSOLE_LDAP_* variables in `env`; {} without a
    CONSOLE_LDAP_SERVER_URI (LDAP off)."""
    uri = env.get("CONSOLE_LDAP_SERVER_URI", "").strip()
    if not uri:
        return {}
    try:
        import ldap
        from django_auth_ldap.config import GroupOfNamesType, LDAPSearch, NestedGroupOfNamesType
    except ImportError:
        raise ImproperlyConfigured(
            "CONSOLE_LDAP_SERVER_URI is set but django-auth-ldap is not installed: "
            "pip install 'kafka-console[ldap]' (python-ldap builds from source and needs "
            "Debian's libldap2-dev and libsasl2-dev)"
        ) from None

    for part in uri.split():
        if not part.lower().startswith(("ldap://", "ldaps://", "ldapi://")):
            raise ImproperlyConfigured(
                f"CONSOLE_LDAP_SERVER_URI={uri!r}: expected ldap://host[:port] or "
                "ldaps://host[:port] (several separated by spaces)"
            )
    bind_dn = _dn(env, "CONSOLE_LDAP_BIND_DN", required=False)
    bind_password = env.get("CONSOLE_LDAP_BIND_PASSWORD", "")
    if bind_password and not bind_dn:
        raise ImproperlyConfigured(
            "CONSOLE_LDAP_BIND_PASSWORD is set but CONSOLE_LDAP_BIND_DN is not: give the "
            "service account's DN too (or neither, to search anonymously)"
        )
    user_base = _dn(env, "CONSOLE_LDAP_USER_SEARCH_BASE", required=True)
    group_base = _dn(env, "CONSOLE_LDAP_GROUP_SEARCH_BASE", required=True)
    user_filter = _filter(
        env, "CONSOLE_LDAP_USER_SEARCH_FILTER", DEFAULT_USER_FILTER, needs_user=True
    )
    group_filter = _filter(
        env, "CONSOLE_LDAP_GROUP_SEARCH_FILTER", DEFAULT_GROUP_FILTER, needs_user=False
    )
    raw_timeout = env.get("CONSOLE_LDAP_TIMEOUT", "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_S
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 120:
        raise ImproperlyConfigured(
            f"CONSOLE_LDAP_TIMEOUT={raw_timeout!r}: expected seconds between 0 and 120 "
            f"(default {DEFAULT_TIMEOUT_S:g})"
        )
    options: dict[int, Any] = {
        # Connecting, and then each operation (bind, search), is bounded: a down or hung
        # directory fails a log-in within seconds instead of holding the request.
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = env.get("CONSOLE_LDAP_CA_FILE", "").strip()
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above
    return {
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_BIND_DN": bind_dn,
        "AUTH_LDAP_BIND_PASSWORD": bind_password,
        "AUTH_LDAP_START_TLS": _bool(env, "CONSOLE_LDAP_START_TLS"),
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(user_base, ldap.SCOPE_SUBTREE, user_filter),
        "AUTH_LDAP_GROUP_SEARCH": LDAPSearch(group_base, ldap.SCOPE_SUBTREE, group_filter),
        # Nested: a member of a group that is itself a member of kafka-operators counts too.
        "AUTH_LDAP_GROUP_TYPE": (
            NestedGroupOfNamesType(name_attr="cn")
            if _bool(env, "CONSOLE_LDAP_NESTED_GROUPS")
            else GroupOfNamesType(name_attr="cn")
        ),
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        # Names, mail and groups are read afresh at every log-in; nothing is cached, so a
        # change in the directory counts at the next log-in.
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        # Roles come from CONSOLE_ROLE_MAP (console/identity/roles.py), never from
        # mirrored LDAP groups or LDAP-side permissions.
        "AUTH_LDAP_MIRROR_GROUPS": False,
        "AUTH_LDAP_FIND_GROUP_PERMS": False,
        "CONSOLE_LDAP_TIMEOUT": timeout,
    }
