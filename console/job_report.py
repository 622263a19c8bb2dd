"""A job as its page shows it: title, the way back, progress, the final step in words, and the
result as tables with links. Only what the job recorded is read (no Kafka call), and only
positions, counts and offsets are shown: a job's parameters may hold a produced message's
key and value, and those never reach the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import NoReverseMatch, reverse

from console.clusters import get_cluster
from console.models import AuditEntry, Job
from console.templatetags.console import human_rate, iso_utc

KIND_TITLES = {
    "produce.message": "Produce one message",
    "produce.generate": "Generate events",
    "group.reset": "Reset offsets",
    "cluster_probe": "Check the task worker",
}


# Job kinds whose report their feature app builds (registered when it is imported):
# console/ never imports from the apps above it.
REPORT_BUILDERS: dict[str, Callable[[Job, str], JobReport]] = {}


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    url: str = ""
    num: bool = False
    title: str = ""
    muted: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    caption: str
    head: tuple[tuple[str, bool], ...]  # (label, numeric)
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]  # (data-key, cells)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Fact:
    key: str  # machine name: data-fact
    label: str
    text: str
    raw: str = ""  # the exact value: data-value


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    status: str  # done, current, todo, ok, bad, cancelled


@dataclass
class JobReport:
    title: str
    subject: str = ""
    subject_url: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, url): where to go next
    outcome: str = ""  # the final step in words (or what it is doing now)
    progress: tuple[int, int] | None = None  # (value, max); None: indeterminate
    facts: list[Fact] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def _n(value) -> str:
    return intcomma(value) if isinstance(value, int) else str(value)


def _url(name: str, *args, query: dict | None = None) -> str:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:  # e.g. a topic name no URL can carry
        return ""
    return url + ("?" + urlencode(query) if query else "")


def _plural(n: int, word: str, many: str = "") -> str:
    return f"{_n(n)} {word if n == 1 else many or word + 's'}"


def job_report(job: Job) -> JobReport:
    """Everything the job page shows about `job`, in words and tables."""
    cluster = job.cluster if get_cluster(job.cluster) is not None else ""
    builder = {
        "produce.message": _produce_message,
        "produce.generate": _produce_generate,
        "group.reset": _group_reset,
        "cluster_probe": _cluster_probe,
    }.get(job.kind) or REPORT_BUILDERS.get(job.kind, _generic)
    report = builder(job, cluster)
    report.steps = _steps(job, report)
    if job.state == Job.State.QUEUED and not report.outcome:
        report.outcome = "waiting for a task worker to take it up."
    return report


def _steps(job: Job, report: JobReport) -> list[Step]:
    s = job.state
    final = {
        Job.State.SUCCEEDED: Step("Succeeded", "ok"),
        Job.State.FAILED: Step("Failed", "bad"),
        Job.State.CANCELLED: Step("Cancelled", "cancelled"),
    }.get(s, Step("Finished", "todo"))
    # A job cancelled while queued has no result: it never ran.
    started = s != Job.State.QUEUED and not (s == Job.State.CANCELLED and job.result is None)
    return [
        Step("Queued", "done"),
        Step("Running", "current" if s == Job.State.RUNNING else "done" if started else "todo"),
        final,
    ]


def _topic_links(cluster: str, topic: str) -> list[tuple[str, str]]:
    """Back to the topic (first: where the user came from), then what comes next."""
    if not cluster:
        return []
    return [
        (f"Topic {topic}", _url("topics:detail", cluster, topic)),
        ("Produce again", _url("topics:produce", cluster, topic)),
    ]


def _produce_message(job: Job, cluster: str) -> JobReport:
    topic = job.target
    r = JobReport(
        KIND_TITLES[job.kind],
        subject=topic,
        subject_url=_url("topics:detail", cluster, topic) if cluster else "",
        links=_topic_links(cluster, topic),
    )
    result = job.result if isinstance(job.result, dict) else {}
    if job.state == Job.State.SUCCEEDED and "offset" in result:
        p, o = result.get("partition"), result.get("offset")
        r.outcome = f"delivered to partition {p} at offset {_n(o)}."
        r.progress = (1, 1)
        browse = (
            _url(
                "topics:messages",
                cluster,
                topic,
                query={"mode": "offset", "partitions": p, "offset": o, "limit": 1},
            )
            if cluster
            else ""
        )
        when = result.get("timestamp_ms")
        r.tables.append(
            Table(
                "delivery",
                "Delivery report",
                (("Partition", True), ("Offset", True), ("Timestamp", False)),
                (
                    (
                        f"{p}:{o}",
                        (
                            Cell(str(p), num=True),
                            Cell(_n(o), browse, num=True, title="Open it in the message browser"),
                            Cell(iso_utc(when) if when is not None else "—", title=str(when)),
                        ),
                    ),
                ),
                note="The offset opens the message in the message browser.",
            )
        )
        if browse:
            r.links.insert(1, (f"Open the message at {p}:{o}", browse))
    elif job.state == Job.State.FAILED:
        r.outcome = "Kafka did not take the message; nothing was written."
    elif job.state == Job.State.CANCELLED:
        r.outcome = "before it was sent; nothing was written."
    elif job.state == Job.State.RUNNING:
        r.outcome = "sending the message and waiting for Kafka's delivery report."
    return r


def _produce_generate(job: Job, cluster: str) -> JobReport:
    topic = job.target
    p = job.progress or {}
    res = job.result if isinstance(job.result, dict) else {}
    total = int(p.get("total") or (job.params or {}).get("total") or 0)
    delivered = int(res.get("delivered", p.get("delivered", 0)) or 0)
    failed = int(res.get("failed", p.get("failed", 0)) or 0)
    r = JobReport(
        KIND_TITLES[job.kind],
        subject=topic,
        subject_url=_url("topics:detail", cluster, topic) if cluster else "",
        links=_topic_links(cluster, topic),
    )
    if total:
        r.progress = (min(delivered, total), total)
    not_sent = res.get("not_sent")
    if not_sent is None and job.finished and total:
        not_sent = max(0, total - delivered - failed)
    r.facts = [
        Fact("delivered", "Delivered", f"{_n(delivered)} of {_n(total)}", str(delivered)),
    ]
    if "sent" in p:
        r.facts.append(Fact("sent", "Sent", _n(int(p["sent"])), str(p["sent"])))
    r.facts.append(Fact("failed", "Failed", _n(failed), str(failed)))
    if job.finished and not_sent is not None:
        r.facts.append(Fact("not_sent", "Not sent", _n(int(not_sent)), str(not_sent)))
    rate = res.get("events_per_s", p.get("rate_per_s"))
    if rate is not None:
        r.facts.append(Fact("rate", "Rate", f"{human_rate(rate)} events/s", str(rate)))
    if res.get("resumed_from"):
        r.facts.append(
            Fact(
                "resumed_from",
                "Resumed",
                f"after {_n(res['resumed_from'])} (an earlier worker stopped)",
                str(res["resumed_from"]),
            )
        )
    per = res.get("per_partition") or {}
    if per:
        rows = []
        for part, n in sorted(per.items(), key=lambda kv: int(kv[0])):
            newest = (
                _url(
                    "topics:messages", cluster, topic, query={"mode": "newest", "partitions": part}
                )
                if cluster
                else ""
            )
            rows.append(
                (
                    str(part),
                    (
                        Cell(str(part), num=True),
                        Cell(_n(int(n)), num=True),
                        Cell("newest messages", newest) if newest else Cell("—", muted=True),
                    ),
                )
            )
        r.tables.append(
            Table(
                "per-partition",
                "Delivered per partition",
                (("Partition", True), ("Events", True), ("", False)),
                tuple(rows),
            )
        )
    errors = res.get("errors") or {}
    if errors:
        r.tables.append(
            Table(
                "errors",
                "Why events failed",
                (("Error", False), ("Events", True)),
                tuple(
                    (str(i), (Cell(str(e)), Cell(_n(int(n)), num=True)))
                    for i, (e, n) in enumerate(sorted(errors.items(), key=lambda kv: -kv[1]))
                ),
            )
        )
    if cluster:
        r.links.insert(1, (f"Messages of {topic}", _url("topics:messages", cluster, topic)))
    if job.state == Job.State.SUCCEEDED:
        r.outcome = (
            f"delivered {_plural(delivered, 'event')} to "
            f"{_plural(len(per), 'partition')} of {topic}."
        )
    elif job.state == Job.State.CANCELLED:
        if res:
            r.outcome = f"{_n(delivered)} delivered, {_n(int(not_sent or 0))} not sent."
        else:
            r.outcome = "before it started: nothing was sent."
    elif job.state == Job.State.FAILED:
        r.outcome = (
            f"{_n(delivered)} delivered, {_n(failed)} failed, {_n(int(not_sent or 0))} not sent."
        )
    elif job.state == Job.State.RUNNING:
        r.outcome = f"{_n(delivered)} of {_n(total)} delivered so far."
    return r


def _offsets(raw) -> dict[tuple[str, int], int | None]:
    out = {}
    for key, off in (raw or {}).items():
        topic, _, part = str(key).rpartition(":")
        try:
            out[(topic, int(part))] = off
        except ValueError:
            continue
    return out


def _group_reset(job: Job, cluster: str) -> JobReport:
    group = job.target
    params = job.params or {}
    res = job.result if isinstance(job.result, dict) else {}
    group_url = _url("groups:detail", cluster, group) if cluster else ""
    r = JobReport(KIND_TITLES[job.kind], subject=group, subject_url=group_url)
    if group_url:
        r.links.append((f"Group {group}", group_url))
        if isinstance(params.get("request"), dict):
            r.links.append(
                ("The reset form", _url("groups:reset", cluster, group, query=params["request"]))
            )
    before = _offsets(params.get("before"))
    planned = _offsets(params.get("offsets"))
    after = _offsets(res.get("offsets")) if job.state == Job.State.SUCCEEDED else {}
    done = job.state == Job.State.SUCCEEDED
    rows = []
    for tp in sorted(planned or after):
        new = after.get(tp, planned.get(tp)) if done else planned.get(tp)
        old = before.get(tp)
        moved = ""
        if isinstance(new, int) and isinstance(old, int):
            moved = f"{new - old:+,}" if new != old else "0"
        at = (
            _url(
                "topics:messages",
                cluster,
                tp[0],
                query={"mode": "offset", "partitions": tp[1], "offset": new, "limit": 50},
            )
            if cluster and isinstance(new, int)
            else ""
        )
        rows.append(
            (
                f"{tp[0]}:{tp[1]}",
                (
                    Cell(tp[0], _url("topics:detail", cluster, tp[0]) if cluster else ""),
                    Cell(str(tp[1]), num=True),
                    Cell("no commit", num=True, muted=True)
                    if old is None
                    else Cell(_n(old), num=True),
                    Cell(_n(new), at, num=True, title="The messages from here"),
                    Cell(moved, num=True),
                ),
            )
        )
    if rows:
        r.tables.append(
            Table(
                "offsets",
                "Committed offsets" if done else "Offsets to commit",
                (
                    ("Topic", False),
                    ("Partition", True),
                    ("Before", True),
                    ("After" if done else "Planned", True),
                    ("Moved", True),
                ),
                tuple(rows),
                note="An offset opens the messages the group reads next from there.",
            )
        )
    n = len(rows)
    r.facts.append(Fact("partitions", "Partitions", _n(n), str(n)))
    if params.get("undo_of"):
        r.facts.append(Fact("undo_of", "Undoes", f"the reset recorded as #{params['undo_of']}", ""))
    if done:
        r.progress = (1, 1)
        r.outcome = f"committed {_plural(n, 'offset')} for group {group}."
        entry = _audit_entry(job)
        if entry is not None and cluster:
            r.links.append(
                ("Undo this reset (preview)", _url("groups:undo", cluster, group, entry.id))
            )
    elif job.state == Job.State.FAILED:
        r.outcome = "nothing was committed."
    elif job.state == Job.State.CANCELLED:
        r.outcome = "before it ran: nothing was committed."
    elif job.state == Job.State.RUNNING:
        step = (job.progress or {}).get("step")
        r.outcome = f"{step}." if step else ""
    return r


def _audit_entry(job: Job) -> AuditEntry | None:
    """The audit entry of a reset job (found by its one-time confirmation id)."""
    token = (job.params or {}).get("confirmation")
    if not token:
        return None
    return AuditEntry.objects.filter(
        cluster=job.cluster,
        action="group.reset",
        target=job.target,
        outcome=AuditEntry.Outcome.OK,
        params__confirmation=token,
    ).first()


def _cluster_probe(job: Job, cluster: str) -> JobReport:
    url = _url("console:cluster", cluster) if cluster else ""
    r = JobReport(KIND_TITLES[job.kind])  # the heading names the cluster already
    if url:
        r.links.append((f"Cluster {job.cluster}", url))
    res = job.result if isinstance(job.result, dict) else {}
    brokers = [b for b in res.get("brokers") or [] if isinstance(b, dict)]
    if job.state == Job.State.SUCCEEDED:
        r.progress = (1, 1)
        r.outcome = (
            f"a task worker reached {job.cluster}: {_plural(len(brokers), 'broker')}, "
            f"{_plural(int(res.get('topics') or 0), 'topic')}."
        )
        r.facts = [
            Fact("topics", "Topics", _n(int(res.get("topics") or 0)), str(res.get("topics"))),
            Fact(
                "partitions",
                "Partitions",
                _n(int(res.get("partitions") or 0)),
                str(res.get("partitions")),
            ),
            Fact(
                "elapsed_s",
                "Answered in",
                f"{float(res.get('elapsed_s') or 0):.3f} s",
                str(res.get("elapsed_s")),
            ),
        ]
    elif job.state == Job.State.FAILED:
        r.outcome = "the task worker could not describe the cluster."
    elif job.state == Job.State.QUEUED:
        r.outcome = "waiting for a task worker; if this stays, none is running."
    if brokers:
        r.tables.append(
            Table(
                "brokers",
                "Brokers, as the worker sees them",
                (("Broker", True), ("Host", False), ("Port", True), ("Rack", False), ("", False)),
                tuple(
                    (
                        str(b.get("id")),
                        (
                            Cell(
                                str(b.get("id")),
                                _url("console:broker", cluster, b.get("id")) if cluster else "",
                                num=True,
                            ),
                            Cell(str(b.get("host", ""))),
                            Cell(str(b.get("port", "")), num=True),
                            Cell(b.get("rack") or "—", muted=not b.get("rack")),
                            Cell("controller" if b.get("is_controller") else ""),
                        ),
                    )
                    for b in brokers
                ),
            )
        )
    return r


def _plain(value) -> str:
    """A value of an unknown job's report as words: never a Python repr."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return _n(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "—"
    return "—" if value is None else str(value)


def _generic(job: Job, cluster: str) -> JobReport:
    url = _url("console:cluster", cluster) if cluster else ""
    r = JobReport(job.kind.replace("_", " ").replace(".", ": ").capitalize(), subject=job.target)
    if url:
        r.links.append((f"Cluster {job.cluster}", url))
    r.facts = [
        Fact(str(k), str(k).replace("_", " ").capitalize(), _plain(v), "")
        for k, v in (job.progress or {}).items()
    ]
    if isinstance(job.result, dict):
        r.facts += [
            Fact(str(k), str(k).replace("_", " ").capitalize(), _plain(v), "")
            for k, v in job.result.items()
        ]
    elif job.result is not None:
        r.facts.append(Fact("result", "Result", _plain(job.result), ""))
    if job.state == Job.State.SUCCEEDED:
        r.progress = (1, 1)
    return r
