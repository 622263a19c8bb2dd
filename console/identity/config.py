"""CONSOLE_ROLE_MAP and CONSOLE_DEFAULT_ROLE, parsed while settings load (no Django apps)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

ROLE_NAMES = ("viewer", "operator", "admin")  # console.access.ROLES, which needs the apps


def parse_role_map(text: str) -> dict[str, str]:
    """``"kafka-admins=admin, kafka-ops=operator"`` -> {group: role}; a bad entry raises."""
    mapping: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        group, sep, role = entry.rpartition("=")
        group, role = group.strip(), role.strip()
        if not sep or not group:
            raise ImproperlyConfigured(
                f"CONSOLE_ROLE_MAP: {entry!r} is not group=role "
                "(e.g. kafka-admins=admin,kafka-operators=operator,kafka-viewers=viewer)"
            )
        if role not in ROLE_NAMES:
            raise ImproperlyConfigured(
                f"CONSOLE_ROLE_MAP: {entry!r} maps to unknown role {role!r}; "
                f"roles are {', '.join(ROLE_NAMES)}"
            )
        mapping[group] = role
    return mapping


def check_default_role(role: str) -> str:
    if role and role not in ROLE_NAMES:
        raise ImproperlyConfigured(
            f"CONSOLE_DEFAULT_ROLE: unknown role {role!r}; give one of {', '.join(ROLE_NAMES)}, "
            "or leave it empty so that users with no mapped group get no access"
        )
    return role
