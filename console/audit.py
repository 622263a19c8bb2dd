"""The audit log: every mutating action, and every refused attempt, is one AuditEntry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from console.access import Capability, CapabilityDenied, ReadOnlyCluster, require
from console.clusters import Cluster
from console.models import AuditEntry


def audit_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    cluster: str,
    action: str,
    target: str = "",
    params: dict[str, Any] | None = None,
    outcome: str,
    detail: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Write one audit entry."""
    real_user = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        user=real_user,
        username=real_user.get_username() if real_user else "anonymous",
        cluster=cluster,
        action=action,
        target=target[:512],
        params=params or {},
        outcome=outcome,
        detail=detail,
        before=before,
        after=after,
    )


@dataclass
class Mutation:
    """What the body of ``mutation()`` may add to its audit entry."""

    detail: str = ""
    before: Any = None
    after: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    outcome: str = AuditEntry.Outcome.OK
    entry: AuditEntry | None = None


@contextlib.contextmanager
def mutation(
    *,
    user: AbstractBaseUser | AnonymousUser,
    cluster: Cluster,
    action: str,
    target: str,
    capability: Capability,
    params: dict[str, Any] | None = None,
) -> Iterator[Mutation]:
    """Check role and read-only, run the body, audit the outcome (denied, ok or error).

    Raises CapabilityDenied / ReadOnlyCluster (both PermissionDenied: a 403) when refused.
    """
    m = Mutation(params=dict(params or {}))
    common = {"user": user, "cluster": cluster.name, "action": action, "target": target}
    try:
        require(user, capability, cluster.name)
        if cluster.read_only:
            raise ReadOnlyCluster(f"Cluster {cluster.name} is read-only: {action} is refused.")
    except (CapabilityDenied, ReadOnlyCluster) as exc:
        audit_record(**common, params=m.params, outcome=AuditEntry.Outcome.DENIED, detail=str(exc))
        raise
    try:
        yield m
    except Exception as exc:
        m.entry = audit_record(
            **common,
            params=m.params,
            outcome=AuditEntry.Outcome.ERROR,
            detail=str(exc),
            before=m.before,
            after=m.after,
        )
        raise
    m.entry = audit_record(
        **common,
        params=m.params,
        outcome=m.outcome,
        detail=m.detail,
        before=m.before,
        after=m.after,
    )
