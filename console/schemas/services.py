"""Changes to a cluster's schema registry: each one role-checked, refused on a read-only
cluster and audited (console.audit.mutation), after a preview the views show first."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.messages.schema_registry import RegistryError
from console.schemas import compat
from console.schemas.registry import CompatibilityAnswer, RegistryAnswer
from console.schemas.selectors import registry

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The registry's answer about a candidate schema, and the console's own reading."""

    subject: str
    new_subject: bool
    answer: CompatibilityAnswer
    level: str
    latest_version: int | None
    explanation: tuple[str, ...] = ()
    same_as: int | None = None  # the version that already holds exactly this schema

    @property
    def compatible(self) -> bool:
        return self.answer.compatible


def schema_check(
    *, cluster: Cluster, subject: str, schema: str, schema_type: str, references: list[dict]
) -> CheckResult:
    """Ask the registry whether `schema` may become `subject`'s next version (its
    compatibility endpoint, verbose); nothing changes. When it says no without reasons
    and the schema is Avro, the console explains with Avro's resolution rules."""
    client = registry(cluster)
    try:
        versions = client.versions(subject)
    except RegistryAnswer as exc:
        if exc.status != 404:
            raise
        versions = []
    level = client.subject_level(subject, default_to_global=True) if versions else None
    level = level or client.global_level()
    if not versions:
        # Nothing to be compatible with (Confluent answers 404 here, Apicurio "true"); the
        # registry still judges the schema itself when it is registered.
        answer = CompatibilityAnswer(compatible=True, raw={"new_subject": True})
    else:
        answer = client.check(subject, schema, schema_type, references)
    explanation: list[str] = []
    same_as = None
    if versions:
        found = client.lookup(subject, schema, schema_type, references)
        same_as = found.version if found else None
        if not answer.compatible and not answer.messages and schema_type == "AVRO":
            against = versions if level.upper().endswith("_TRANSITIVE") else versions[-1:]
            olds = [(v, client.version(subject, v)) for v in against]
            explanation = compat.explain(
                level, schema, [(v, s.schema) for v, s in olds if s.schema_type == "AVRO"]
            )
    return CheckResult(
        subject=subject,
        new_subject=not versions,
        answer=answer,
        level=level,
        latest_version=versions[-1] if versions else None,
        explanation=tuple(explanation),
        same_as=same_as,
    )


def schema_register(
    *,
    user: User,
    cluster: Cluster,
    subject: str,
    schema: str,
    schema_type: str,
    references: list[dict],
) -> tuple[int, int]:
    """Register `schema` under `subject` (the registry enforces its compatibility rule);
    returns (schema id, version)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="schema.register",
        target=subject,
        capability=Capability.OPERATE,
        params={"schema_type": schema_type, "references": references, "chars": len(schema)},
    ) as m:
        client = registry(cluster)
        schema_id = client.register(subject, schema, schema_type, references)
        found = client.lookup(subject, schema, schema_type, references)
        version = found.version if found else 0
        m.after = {"id": schema_id, "version": version}
        m.detail = f"registered as version {version} (schema id {schema_id})"
        return schema_id, version


GLOBAL = "GLOBAL"  # a subject's choice: drop its own level, follow the global one


@dataclass(frozen=True, slots=True)
class LevelPlan:
    subject: str | None  # None: the global level
    old: str
    new: str  # a level, or GLOBAL
    inherited: bool  # the subject had no level of its own
    global_level: str = ""

    @property
    def unchanged(self) -> bool:
        return (self.new == GLOBAL and self.inherited) or (
            self.new == self.old and not self.inherited
        )


def compatibility_plan(*, cluster: Cluster, subject: str | None, level: str) -> LevelPlan:
    """What changing the compatibility level would change (nothing changes)."""
    client = registry(cluster)
    global_level = client.global_level()
    if subject is None:
        return LevelPlan(None, global_level, level, False, global_level)
    effective = client.subject_level(subject, default_to_global=True) or global_level
    own = client.subject_level(subject)
    inherited = own is None or own != effective
    return LevelPlan(subject, effective, level, inherited, global_level)


def compatibility_set(
    *, user: User, cluster: Cluster, subject: str | None, level: str, seen: str
) -> LevelPlan:
    """Set the global or a subject's compatibility level, if it is still what the preview
    showed (`seen`)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="schema.compatibility",
        target=subject or "(global)",
        capability=Capability.ADMIN,
        params={"level": level},
    ) as m:
        plan = compatibility_plan(cluster=cluster, subject=subject, level=level)
        m.before = {"level": plan.old}
        if plan.old != seen:
            raise PreviewStale(
                f"The level changed to {plan.old} since the preview (it showed {seen}): "
                "preview again."
            )
        if level == GLOBAL and subject:
            registry(cluster).delete_level(subject)
            m.after = {"level": plan.global_level, "own": False}
        else:
            registry(cluster).set_level(subject, level)
            m.after = {"level": level}
        return plan


class PreviewStale(RegistryError):
    """What a confirmation was based on changed since its preview."""


@dataclass(frozen=True, slots=True)
class DeletePlan:
    subject: str
    version: int | None  # None: the whole subject
    permanent: bool
    versions: tuple[int, ...]  # live versions
    soft_deleted: tuple[int, ...]
    referenced_by: tuple[int, ...]
    schema_id: int | None

    @property
    def confirm_text(self) -> str:
        return self.subject if self.version is None else f"{self.subject} version {self.version}"


def delete_plan(
    *, cluster: Cluster, subject: str, version: int | None, permanent: bool
) -> DeletePlan:
    """What a soft or hard delete of a version or of the subject would remove."""
    client = registry(cluster)
    versions = client.versions(subject) if _has_live(client, subject) else []
    try:
        every = client.versions(subject, deleted=True)
    except RegistryAnswer as exc:
        if exc.status == 404:
            raise Http404(f"The registry has no subject {subject!r}.") from None
        raise
    soft = tuple(v for v in every if v not in versions)
    refs: list[int] = []
    schema_id = None
    targets = [version] if version is not None else versions
    for v in targets:
        if v in versions:
            sv = client.version(subject, v)
            schema_id = sv.id if version is not None else None
            with contextlib.suppress(RegistryAnswer):
                refs += client.referenced_by(subject, v)
    return DeletePlan(subject, version, permanent, tuple(versions), soft, tuple(refs), schema_id)


def _has_live(client, subject: str) -> bool:
    try:
        return bool(client.versions(subject))
    except RegistryAnswer as exc:
        if exc.status == 404:
            return False
        raise


def schema_delete(
    *, user: User, cluster: Cluster, subject: str, version: int | None, permanent: bool
) -> None:
    """Soft-delete (hidden, kept) or hard-delete (gone for good; the registry wants a soft
    delete first) a version, or the whole subject."""
    what = subject if version is None else f"{subject} version {version}"
    with mutation(
        user=user,
        cluster=cluster,
        action="schema.delete_subject" if version is None else "schema.delete_version",
        target=subject,
        capability=Capability.ADMIN,
        params={"version": version, "permanent": permanent},
    ) as m:
        client = registry(cluster)
        before = None
        if version is not None and not permanent:
            before = client.version(subject, version)
        if version is None:
            client.delete_subject(subject, permanent=permanent)
        else:
            client.delete_version(subject, version, permanent=permanent)
        if before is not None:
            m.before = {"id": before.id, "schema": before.schema[:20000]}
        m.detail = f"{'hard' if permanent else 'soft'}-deleted {what}"


def parse_references(text: str) -> list[dict]:
    """References as the registry wants them, from JSON text: a list of
    {"name", "subject", "version"}. ValueError says what is wrong."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"References are not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise ValueError('References must be a JSON list: [{"name", "subject", "version"}].')
    out = []
    for i, r in enumerate(doc, 1):
        if not isinstance(r, dict) or not {"name", "subject", "version"} <= set(r):
            raise ValueError(f"Reference {i} needs name, subject and version.")
        try:
            version = int(r["version"])
        except (TypeError, ValueError):
            raise ValueError(f"Reference {i}: version must be a number.") from None
        out.append({"name": str(r["name"]), "subject": str(r["subject"]), "version": version})
    return out
