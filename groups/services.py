"""Offset resets (plan, run, undo) and group deletion (plan, run): checked, refused on
read-only clusters, audited with the offsets before and after."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import InvalidRequest, KafkaConsoleError, NotFound
from console.kafka.groups import (
    GroupDescription,
    committed_offsets,
    group_delete,
    group_descriptions,
    offsets_alter,
)
from console.kafka.offsets import Watermarks, offsets_for_timestamp, watermarks

TARGETS = ("earliest", "latest", "timestamp", "offset", "shift", "copy")
Partition = tuple[str, int]


class ResetRefused(InvalidRequest):
    """The reset cannot run now; the message says why and what to do."""


class GroupChanged(InvalidRequest):
    """The group's committed offsets changed since the preview (of a delete or a reset)."""


@dataclass(frozen=True)
class ResetSpec:
    target: str
    topic: str = ""  # "" = every topic the group has offsets on
    partitions: frozenset[int] | None = None
    value: int | None = None  # offset, shift or timestamp (ms)
    source_group: str = ""  # for "copy"
    offsets: tuple[tuple[Partition, int], ...] = ()  # explicit (undo)


@dataclass(frozen=True, slots=True)
class ResetRow:
    topic: str
    partition: int
    current: int | None
    new: int
    low: int
    high: int
    clamped: bool
    note: str = ""

    @property
    def lag_before(self) -> int | None:
        return None if self.current is None else self.high - self.current

    @property
    def lag_after(self) -> int:
        return self.high - self.new


@dataclass(frozen=True, slots=True)
class ResetPlan:
    group_id: str
    spec: ResetSpec
    rows: list[ResetRow]
    skipped: list[str]
    active_members: int
    # The fingerprint (offsets_digest) of every offset the group had committed when the
    # plan was made: the confirmation carries it, so a change since is noticed.
    seen_offsets: str = ""

    @property
    def clamped(self) -> int:
        return sum(r.clamped for r in self.rows)

    @property
    def offsets(self) -> dict[str, int]:
        return {f"{r.topic}:{r.partition}": r.new for r in self.rows}

    @property
    def before(self) -> dict[str, int | None]:
        return {f"{r.topic}:{r.partition}": r.current for r in self.rows}


def refusal(description: GroupDescription | KafkaConsoleError) -> str:
    if isinstance(description, KafkaConsoleError):
        return str(description)
    if description.active:
        n = len(description.members)
        return (
            f"Group {description.group_id} has {n} active member{'s' if n != 1 else ''} "
            f"(state {description.state}); stop them first: Kafka refuses to move the "
            "offsets of a group whose consumers are running."
        )
    return ""


def refusal_for(cluster: Cluster, group_id: str) -> str:
    """Why a reset or delete cannot run now ('' when it can)."""
    return refusal(group_descriptions(cluster, [group_id])[group_id])


def reset_plan(*, cluster: Cluster, group_id: str, spec: ResetSpec) -> ResetPlan:
    """What a reset would do, partition by partition, before anything changes."""
    if spec.target not in TARGETS and not spec.offsets:  # "undo" carries explicit offsets
        raise InvalidRequest(f"Unknown target {spec.target!r}.")
    description = group_descriptions(cluster, [group_id])[group_id]
    committed = committed_offsets(cluster, [group_id])[group_id]
    if isinstance(committed, KafkaConsoleError):
        raise committed
    parts = _reset_partitions(cluster, group_id, spec, committed)
    marks = watermarks(cluster, parts)
    wanted, notes, skipped = _wanted_offsets(cluster, spec, parts, marks, committed)
    rows = []
    for tp in parts:
        mark = marks.get(tp)
        if not isinstance(mark, Watermarks):
            skipped.append(f"{tp[0]}[{tp[1]}]: {mark}")
        elif wanted.get(tp) is not None:
            rows.append(_reset_row(tp, wanted[tp], mark, committed.get(tp), notes.get(tp, "")))
    active = len(description.members) if isinstance(description, GroupDescription) else 0
    return ResetPlan(group_id, spec, rows, skipped, active, offsets_digest(committed))


def _reset_partitions(
    cluster: Cluster, group_id: str, spec: ResetSpec, committed: dict[Partition, int]
) -> list[Partition]:
    """The partitions a reset covers: explicit ones, a topic's (some or all), or the group's."""
    if spec.offsets:
        return [tp for tp, _ in spec.offsets]
    if spec.topic:
        try:  # asked for by name: a topic created a moment ago is found too
            (info,) = cluster_snapshot(cluster, topic=spec.topic).topics
        except NotFound:
            raise InvalidRequest(f"Topic {spec.topic} does not exist on {cluster.name}.") from None
        ids = [p.id for p in info.partitions]
        if spec.partitions is not None:
            missing = sorted(spec.partitions - set(ids))
            if missing:
                raise InvalidRequest(
                    f"{spec.topic} has {len(ids)} partitions (0-{len(ids) - 1}); "
                    f"there is no partition {missing[0]}."
                )
            ids = sorted(spec.partitions)
        return [(spec.topic, p) for p in ids]
    if not committed:
        raise InvalidRequest(
            f"Group {group_id} has no committed offsets yet: choose a topic to reset it on."
        )
    return sorted(committed)


def _wanted_offsets(
    cluster: Cluster,
    spec: ResetSpec,
    parts: list[Partition],
    marks: dict,
    committed: dict[Partition, int],
) -> tuple[dict[Partition, int | None], dict[Partition, str], list[str]]:
    """The offset the target asks for on each partition (before clamping), notes, skips."""
    known = [tp for tp in parts if isinstance(marks[tp], Watermarks)]
    notes: dict[Partition, str] = {}
    skipped: list[str] = []
    if spec.offsets:
        return dict(spec.offsets), notes, skipped
    if spec.target == "earliest":
        return {tp: marks[tp].low for tp in known}, notes, skipped
    if spec.target == "latest":
        return {tp: marks[tp].high for tp in known}, notes, skipped
    if spec.target == "offset":
        return dict.fromkeys(parts, spec.value), notes, skipped
    if spec.target == "timestamp":
        found = offsets_for_timestamp(cluster, parts, spec.value or 0)
        return {tp: o for tp, o in found.items() if isinstance(o, int)}, notes, skipped
    wanted: dict[Partition, int | None] = {}
    if spec.target == "shift":
        for tp in parts:
            base = committed.get(tp)
            if base is None and isinstance(marks[tp], Watermarks):
                base = marks[tp].low
                notes[tp] = "no commit: shifted from the log start"
            wanted[tp] = None if base is None else base + (spec.value or 0)
    elif spec.target == "copy":
        if not spec.source_group:
            raise InvalidRequest("Name the group to copy offsets from.")
        source = committed_offsets(cluster, [spec.source_group])[spec.source_group]
        if isinstance(source, KafkaConsoleError):
            raise source
        for tp in parts:
            if tp in source:
                wanted[tp] = source[tp]
            else:
                skipped.append(f"{tp[0]}[{tp[1]}]: {spec.source_group} has no commit there")
    return wanted, notes, skipped


def _reset_row(
    tp: Partition, wanted: int, mark: Watermarks, current: int | None, note: str
) -> ResetRow:
    """One partition's move, clamped into [log start, log end] with the reason said."""
    new = min(max(wanted, mark.low), mark.high)
    clamped = new != wanted
    if clamped:
        edge = "log start" if new == mark.low else "log end"
        note = f"asked {wanted}, clamped to the {edge}" + (f"; {note}" if note else "")
    return ResetRow(tp[0], tp[1], current, new, mark.low, mark.high, clamped, note)


def reset_confirm_problem(
    *, cluster: Cluster, group_id: str, offsets: dict[Partition, int], seen_offsets: str
) -> str:
    """Why a previewed reset (`offsets`, made when the group's committed offsets had the
    fingerprint `seen_offsets`) must not be applied now; '' when it may.

    Refused when the group committed other offsets since the preview (unless they are
    already the previewed ones: a retried task), and when a previewed offset left its
    partition's range (records deleted or expired below it, or the topic recreated):
    committing it would leave the choice to the consumer's auto.offset.reset, which may
    skip everything. Either way the caller shows a fresh preview instead."""
    committed = committed_offsets(cluster, [group_id])[group_id]
    if isinstance(committed, KafkaConsoleError):
        raise committed
    landed = all(committed.get(tp) == off for tp, off in offsets.items())
    if offsets_digest(committed) != seen_offsets and not landed:
        return (
            f"Group {group_id} committed other offsets since the preview (a consumer ran, "
            "or this reset was confirmed already). Nothing was changed: check the new "
            "preview and confirm it if it is still what you want."
        )
    if landed:
        return ""
    marks = watermarks(cluster, list(offsets))
    moved = []
    for tp, off in sorted(offsets.items()):
        mark = marks.get(tp)
        if not isinstance(mark, Watermarks):
            moved.append(f"{tp[0]}[{tp[1]}] cannot be read now ({mark})")
        elif not mark.low <= off <= mark.high:
            moved.append(
                f"{tp[0]}[{tp[1]}] now holds offsets {mark.low}–{mark.high}, "
                f"so the previewed {off} is gone"
            )
    if moved:
        return (
            "The partitions changed since the preview: "
            + "; ".join(moved[:5])
            + (f"; and {len(moved) - 5} more" if len(moved) > 5 else "")
            + " (records deleted or expired, or the topic recreated). Nothing was changed: "
            "check the new preview."
        )
    return ""


def group_offsets_reset(
    *, user, cluster: Cluster, group_id: str, offsets: dict[Partition, int], params: dict
) -> dict[str, int]:
    """Commit the planned offsets (operator). The same call twice lands the same offsets.
    With `params["seen_offsets"]` (a confirmed preview) it is refused, changing nothing,
    when the group or the partitions changed since that preview (reset_confirm_problem)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="group.reset",
        target=group_id,
        capability=Capability.OPERATE,
        params=params,
    ) as m:
        problem = refusal(group_descriptions(cluster, [group_id])[group_id])
        if problem:
            raise ResetRefused(problem)
        if params.get("seen_offsets") is not None:
            changed = reset_confirm_problem(
                cluster=cluster,
                group_id=group_id,
                offsets=offsets,
                seen_offsets=params["seen_offsets"],
            )
            if changed:
                raise GroupChanged(changed)
        committed = committed_offsets(cluster, [group_id])[group_id]
        if isinstance(committed, KafkaConsoleError):
            raise committed
        m.before = {f"{t}:{p}": committed.get((t, p)) for (t, p) in sorted(offsets)}
        stored = offsets_alter(cluster, group_id, offsets)
        m.after = {f"{t}:{p}": off for (t, p), off in sorted(stored.items())}
        return m.after


@dataclass(frozen=True, slots=True)
class GroupDeletePlan:
    group_id: str
    state: str
    members: int
    offsets: tuple[tuple[str, int, int], ...]  # (topic, partition, committed): lost with it
    refusal: str  # why it cannot be deleted now; '' when it can

    @property
    def topics(self) -> int:
        return len({t for t, _p, _o in self.offsets})

    @property
    def digest(self) -> str:
        return offsets_digest({(t, p): o for t, p, o in self.offsets})


def offsets_digest(committed: dict[Partition, int]) -> str:
    """A short fingerprint of a group's committed offsets: the delete confirmation carries
    the preview's, so offsets committed in between are noticed."""
    text = "\n".join(f"{t}\0{p}\0{o}" for (t, p), o in sorted(committed.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def group_delete_plan(*, cluster: Cluster, group_id: str) -> GroupDeletePlan:
    """What deleting a group loses (its committed offsets, per partition) and whether it can
    go now (refused while it has members). Changes nothing."""
    description = group_descriptions(cluster, [group_id])[group_id]
    committed = committed_offsets(cluster, [group_id])[group_id]
    if isinstance(committed, KafkaConsoleError):
        raise committed
    problem = refusal(description).replace("move the offsets of", "delete")
    state = description.state if isinstance(description, GroupDescription) else "Unknown"
    members = len(description.members) if isinstance(description, GroupDescription) else 0
    if not problem and not committed and state == "Dead":
        problem = f"Kafka knows no group {group_id}: it has no members and no committed offsets."
    offsets = tuple((t, p, o) for (t, p), o in sorted(committed.items()))
    return GroupDeletePlan(group_id, state, members, offsets, problem)


def consumer_group_delete(*, user, cluster: Cluster, group_id: str, seen_offsets: str) -> None:
    """Delete a group and its committed offsets (admin); refused while it has members, and
    when its offsets are not the ones the preview showed (`seen_offsets`, their digest)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="group.delete",
        target=group_id,
        capability=Capability.ADMIN,
        params={"seen_offsets": seen_offsets},
    ) as m:
        problem = refusal(group_descriptions(cluster, [group_id])[group_id])
        if problem:
            raise ResetRefused(problem.replace("move the offsets of", "delete"))
        committed = committed_offsets(cluster, [group_id])[group_id]
        if isinstance(committed, KafkaConsoleError):
            raise committed
        if offsets_digest(committed) != seen_offsets:
            raise GroupChanged(
                f"Group {group_id} committed other offsets since the preview: check the new "
                "preview below."
            )
        m.before = {f"{t}:{p}": off for (t, p), off in sorted(committed.items())}
        group_delete(cluster, group_id)


def parse_offsets(raw: dict[str, int | None]) -> dict[Partition, int]:
    """{"topic:3": 10} -> {("topic", 3): 10} (entries with None are left out)."""
    out = {}
    for key, off in raw.items():
        topic, _, p = key.rpartition(":")
        if off is not None:
            out[(topic, int(p))] = int(off)
    return out
