"""Who may log in, and with which role: local accounts, LDAP (ldap.py) and OIDC (oidc.py).

The shared part is in roles.py (role decisions, the log-in audit trail) and config.py (the
role map, parsed with the settings). Its names are importable from here, lazily, since
settings import config.py before Django's apps are ready.
"""

from __future__ import annotations

_ROLES_NAMES = {
    "NO_ROLE_MESSAGE",
    "apply_external_role",
    "decide_cluster_roles",
    "decide_role",
    "normalise_group",
}


def __getattr__(name: str):
    if name in _ROLES_NAMES:
        from console.identity import roles

        return getattr(roles, name)
    raise AttributeError(f"module 'console.identity' has no attribute {name!r}")
