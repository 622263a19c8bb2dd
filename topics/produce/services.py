"""Producing test events: one message or a generated stream, checked, audited, as tasks."""

from __future__ import annotations

import json
import random

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.generators import events
from console.jobs import job_progress
from console.kafka import produce as kafka_produce
from console.messages.schema_registry import writer_for


def message_produce(
    *,
    user,
    cluster: Cluster,
    topic: str,
    key: bytes | None,
    value: bytes,
    headers: list[tuple[str, bytes]],
    partition: int | None,
    compression: str,
) -> dict:
    """Produce one message (operator); returns its delivery report."""
    params = {
        "partition": partition,
        "key": (key or b"")[:200].decode(errors="replace"),
        "bytes": len(value),
        "headers": [n for n, _ in headers],
        "compression": compression,
    }
    with mutation(
        user=user,
        cluster=cluster,
        action="produce.message",
        target=topic,
        capability=Capability.OPERATE,
        params=params,
    ) as m:
        d = kafka_produce.produce_one(
            cluster,
            topic=topic,
            key=key,
            value=value,
            headers=headers,
            partition=partition,
            compression=compression,
        )
        report = {"partition": d.partition, "offset": d.offset, "timestamp_ms": d.timestamp_ms}
        m.after = report
        return report


def events_generate(
    *, user, cluster: Cluster, topic: str, job_id, params: dict, start: int = 0
) -> dict:
    """Produce a generated stream (operator), reporting progress to the job; resumable from
    `start` (the delivered count recorded by an interrupted run)."""
    total = params["total"]
    audit = {k: params.get(k) for k in ("template", "total", "rate", "seconds")}
    if params.get("schema"):
        audit["schema"] = f"{params['schema']['subject']} (id {params['schema']['id']})"
    with mutation(
        user=user,
        cluster=cluster,
        action="produce.generate",
        target=topic,
        capability=Capability.OPERATE,
        params=audit,
    ) as m:
        done_before = start

        def progress(r: kafka_produce.StreamReport) -> bool:
            return job_progress(
                job_id,
                sent=done_before + r.sent,
                delivered=done_before + r.delivered,
                failed=r.failed,
                rate_per_s=round(r.rate),
                total=total,
            )

        stream = events(
            template=params["template"],
            key_template=params.get("key_template", ""),
            value_template=params.get("value_template", ""),
            seed=params["seed"],
            start=start,
            count=total,
        )
        if params.get("schema"):
            stream = _encoded(params["schema"], stream)
        report = kafka_produce.produce_stream(
            cluster,
            topic=topic,
            events=stream,
            rate=params.get("rate") if params.get("seconds") else None,
            progress=progress,
        )
        result = {
            "delivered": done_before + report.delivered,
            "failed": report.failed,
            "cancelled": report.cancelled,
            "per_partition": {str(p): n for p, n in sorted(report.per_partition.items())},
            "errors": report.errors,
            "events_per_s": round(report.rate),
            "resumed_from": start,
            "stopped_on_failure": report.stopped_on_failure,
            "not_sent": max(0, total - done_before - report.sent),
        }
        m.after = result
        m.params["partitions"] = sorted(report.per_partition)
        m.params["delivered"] = result["delivered"]
        if report.failed:
            m.outcome = "error"
            m.detail = "; ".join(f"{n} × {e}" for e, n in report.errors.items())
        return result


def _encoded(pinned: dict, stream):
    """The events with each value (JSON) written under the schema chosen on the form
    (pinned there: the run encodes with that version, needing no registry of its own). A
    value that does not fit ends the run with the reason."""
    write = writer_for(pinned)
    for key, value, headers in stream:
        yield key, write(json.loads(value)), headers


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)
