"""Roles and capability checks. Every check runs server side; templates only mirror them.

Roles are Django groups created by a migration: ``viewer`` (metadata), ``operator``
(+ message contents, produce, offset resets, create topics), ``admin`` (+ deletes and config
changes, audit log). A read-only cluster refuses every mutation whatever the role.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied


class Capability(StrEnum):
    VIEW = "console.view_cluster"
    READ_MESSAGES = "console.read_messages"
    OPERATE = "console.operate_cluster"
    ADMIN = "console.admin_cluster"
    AUDIT = "console.view_auditentry"


ROLES: dict[str, tuple[Capability, ...]] = {
    "viewer": (Capability.VIEW,),
    "operator": (Capability.VIEW, Capability.READ_MESSAGES, Capability.OPERATE),
    "admin": (
        Capability.VIEW,
        Capability.READ_MESSAGES,
        Capability.OPERATE,
        Capability.ADMIN,
        Capability.AUDIT,
    ),
}
ROLE_NEEDED = {
    Capability.VIEW: "viewer",
    Capability.READ_MESSAGES: "operator",
    Capability.OPERATE: "operator",
    Capability.ADMIN: "admin",
    Capability.AUDIT: "admin",
}


class CapabilityDenied(PermissionDenied):
    """The user's role lacks a capability; the message says which role is needed."""


class ReadOnlyCluster(PermissionDenied):
    """The cluster is configured read-only: no mutation, whatever the role."""


RANK = {"": 0, "viewer": 1, "operator": 2, "admin": 3}


def _cluster_name(cluster: object) -> str:
    return str(getattr(cluster, "name", cluster) or "")


def cluster_roles(user: AbstractBaseUser | AnonymousUser) -> dict[str, str]:
    """The user's roles on single clusters ({cluster: role}), read once per user object."""
    if not (user.is_authenticated and user.is_active and user.pk):
        return {}
    cached = getattr(user, "_console_cluster_roles", None)
    if cached is None:
        from console.models import ClusterRole

        cached = dict(ClusterRole.objects.filter(user_id=user.pk).values_list("cluster", "role"))
        user._console_cluster_roles = cached
    return cached


def can(
    user: AbstractBaseUser | AnonymousUser, capability: Capability, cluster: object = None
) -> bool:
    """Whether `user` holds `capability`: everywhere (its role group), or on `cluster` (a
    name or Cluster; by default the cluster of the page being served, which cluster_view
    notes on the user) through a role given on that cluster only. The audit log spans
    every cluster: only a role held everywhere reads it."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.has_perm(capability.value):
        return True
    if capability is Capability.AUDIT:
        return False
    name = _cluster_name(cluster if cluster is not None else getattr(user, "console_cluster", ""))
    return bool(name) and capability in ROLES.get(cluster_roles(user).get(name, ""), ())


def role_of(user: AbstractBaseUser | AnonymousUser, cluster: object = None) -> str:
    """The highest role the user holds ('' for none): everywhere, or on `cluster` (by
    default the page's, as for can())."""
    if not (user.is_authenticated and user.is_active):
        return ""
    everywhere = ""
    for role in ("admin", "operator", "viewer"):
        if all(user.has_perm(c.value) for c in ROLES[role]):
            everywhere = role
            break
    name = _cluster_name(cluster if cluster is not None else getattr(user, "console_cluster", ""))
    here = cluster_roles(user).get(name, "") if name else ""
    return max(everywhere, here, key=RANK.__getitem__)


def require(
    user: AbstractBaseUser | AnonymousUser, capability: Capability, cluster: object = None
) -> None:
    if not can(user, capability, cluster):
        role = role_of(user, cluster)
        raise CapabilityDenied(
            f"This needs the {ROLE_NEEDED[capability]} role"
            + (f"; you are {role}" if role else "; you have no role yet")
            + (" here" if role and role != role_of(user, "") else "")
            + "."
        )


def ensure_roles(**_: object) -> None:
    """Create the three role groups with their permissions (idempotent; runs after migrate)."""
    from django.contrib.auth.models import Group, Permission

    for role, capabilities in ROLES.items():
        group, _created = Group.objects.get_or_create(name=role)
        codenames = [c.value.split(".", 1)[1] for c in capabilities]
        perms = Permission.objects.filter(content_type__app_label="console", codename__in=codenames)
        group.permissions.set(perms)


def set_cluster_roles(user, roles: dict[str, str]) -> None:
    """Make `user` hold exactly these single-cluster roles ({cluster: role})."""
    from console.models import ClusterRole

    bad = {r for r in roles.values() if r not in ROLES}
    if bad:
        raise ValueError(f"unknown role(s) {sorted(bad)}; expected one of {', '.join(ROLES)}")
    ClusterRole.objects.filter(user=user).exclude(cluster__in=list(roles)).delete()
    for cluster, role in roles.items():
        ClusterRole.objects.update_or_create(user=user, cluster=cluster, defaults={"role": role})
    user._console_cluster_roles = dict(roles)


def grant_role(user, role: str) -> None:
    """Make `user` hold exactly `role` (viewer, operator or admin)."""
    from django.contrib.auth.models import Group

    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ensure_roles()
    user.groups.set([Group.objects.get(name=role)])
