"""ACL changes: role (admin), read-only and audit around console.kafka.acls."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.kafka import acls as kafka_acls
from console.kafka.acls import Acl, AclFilter


def authorizer(cluster: Cluster) -> kafka_acls.AuthorizerSettings | None:
    """The brokers' authorizer settings; raises AclsDisabled when they run none."""
    return kafka_acls.require_authorizer(cluster)


def describe(cluster: Cluster, flt: AclFilter | None = None) -> list[Acl]:
    return kafka_acls.describe_acls(cluster, flt)


def refuse_if_read_only(user: AbstractBaseUser | AnonymousUser, cluster: Cluster, action: str):
    """Raise (audited) ReadOnlyCluster / CapabilityDenied before any preview of a change."""
    if cluster.read_only:
        with mutation(
            user=user, cluster=cluster, action=action, target="", capability=Capability.ADMIN
        ):
            pass  # pragma: no cover - mutation() raises first


def create(user: AbstractBaseUser | AnonymousUser, cluster: Cluster, acl: Acl) -> None:
    with mutation(
        user=user,
        cluster=cluster,
        action="acl.create",
        target=f"{acl.principal} {acl.resource_type}:{acl.resource_name}",
        capability=Capability.ADMIN,
        params=acl.as_dict(),
    ) as m:
        kafka_acls.create_acls(cluster, [acl])
        m.after = [acl.as_dict()]
        m.detail = (
            f"{acl.permission.upper()} {acl.operation.upper()} for {acl.principal} on "
            f"{acl.pattern_type} {acl.resource_type} {acl.resource_name} from host {acl.host}"
        )


def delete(
    user: AbstractBaseUser | AnonymousUser, cluster: Cluster, acls: list[Acl], flt: dict
) -> list[Acl]:
    with mutation(
        user=user,
        cluster=cluster,
        action="acl.delete",
        target=flt.get("principal") or flt.get("resource_name") or "",
        capability=Capability.ADMIN,
        params={"filter": flt, "previewed": len(acls)},
    ) as m:
        m.before = [a.as_dict() for a in acls]
        deleted = kafka_acls.delete_acls(cluster, acls)
        m.after = [a.as_dict() for a in deleted]
        m.detail = f"{len(deleted)} binding{'s' if len(deleted) != 1 else ''} deleted"
    return deleted
