"""Kafka ACLs: describe, create and delete bindings through the cluster's AdminClient.

Returns ``Acl`` dataclasses (never the library's objects). A broker without an authorizer
answers SECURITY_DISABLED: that is ``AclsDisabled``, which pages show as a clear message.
Deletes take exact bindings (every field set), so only what a person previewed goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from console.kafka.client import admin_for, timeout, translate, wait
from console.kafka.cluster import broker_configs, cluster_snapshot
from console.kafka.connection import Connection
from console.kafka.errors import InvalidRequest, KafkaConsoleError, NotAllowed

# Names as Kafka's own tools spell them; "cluster" is the library's BROKER resource.
RESOURCE_TYPES = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.BROKER,
    "transactional_id": ResourceType.TRANSACTIONAL_ID,
}
PATTERN_TYPES = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
OPERATIONS = {
    op.name.lower(): op for op in AclOperation if op not in (AclOperation.UNKNOWN, AclOperation.ANY)
}
PERMISSIONS = {"allow": AclPermissionType.ALLOW, "deny": AclPermissionType.DENY}
CLUSTER_NAME = "kafka-cluster"  # the one name a cluster resource has


class AclsDisabled(KafkaConsoleError):
    """The cluster has no authorizer (SECURITY_DISABLED): it keeps no ACLs."""


@dataclass(frozen=True, order=True)
class Acl:
    """One binding, in lower-case words (resource_type 'topic', operation 'read', ...)."""

    resource_type: str
    resource_name: str
    pattern_type: str
    principal: str
    host: str
    operation: str
    permission: str

    def as_dict(self) -> dict[str, str]:
        return {
            "resource_type": self.resource_type,
            "resource_name": self.resource_name,
            "pattern_type": self.pattern_type,
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation,
            "permission": self.permission,
        }

    def _binding_args(self) -> tuple:
        return (
            RESOURCE_TYPES[self.resource_type],
            self.resource_name,
            PATTERN_TYPES[self.pattern_type],
            self.principal,
            self.host,
            OPERATIONS[self.operation],
            PERMISSIONS[self.permission],
        )


@dataclass(frozen=True)
class AclFilter:
    """What to match; '' matches any. pattern_type 'match' finds the bindings that apply to
    a name (the literal name, prefixes of it and the '*' wildcard)."""

    principal: str = ""
    resource_type: str = ""
    resource_name: str = ""
    pattern_type: str = ""
    operation: str = ""
    permission: str = ""
    host: str = ""

    def is_empty(self) -> bool:
        return not (self.principal or self.resource_name)

    def _filter(self) -> AclBindingFilter:
        try:
            pattern = (
                ResourcePatternType.MATCH
                if self.pattern_type == "match"
                else PATTERN_TYPES[self.pattern_type]
                if self.pattern_type
                else ResourcePatternType.ANY
            )
            return AclBindingFilter(
                RESOURCE_TYPES[self.resource_type] if self.resource_type else ResourceType.ANY,
                self.resource_name or None,
                pattern,
                self.principal or None,
                self.host or None,
                OPERATIONS[self.operation] if self.operation else AclOperation.ANY,
                PERMISSIONS[self.permission] if self.permission else AclPermissionType.ANY,
            )
        except KeyError as exc:
            raise InvalidRequest(f"unknown ACL field value {exc}") from None
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"the Kafka client refused the ACL filter: {exc}") from None


_NAMES = {
    "resource_type": {v: k for k, v in RESOURCE_TYPES.items()},
    "pattern_type": {v: k for k, v in PATTERN_TYPES.items()},
    "operation": {v: k for k, v in OPERATIONS.items()},
    "permission": {v: k for k, v in PERMISSIONS.items()},
}


def _acl(b: AclBinding) -> Acl:
    return Acl(
        resource_type=_NAMES["resource_type"].get(b.restype, str(b.restype).lower()),
        resource_name=b.name,
        pattern_type=_NAMES["pattern_type"].get(
            b.resource_pattern_type, str(b.resource_pattern_type).lower()
        ),
        principal=b.principal,
        host=b.host,
        operation=_NAMES["operation"].get(b.operation, str(b.operation).lower()),
        permission=_NAMES["permission"].get(b.permission_type, str(b.permission_type).lower()),
    )


def _translate(exc: KafkaConsoleError) -> KafkaConsoleError:
    if exc.code == "SECURITY_DISABLED":
        return AclsDisabled(DISABLED, code=exc.code)
    return exc


DISABLED = (
    "This cluster has no authorizer configured (authorizer.class.name), so it keeps no ACLs "
    "and every client may do everything its listener allows."
)


@dataclass(frozen=True)
class AuthorizerSettings:
    """What one online broker says about its authorizer ('' when it could not be read)."""

    authorizer: str
    allow_if_no_acl: str
    super_users: str


def authorizer_settings(cluster: Connection) -> AuthorizerSettings | None:
    """The authorizer settings of one online broker; None when the console may not read
    broker configs (the ACL requests then answer for themselves)."""
    live = sorted(b.id for b in cluster_snapshot(cluster).brokers if b.online)
    if not live:
        return None
    try:
        entries = {e.name: e for e in broker_configs(cluster, live[0])}
    except NotAllowed:
        return None

    def value(name: str) -> str:
        e = entries.get(name)
        return "" if e is None or e.is_sensitive else (e.value or "")

    return AuthorizerSettings(
        authorizer=value("authorizer.class.name"),
        allow_if_no_acl=value("allow.everyone.if.no.acl.found"),
        super_users=value("super.users"),
    )


def require_authorizer(cluster: Connection) -> AuthorizerSettings | None:
    """Raise AclsDisabled when the brokers run no authorizer. A broker without one answers
    a describe with an empty list, not an error, so its config is what tells."""
    found = authorizer_settings(cluster)
    if found is not None and not found.authorizer:
        raise AclsDisabled(DISABLED, code="SECURITY_DISABLED")
    return found


def describe_acls(cluster: Connection, flt: AclFilter | None = None) -> list[Acl]:
    """Bindings matching `flt` (all of them for None), sorted."""
    admin = admin_for(cluster)
    binding_filter = (flt or AclFilter())._filter()
    try:
        future = admin.describe_acls(binding_filter, request_timeout=timeout())
        found = wait(future, what="listing ACLs")
    except KafkaConsoleError as exc:
        raise _translate(exc) from None
    return sorted(_acl(b) for b in found)


def create_acls(cluster: Connection, acls: list[Acl]) -> None:
    """Create exact bindings; raises on the first one the broker refused."""
    admin = admin_for(cluster)
    try:
        bindings = [AclBinding(*a._binding_args()) for a in acls]
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"the Kafka client refused the ACL binding: {exc}") from None
    try:
        futures = admin.create_acls(bindings, request_timeout=timeout())
        for fut in futures.values():
            wait(fut, what="creating an ACL")
    except KafkaConsoleError as exc:
        raise _translate(exc) from None


def delete_acls(cluster: Connection, acls: list[Acl]) -> list[Acl]:
    """Delete exactly these bindings (each as a filter with every field set); returns what
    the broker removed."""
    admin = admin_for(cluster)
    try:
        filters = [AclBindingFilter(*a._binding_args()) for a in acls]
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"the Kafka client refused the ACL binding: {exc}") from None
    if not filters:
        return []
    deleted: list[Acl] = []
    try:
        futures = admin.delete_acls(filters, request_timeout=timeout())
        for fut in futures.values():
            deleted.extend(_acl(b) for b in wait(fut, what="deleting ACLs"))
    except KafkaConsoleError as exc:
        raise _translate(exc) from None
    except Exception as exc:  # noqa: BLE001 - anything else the library raises, in words
        raise translate(exc, what="deleting ACLs") from None
    return sorted(set(deleted))
