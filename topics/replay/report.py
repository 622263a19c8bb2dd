"""The job page of a copy, redrive or import: progress, the final step in words, and tables
(delivered per target partition, records not sent and why). Counts and positions only."""

from __future__ import annotations

from console.job_report import (
    REPORT_BUILDERS,
    Cell,
    Fact,
    JobReport,
    Table,
    _n,
    _plural,
    _url,
)
from console.models import Job
from console.templatetags.console import human_rate

TITLES = {
    "replay.copy": "Copy records",
    "replay.redrive": "Redrive a dead-letter topic",
    "replay.import": "Import a file",
}


def replay_report(job: Job, cluster: str) -> JobReport:
    params = job.params or {}
    progress = job.progress or {}
    res = job.result if isinstance(job.result, dict) else {}
    source = params.get("source_topic") or ""
    subject = source if job.kind == "replay.redrive" else job.target
    r = JobReport(
        TITLES.get(job.kind, "Replay"),
        subject=subject,
        subject_url=_url("topics:detail", cluster, subject) if cluster else "",
    )
    if cluster and source:
        r.links.append((f"Topic {source}", _url("topics:detail", cluster, source)))
        r.links.append(("Replay again", _url("topics:replay", cluster, source)))
    target_cluster = params.get("target_cluster") or cluster
    if job.kind != "replay.redrive" and target_cluster:
        r.links.append(
            (
                f"Messages of {job.target}",
                _url("topics:messages", target_cluster, job.target),
            )
        )
    total = int(params.get("expected") or progress.get("total") or 0)
    delivered = int(res.get("delivered", progress.get("delivered", 0)) or 0)
    failed = int(res.get("failed", progress.get("failed", 0)) or 0)
    unrouted_list = res.get("unrouted_list", progress.get("unrouted")) or []
    unrouted = int(res.get("unrouted", len(unrouted_list)) or 0)
    if job.state == Job.State.SUCCEEDED:
        r.progress = (1, 1)
    elif total:
        r.progress = (min(delivered + unrouted, total), total)
    if job.finished and not params.get("expected_exact", True):
        total = delivered + unrouted  # the preview only bounded it
    r.facts = [
        Fact("delivered", "Delivered", f"{_n(delivered)} of {_n(total)}", str(delivered)),
        Fact(
            "sent",
            "Sent",
            _n(int(progress.get("sent", res.get("sent", 0)) or 0)),
            str(progress.get("sent", 0)),
        ),
        Fact("failed", "Failed", _n(failed), str(failed)),
        Fact("unrouted", "Not sent (no destination)", _n(unrouted), str(unrouted)),
    ]
    if job.finished and "not_sent" in res:
        r.facts.append(Fact("not_sent", "Not sent", _n(int(res["not_sent"])), str(res["not_sent"])))
    rate = res.get("rate_per_s", progress.get("rate_per_s"))
    if rate is not None:
        r.facts.append(Fact("rate", "Rate", f"{human_rate(rate)} records/s", str(rate)))
    if res.get("resumed"):
        r.facts.append(
            Fact(
                "resumed",
                "Resumed",
                f"from its last checkpoint; {_n(int(res.get('skipped_resent', 0)))} found "
                "already delivered, not sent again",
                str(res.get("skipped_resent", 0)),
            )
        )
    per = res.get("per_target") or ((progress.get("checkpoint") or {}).get("per_target")) or {}
    if per:
        rows = []
        for key, n in sorted(
            per.items(), key=lambda kv: (kv[0].rpartition(":")[0], int(kv[0].rpartition(":")[2]))
        ):
            topic, _, part = key.rpartition(":")
            url = (
                _url(
                    "topics:messages",
                    target_cluster,
                    topic,
                    query={"mode": "newest", "partitions": part},
                )
                if target_cluster
                else ""
            )
            rows.append((key, (Cell(topic, url), Cell(part, num=True), Cell(_n(int(n)), num=True))))
        r.tables.append(
            Table(
                "per-partition",
                "Delivered per target partition",
                (("Topic", False), ("Partition", True), ("Records", True)),
                tuple(rows),
            )
        )
    if unrouted_list:
        r.tables.append(
            Table(
                "unrouted",
                "Records not sent",
                (("Partition", True), ("Offset", True), ("Why", False)),
                tuple(
                    (
                        f"{u.get('partition')}:{u.get('offset')}",
                        (
                            Cell(str(u.get("partition")), num=True),
                            Cell(
                                _n(u.get("offset")),
                                _url(
                                    "topics:messages",
                                    cluster,
                                    source,
                                    query={
                                        "mode": "offset",
                                        "partitions": u.get("partition"),
                                        "offset": u.get("offset"),
                                        "limit": 1,
                                    },
                                )
                                if cluster and source
                                else "",
                                num=True,
                            ),
                            Cell(str(u.get("why", ""))),
                        ),
                    )
                    for u in unrouted_list
                ),
                note="An offset opens the record in the message browser."
                if job.kind != "replay.import"
                else "Offsets are line positions in the file (from 0).",
            )
        )
    errors = res.get("errors") or {}
    if errors:
        r.tables.append(
            Table(
                "errors",
                "Why records failed",
                (("Error", False), ("Records", True)),
                tuple(
                    (str(i), (Cell(str(e)), Cell(_n(int(n)), num=True)))
                    for i, (e, n) in enumerate(sorted(errors.items(), key=lambda kv: -kv[1]))
                ),
            )
        )
    not_sent = int(res.get("not_sent", 0) or 0)
    if job.state == Job.State.SUCCEEDED:
        r.outcome = (
            f"delivered {_plural(delivered, 'record')} to "
            f"{_plural(len(per), 'partition')}"
            + (
                f"; {_plural(unrouted, 'record')} had no destination: not sent."
                if unrouted
                else "."
            )
        )
    elif job.state == Job.State.CANCELLED:
        r.outcome = (
            f"{_n(delivered)} delivered, {_n(not_sent)} not sent." if res else "nothing was sent."
        )
    elif job.state == Job.State.FAILED:
        r.outcome = f"{_n(delivered)} delivered, {_n(max(not_sent, total - delivered))} not sent."
    elif job.state == Job.State.RUNNING:
        r.outcome = f"{_n(delivered)} of {_n(total)} delivered so far."
    return r


for _kind in TITLES:
    REPORT_BUILDERS[_kind] = replay_report
