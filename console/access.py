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


def can(user: AbstractBaseUser | AnonymousUser, capability: Capability) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(capability.value))


def role_of(user: AbstractBaseUser | AnonymousUser) -> str:
    """The highest role the user holds ('' for none)."""
    for role in ("admin", "operator", "viewer"):
        if all(can(user, c) for c in ROLES[role]):
            return role
    return ""


def require(user: AbstractBaseUser | AnonymousUser, capability: Capability) -> None:
    if not can(user, capability):
        raise CapabilityDenied(
            f"This needs the {ROLE_NEEDED[capability]} role"
            + (f"; you are {role_of(user)}" if role_of(user) else "; you have no role yet")
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


def grant_role(user, role: str) -> None:
    """Make `user` hold exactly `role` (viewer, operator or admin)."""
    from django.contrib.auth.models import Group

    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ensure_roles()
    user.groups.set([Group.objects.get(name=role)])
