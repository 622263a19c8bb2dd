"""The audit log as its page shows it: filters, and each entry's parameters as readable
key/value pairs, its target as a link, its outcome in a word and a colour."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import NoReverseMatch, reverse

from console.clusters import all_clusters
from console.models import AuditEntry
from console.templatetags.console import human_bytes

ACTIONS = {
    "produce.request": "queue a produce job",
    "produce.message": "produce one message",
    "produce.generate": "generate events",
    "group.reset": "reset offsets",
    "group.delete": "delete group",
    "topic.create": "create topic",
    "topic.config": "change config",
    "topic.delete": "delete topic",
    "topic.partitions": "add partitions",
    "topic.purge": "purge records",
    "schema.register": "register schema version",
    "schema.compatibility": "change compatibility level",
    "schema.delete_version": "delete schema version",
    "schema.delete_subject": "delete schema subject",
    "login": "log in",
    "login.failed": "failed log-in",
    "login.role": "role from provider",
    "logout": "log out",
}
# What each outcome is called on the page, and its colour (a console.css pill class).
OUTCOMES = {
    AuditEntry.Outcome.OK: ("ok", "ok"),
    AuditEntry.Outcome.DENIED: ("refused", "warn"),
    AuditEntry.Outcome.ERROR: ("error", "bad"),
    AuditEntry.Outcome.QUEUED: ("queued", "info"),
}
PARAM_LABELS = {
    "seen_offsets": "preview fingerprint",
    "undo_of": "undoes entry",
    "request": "chosen",
    "confirmation": "confirmation id",
    "rate_per_s": "rate (events/s)",
    "bytes": "value size",
}
# Parameters the before → after table shows instead (offset resets).
IN_TABLE = {"offsets", "before"}
SIZES = {"bytes"}  # parameters that are a size in bytes
SHOWN_ITEMS = 8  # a long list or mapping shows this many, then "and N more"


@dataclass(frozen=True, slots=True)
class Move:
    topic: str
    partition: int
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class AuditRow:
    entry: AuditEntry
    action: str  # in words
    target_url: str
    params: tuple[tuple[str, str], ...]
    outcome: str
    outcome_class: str
    moves: tuple[Move, ...]  # offset resets: before -> after per partition
    more_moves: int


def audit_filter(entries: QuerySet, data: dict) -> QuerySet:
    """`entries` narrowed by the cleaned filters (cluster, action, username, outcome, q)."""
    for name in ("cluster", "action", "outcome"):
        if data.get(name):
            entries = entries.filter(**{name: data[name]})
    if data.get("username"):
        entries = entries.filter(username__iexact=data["username"].strip())
    q = (data.get("q") or "").strip()
    if q:
        entries = entries.annotate(params_text=Cast("params", TextField())).filter(
            Q(target__icontains=q)
            | Q(detail__icontains=q)
            | Q(params_text__icontains=q)
            | Q(action__icontains=q)
        )
    return entries


def audit_choices() -> dict:
    """Choices for the filters: configured clusters and actions seen, with labels."""
    clusters = {c.name for c in all_clusters()}
    clusters |= set(AuditEntry.objects.values_list("cluster", flat=True).distinct()[:200])
    actions = set(ACTIONS) | set(
        AuditEntry.objects.values_list("action", flat=True).distinct()[:200]
    )
    return {
        "clusters": [(c, c) for c in sorted(clusters) if c],
        "actions": [(a, f"{ACTIONS[a]} ({a})" if a in ACTIONS else a) for a in sorted(actions)],
        "outcomes": [(v, OUTCOMES[v][0]) for v, _ in AuditEntry.Outcome.choices],
    }


def page_query(data: dict, page: int | None = None) -> str:
    """The filters (and a page) as a query string: pagers keep the filters."""
    pairs = {k: v for k, v in data.items() if v not in ("", None) and k != "page"}
    if page and page > 1:
        pairs["page"] = page
    return "?" + urlencode(pairs) if pairs else "?"


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _target_url(e: AuditEntry, configured: set[str]) -> str:
    if e.cluster not in configured or not e.target or e.target.startswith("/"):
        return ""
    gone = e.action.endswith(".delete") and e.outcome == AuditEntry.Outcome.OK
    if gone:
        return ""
    if e.action.startswith(("topic.", "produce.")):
        return _url("topics:detail", e.cluster, e.target)
    if e.action.startswith("group."):
        return _url("groups:detail", e.cluster, e.target)
    if e.action.startswith("schema.") and e.target != "(global)":
        if e.action == "schema.delete_subject" and e.outcome == AuditEntry.Outcome.OK:
            return ""
        return _url("schemas:detail", e.cluster, e.target)
    return ""


def plain(value) -> str:
    """A parameter's value in words: lists joined, mappings as k = v; never a repr."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return intcomma(value)
    if isinstance(value, dict):
        items = [
            f"{str(k).replace('_', ' ')} = {plain(v)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))[:SHOWN_ITEMS]
        ]
        more = len(value) - SHOWN_ITEMS
        return ", ".join(items) + (f" and {more} more" if more > 0 else "") or "—"
    if isinstance(value, list | tuple):
        items = [plain(v) for v in list(value)[:SHOWN_ITEMS]]
        more = len(value) - SHOWN_ITEMS
        return ", ".join(items) + (f" and {more} more" if more > 0 else "") or "none"
    return str(value) if str(value) else "(empty)"


def _label(key: str) -> str:
    return PARAM_LABELS.get(key, key.replace("_", " "))


def _moves(e: AuditEntry) -> tuple[list[Move], int]:
    if e.action != "group.reset":
        return [], 0
    before = e.before if isinstance(e.before, dict) else {}
    after = e.after if isinstance(e.after, dict) else {}
    if not after and isinstance(e.params.get("offsets"), dict):
        after = e.params["offsets"]
    if not before and isinstance(e.params.get("before"), dict):
        before = e.params["before"]
    keys = sorted(set(before) | set(after))
    moves = []
    for key in keys[: SHOWN_ITEMS * 2]:
        topic, _, p = str(key).rpartition(":")
        moves.append(
            Move(
                topic,
                int(p) if p.isdigit() else 0,
                "no commit" if before.get(key) is None else intcomma(before[key]),
                "—" if after.get(key) is None else intcomma(after[key]),
            )
        )
    return moves, max(0, len(keys) - len(moves))


def audit_rows(entries) -> list[AuditRow]:
    """The page's rows for `entries` (one page of them)."""
    configured = {c.name for c in all_clusters()}
    rows = []
    for e in entries:
        params = e.params if isinstance(e.params, dict) else {"value": e.params}
        moves, more = _moves(e)
        shown = tuple(
            (_label(str(k)), human_bytes(v) if k in SIZES else plain(v))
            # Sorted: PostgreSQL's jsonb does not keep the writer's key order, so a page
            # must not depend on it (SQLite keeps it, jsonb orders by key length).
            for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))
            if not (moves and k in IN_TABLE)
        )
        label, css = OUTCOMES.get(e.outcome, (e.outcome, ""))
        rows.append(
            AuditRow(
                entry=e,
                action=ACTIONS.get(e.action, ""),
                target_url=_target_url(e, configured),
                params=shown,
                outcome=label,
                outcome_class=css,
                moves=tuple(moves),
                more_moves=more,
            )
        )
    return rows
