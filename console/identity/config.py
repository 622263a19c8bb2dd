"""CONSOLE_ROLE_MAP and CONSOLE_DEFAULT_ROLE, parsed while settings load (no Django apps).

``CONSOLE_ROLE_MAP`` lists ``group=role`` (that role on every cluster) and
``group=role@cluster`` (that role on that cluster only), comma-separated.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import ImproperlyConfigured

ROLE_NAMES = ("viewer", "operator", "admin")  # console.access.ROLES, which needs the apps
RANK = {"": 0, "viewer": 1, "operator": 2, "admin": 3}


def _entries(text: str) -> Iterator[tuple[str, str, str]]:
    """(group, role, cluster or "") per entry; a bad entry raises."""
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        group, sep, target = entry.rpartition("=")
        group = group.strip()
        role, _at, cluster = (part.strip() for part in target.partition("@"))
        if not sep or not group:
            raise ImproperlyConfigured(
                f"CONSOLE_ROLE_MAP: {entry!r} is not group=role or group=role@cluster "
                "(e.g. kafka-admins=admin,kafka-operators=operator,prod-readers=viewer@prod)"
            )
        if role not in ROLE_NAMES:
            raise ImproperlyConfigured(
                f"CONSOLE_ROLE_MAP: {entry!r} maps to unknown role {role!r}; "
                f"roles are {', '.join(ROLE_NAMES)}"
            )
        if _at and not cluster:
            raise ImproperlyConfigured(
                f"CONSOLE_ROLE_MAP: {entry!r} names no cluster after '@'; give "
                "group=role@cluster, or group=role for every cluster"
            )
        yield group, role, cluster


def parse_role_map(text: str) -> dict[str, str]:
    """The entries for every cluster: ``"kafka-admins=admin, ops=operator"`` -> {group: role}
    (a group listed twice keeps its highest role)."""
    mapping: dict[str, str] = {}
    for group, role, cluster in _entries(text):
        if not cluster and RANK[role] > RANK[mapping.get(group, "")]:
            mapping[group] = role
    return mapping


def parse_cluster_role_map(text: str) -> dict[str, dict[str, str]]:
    """The entries for one cluster: ``"prod-ops=operator@prod"`` -> {group: {cluster: role}}."""
    mapping: dict[str, dict[str, str]] = {}
    for group, role, cluster in _entries(text):
        if cluster:
            roles = mapping.setdefault(group, {})
            if RANK[role] > RANK[roles.get(cluster, "")]:
                roles[cluster] = role
    return mapping


def check_default_role(role: str) -> str:
    if role and role not in ROLE_NAMES:
        raise ImproperlyConfigured(
            f"CONSOLE_DEFAULT_ROLE: unknown role {role!r}; give one of {', '.join(ROLE_NAMES)}, "
            "or leave it empty so that users with no mapped group get no access"
        )
    return role
