"""Reads of a cluster's schema registry for the pages: the subject list, a subject, a diff,
a topic's subjects. Every read is bounded by the registry client's timeout."""

from __future__ import annotations

import concurrent.futures
import contextlib
import difflib
import json
import math
import time
from dataclasses import dataclass, field

from django.http import Http404

from console.clusters import Cluster
from console.kafka.errors import KafkaConsoleError
from console.messages.schema_registry import TIMEOUT_S, RegistryError
from console.schemas.registry import (
    RegistryAnswer,
    RegistryClient,
    SchemaVersion,
    client_for,
)

PAGE_SIZE = 50
# Parallel reads of one page's subjects (latest version, compatibility level).
WORKERS = 8
SUFFIXES = ("-key", "-value")


def registry(cluster: Cluster) -> RegistryClient:
    """The cluster's registry client; a 404 when the cluster has none configured."""
    if not cluster.schema_registry_url:
        raise Http404(f"Cluster {cluster.name} has no schema registry configured.")
    return client_for(cluster.schema_registry_url)


def topic_of(subject: str) -> tuple[str, str] | None:
    """(topic, "key"/"value") under the topic-name strategy, else None."""
    for suffix in SUFFIXES:
        if subject.endswith(suffix) and len(subject) > len(suffix):
            return subject[: -len(suffix)], suffix[1:]
    return None


def _topic_names(cluster: Cluster) -> set[str] | None:
    """The cluster's topic names (shared metadata); None when Kafka does not answer."""
    from console.kafka.cluster import cluster_snapshot

    try:
        return {t.name for t in cluster_snapshot(cluster).topics}
    except KafkaConsoleError:
        return None


@dataclass(frozen=True, slots=True)
class SubjectRow:
    name: str
    schema_type: str = ""
    version: int | None = None
    schema_id: int | None = None
    level: str = ""
    topic: str = ""  # the topic it names (topic-name strategy) when that topic exists
    part: str = ""  # "key" or "value"
    error: str = ""


@dataclass(frozen=True, slots=True)
class SubjectPage:
    rows: tuple[SubjectRow, ...]
    total: int
    page: int
    pages: int
    desc: bool
    global_level: str
    topics_known: bool
    elapsed_s: float = 0.0
    soft_deleted: tuple[str, ...] = ()  # subjects with only soft-deleted versions


def _row(client: RegistryClient, name: str, topics: set[str] | None) -> SubjectRow:
    named = topic_of(name)
    topic, part = named if named and topics and named[0] in topics else ("", "")
    try:
        latest = client.version(name, "latest")
        level = client.subject_level(name, default_to_global=True) or ""
    except RegistryError as exc:
        return SubjectRow(name=name, topic=topic, part=part, error=str(exc))
    return SubjectRow(
        name=name,
        schema_type=latest.schema_type,
        version=latest.version,
        schema_id=latest.id,
        level=level,
        topic=topic,
        part=part,
    )


def subject_list_for(
    *, cluster: Cluster, q: str = "", page: int = 1, desc: bool = False, deleted: bool = False
) -> SubjectPage:
    """One page of subjects matching `q` (substring, any case), by name, with each one's
    type, latest version and compatibility level read in parallel; a row that the
    registry does not answer in time carries the reason instead. `deleted`: also the
    subjects that only have soft-deleted versions (for admins, who may hard-delete them)."""
    started = time.monotonic()
    client = registry(cluster)
    names = sorted(client.subjects(), reverse=desc)
    live = set(names)
    soft: list[str] = []
    if deleted:
        with contextlib.suppress(RegistryError):
            soft = sorted(n for n in client.subjects(deleted=True) if n not in live)
    if q:
        needle = q.lower()
        names = [n for n in names if needle in n.lower()]
        soft = [n for n in soft if needle in n.lower()]
    pages = max(1, math.ceil(len(names) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    chosen = names[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    global_level = client.global_level()
    topics = _topic_names(cluster) if any(topic_of(n) for n in chosen) else set()
    rows: list[SubjectRow] = []
    if chosen:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(WORKERS, len(chosen)))
        futures = [pool.submit(_row, client, n, topics) for n in chosen]
        # The whole page waits at most one timeout more: slow rows say so, the page renders.
        concurrent.futures.wait(futures, timeout=TIMEOUT_S + 0.5)
        pool.shutdown(wait=False, cancel_futures=True)
        for name, fut in zip(chosen, futures, strict=True):
            if fut.done() and not fut.cancelled():
                rows.append(fut.result())
            else:
                rows.append(SubjectRow(name=name, error="the registry did not answer in time"))
    return SubjectPage(
        rows=tuple(rows),
        total=len(names),
        page=page,
        pages=pages,
        desc=desc,
        global_level=global_level,
        topics_known=topics is not None,
        elapsed_s=time.monotonic() - started,
        soft_deleted=tuple(soft),
    )


def pretty(schema: str, schema_type: str) -> str:
    """The schema as people read it: JSON indented by two, Protobuf as written."""
    if schema_type in ("AVRO", "JSON"):
        try:
            return json.dumps(json.loads(schema), indent=2, ensure_ascii=False)
        except ValueError:
            return schema
    return schema.strip("\n")


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "hunk", "add", "del", "same"
    old: int | None
    new: int | None
    text: str


def schema_diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """difflib's unified diff of two pretty-printed schemas, as rows with line numbers."""
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(
            DiffLine(
                "hunk",
                None,
                None,
                f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@",
            )
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [
                    DiffLine("same", i + 1, j + 1, a[i])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            if tag in ("replace", "delete"):
                out += [DiffLine("del", i + 1, None, a[i]) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                out += [DiffLine("add", None, j + 1, b[j]) for j in range(j1, j2)]
    return out


@dataclass(frozen=True, slots=True)
class SubjectDetail:
    name: str
    versions: tuple[int, ...]
    deleted_versions: tuple[int, ...]
    shown: SchemaVersion
    shown_pretty: str
    level: str
    subject_level: str | None
    global_level: str
    referenced_by: tuple[int, ...]
    topic: str = ""
    part: str = ""
    diff_from: int | None = None
    diff_to: int | None = None
    diff: tuple[DiffLine, ...] = ()
    diff_error: str = ""
    schemas: dict[int, SchemaVersion] = field(default_factory=dict, hash=False, compare=False)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def subject_detail_get(
    *,
    cluster: Cluster,
    subject: str,
    version: str | None = None,
    diff_from: str | None = None,
    diff_to: str | None = None,
) -> SubjectDetail:
    """A subject: its versions, one of them pretty-printed (the latest unless asked), its
    references and who references it, its compatibility level (own and global) and, when
    two versions are given, the diff between them."""
    client = registry(cluster)
    try:
        versions = client.versions(subject)
    except RegistryAnswer as exc:
        if exc.status == 404:
            raise Http404(f"The registry has no subject {subject!r}.") from None
        raise
    if not versions:
        raise Http404(f"The subject {subject!r} has no live version.")
    try:
        every = client.versions(subject, deleted=True)
    except RegistryError:
        every = versions
    chosen = _int(version)
    if chosen not in versions:
        chosen = versions[-1]
    shown = client.version(subject, chosen)
    effective = client.subject_level(subject, default_to_global=True) or ""
    own = client.subject_level(subject)
    global_level = client.global_level()
    if own is not None and own != effective:
        own = None  # Apicurio answers NONE for a subject without its own level
    try:
        referenced_by = tuple(client.referenced_by(subject, shown.version))
    except RegistryAnswer:
        referenced_by = ()
    named = topic_of(subject)
    topic = part = ""
    if named:
        names = _topic_names(cluster)
        if names and named[0] in names:
            topic, part = named
    a, b = _int(diff_from), _int(diff_to)
    if a is None and b is None and len(versions) > 1:
        a, b = versions[-2], versions[-1]  # by default: what the latest version changed
    diff: list[DiffLine] = []
    diff_error = ""
    if a is not None and b is not None:
        if a not in versions or b not in versions:
            diff_error = f"Choose two of the live versions ({', '.join(map(str, versions))})."
            a = b = None
        else:
            old = shown if a == shown.version else client.version(subject, a)
            new = shown if b == shown.version else client.version(subject, b)
            diff = schema_diff(
                pretty(old.schema, old.schema_type), pretty(new.schema, new.schema_type)
            )
    return SubjectDetail(
        name=subject,
        versions=tuple(versions),
        deleted_versions=tuple(v for v in every if v not in versions),
        shown=shown,
        shown_pretty=pretty(shown.schema, shown.schema_type),
        level=effective,
        subject_level=own,
        global_level=global_level,
        referenced_by=referenced_by,
        topic=topic,
        part=part,
        diff_from=a,
        diff_to=b,
        diff=tuple(diff),
        diff_error=diff_error,
    )


@dataclass(frozen=True, slots=True)
class TopicSubject:
    part: str
    subject: str
    version: int | None
    schema_type: str


def topic_subjects_for(*, cluster: Cluster, topic: str) -> list[TopicSubject]:
    """The topic's `<topic>-key` and `<topic>-value` subjects that exist."""
    client = registry(cluster)
    out = []
    for part in ("key", "value"):
        try:
            latest = client.version(f"{topic}-{part}", "latest")
        except RegistryAnswer as exc:
            if exc.status == 404:
                continue
            raise
        out.append(TopicSubject(part, latest.subject, latest.version, latest.schema_type))
    return out


@dataclass(frozen=True, slots=True)
class TopicUse:
    topic: str
    part: str  # "key" or "value"
    messages: int  # of the sampled messages, how many carry one of the subject's schema ids


@dataclass(frozen=True, slots=True)
class SubjectUsage:
    """Topics whose newest messages are framed with one of a subject's schema ids: how
    producers using the record-name strategies (or any) are found."""

    uses: tuple[TopicUse, ...]
    schema_ids: tuple[int, ...]
    checked: int
    total: int
    per_partition: int
    cut_short: bool
    elapsed_s: float
    error: str = ""


def subject_usage_for(
    *, cluster: Cluster, subject: str, per_partition: int = 5, budget_s: float = 5.0
) -> SubjectUsage:
    """The newest `per_partition` messages of each partition of the cluster's topics, read
    until `budget_s` runs out (topics whose names suggest the subject first), matched
    against the schema ids of the subject's versions. Only ids are read, never contents."""
    from console.kafka.cluster import cluster_snapshot
    from console.kafka.offsets import Watermarks, watermarks
    from console.kafka.topics import newest_sample
    from console.messages.decoding import schema_id_of

    started = time.monotonic()
    client = registry(cluster)
    versions = client.versions(subject)[-20:]
    ids = tuple(sorted({client.version(subject, v).id for v in versions}))
    wanted = set(ids)
    try:
        snapshot = cluster_snapshot(cluster)
        topics = [t for t in snapshot.topics if not t.internal and not t.error]
        marks = watermarks(cluster, [(t.name, p.id) for t in topics for p in t.partitions])
    except KafkaConsoleError as exc:
        return SubjectUsage((), ids, 0, 0, per_partition, False, 0.0, error=str(exc))
    named = topic_of(subject)
    short = subject.rsplit(".", 1)[-1].lower()

    def rank(name: str) -> tuple[int, str]:
        if named and named[0] == name:
            return 0, name
        if subject.startswith(name + "-") or short in name.lower():
            return 1, name
        return 2, name

    by_topic: dict[str, dict[int, Watermarks]] = {}
    for (name, pid), mark in marks.items():
        if isinstance(mark, Watermarks) and mark.high > mark.low:
            by_topic.setdefault(name, {})[pid] = mark
    order = sorted(by_topic, key=rank)
    uses: list[TopicUse] = []
    checked = 0
    cut = False
    for name in order:
        left = budget_s - (time.monotonic() - started)
        if left <= 0.2:
            cut = True
            break
        try:
            sample, short_cut = newest_sample(
                cluster, name, per_partition=per_partition, marks=by_topic[name], max_seconds=left
            )
        except KafkaConsoleError:
            continue
        checked += 1
        cut = cut or short_cut
        for part, field_of in (("key", lambda m: m.key), ("value", lambda m: m.value)):
            n = sum(1 for m in sample if schema_id_of(field_of(m)) in wanted)
            if n:
                uses.append(TopicUse(name, part, n))
    return SubjectUsage(
        uses=tuple(uses),
        schema_ids=ids,
        checked=checked,
        total=len(order),
        per_partition=per_partition,
        cut_short=cut or checked < len(order),
        elapsed_s=time.monotonic() - started,
    )
