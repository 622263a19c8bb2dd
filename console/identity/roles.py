"""Role decisions and the log-in audit trail, shared by local accounts, LDAP and OIDC.

An identity provider (LDAP's groups, an OIDC claim) names groups; ``CONSOLE_ROLE_MAP``
maps group names to the console's roles (viewer, operator, admin), everywhere or, written
``group=role@cluster``, on one cluster only. The highest mapped role wins; a user whose groups map to nothing gets ``CONSOLE_DEFAULT_ROLE``, which is empty
by default: no group, no access. The role is decided again at every log-in, so a change at
the provider takes effect at the next one (and an open live tail stops within seconds of
the role's loss: topics/tail's permission watch reads the same role groups).

Every log-in, failed log-in, log-out and role decision is an audit entry (cluster "",
since none of them is about one cluster).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from console.access import grant_role, set_cluster_roles
from console.audit import audit_record
from console.models import AuditEntry

RANK = {"": 0, "viewer": 1, "operator": 2, "admin": 3}

# Where a backend's users come from, for the audit log; unknown backends by class name.
SOURCES = {
    "django.contrib.auth.backends.ModelBackend": "local",
    "console.identity.ldap.ConsoleLDAPBackend": "ldap",
    "console.identity.oidc.ConsoleOIDCBackend": "oidc",
}

NO_ROLE_MESSAGE = (
    "You signed in, but your account has no role in this console: none of your groups "
    "is mapped to viewer, operator or admin. Ask an administrator to add you to one."
)


def normalise_group(name: str) -> str:
    """A group as providers spell it: Keycloak's "/kafka-admins" path, LDAP's full DN
    "cn=kafka-admins,ou=groups,..." -> "kafka-admins"; plain names stay as they are."""
    name = name.strip()
    if name.lower().startswith("cn=") and "," in name:
        name = name[3:].split(",", 1)[0]
    return name.rsplit("/", 1)[-1] if name.startswith("/") else name


def decide_role(groups: Iterable[str], source: str = "") -> tuple[str, list[str]]:
    """The highest role the groups map to, and the groups that mapped; ("", []) for none
    (then CONSOLE_DEFAULT_ROLE, itself empty by default)."""
    mapping = settings.CONSOLE_ROLE_MAP
    matched = sorted({g for g in map(normalise_group, groups) if g in mapping})
    role = max((mapping[g] for g in matched), key=RANK.__getitem__, default="")
    return (role or settings.CONSOLE_DEFAULT_ROLE), matched


def decide_cluster_roles(groups: Iterable[str], above: str = "") -> dict[str, str]:
    """{cluster: role} from the groups mapped with ``group=role@cluster``: the highest per
    cluster, and only where it is more than `above` (the role held everywhere)."""
    mapping = settings.CONSOLE_CLUSTER_ROLE_MAP
    roles: dict[str, str] = {}
    for group in map(normalise_group, groups):
        for cluster, role in mapping.get(group, {}).items():
            if RANK[role] > RANK[roles.get(cluster, "")]:
                roles[cluster] = role
    return {c: r for c, r in sorted(roles.items()) if RANK[r] > RANK[above]}


def apply_external_role(user, groups: Iterable[str], source: str, request=None) -> str:
    """Give `user` exactly the roles its provider groups decide (none if they decide none):
    a role everywhere, and roles on single clusters; audit the decision. Returns the role
    held everywhere, or "role@cluster, ..." when there are only single-cluster roles, or
    "" when there is none at all (refuse the log-in)."""
    groups = list(groups)
    role, matched = decide_role(groups, source)
    local = decide_cluster_roles(groups, above=role)
    if role:
        grant_role(user, role)
    else:
        user.groups.clear()
    set_cluster_roles(user, local)
    where = ", ".join(f"{r}@{c}" for c, r in local.items())
    decided = role or where
    audit_record(
        user=user if user.pk else None,
        cluster="",
        action="login.role",
        target=user.get_username(),
        params={
            "source": source,
            "groups": sorted(map(normalise_group, groups))[:50],
            "matched": matched,
            "role": role or "none",
            **({"clusters": local} if local else {}),
        },
        outcome=AuditEntry.Outcome.OK if decided else AuditEntry.Outcome.DENIED,
        detail=(
            (
                f"{source}: role {role}"
                + (f" from {', '.join(matched)}" if matched else " (default)")
                if role
                else f"{source}: no role everywhere"
            )
            + (f"; on single clusters {where}" if where else "")
            if decided
            else f"{source}: no group maps to a role; log-in refused"
        ),
    )
    return decided


def source_of(backend_path: str | None) -> str:
    if not backend_path:
        return "local"
    return SOURCES.get(backend_path, backend_path.rsplit(".", 1)[-1])


def _address(request) -> str:
    if request is None:
        return ""
    from console.auth_views import client_address

    return client_address(request)


@receiver(user_logged_in, dispatch_uid="console.identity.logged_in")
def _logged_in(sender, request, user, **kwargs) -> None:
    backend = getattr(user, "backend", None) or (
        request.session.get("_auth_user_backend") if request is not None else None
    )
    audit_record(
        user=user,
        cluster="",
        action="login",
        target=user.get_username(),
        params={"source": source_of(backend), "address": _address(request)},
        outcome=AuditEntry.Outcome.OK,
    )


@receiver(user_login_failed, dispatch_uid="console.identity.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str((credentials or {}).get("username", ""))[:150]
    audit_record(
        user=None,
        cluster="",
        action="login.failed",
        target=username,
        params={"source": kwargs.get("source", ""), "address": _address(request)},
        outcome=AuditEntry.Outcome.DENIED,
        # Why, when the log-in view knows (a directory down, no role): never the password.
        detail=str(getattr(request, "login_refusal", "") or kwargs.get("reason", ""))[:500],
    )


@receiver(user_logged_out, dispatch_uid="console.identity.logged_out")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    audit_record(
        user=user,
        cluster="",
        action="logout",
        target=user.get_username(),
        params={"address": _address(request)},
        outcome=AuditEntry.Outcome.OK,
    )
