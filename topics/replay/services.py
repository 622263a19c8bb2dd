"""Messages as an ops tool: re-produce one, copy a range, redrive a dead-letter topic, import.

Every bulk operation is one Job running `records_copy` (a Celery task wraps it): a
deterministic sequence of source records, each routed to a target partition, sent by an
idempotent producer, its position checkpointed in the Job so a redelivered task resumes
without sending anything twice (console/kafka/replay.py explains how).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

from django.conf import settings

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster, get_cluster
from console.jobs import job_progress
from console.kafka import replay as kreplay
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import NotFound
from console.kafka.offsets import offsets_for_timestamp, watermarks
from console.kafka.produce import partition_for
from console.kafka.types import Message

DLQ_HEADERS = ("kafka_dlt-original-topic", "x-original-topic")
MAX_UNROUTED_LISTED = 200


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


# --- what a copy reads --------------------------------------------------------------------


def partition_count(cluster: Cluster, topic: str) -> int:
    """Partitions of `topic`; NotFound when it does not exist."""
    snap = cluster_snapshot(cluster, topic=topic)
    count = snap.topics[0].partition_count if snap.topics else 0
    if not count:
        raise NotFound(f"Topic {topic!r} does not exist on {cluster.name}.")
    return count


def ranges_for(
    cluster: Cluster,
    topic: str,
    *,
    partitions: list[int] | None,
    start: int | None,
    end: int | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> dict[int, tuple[int, int]]:
    """Offset range per partition: [max(start, low), min(end, high)), high as of now, and
    within [start_ms, end_ms) by timestamp (the first offset at or after each time)."""
    n = partition_count(cluster, topic)
    wanted = [p for p in (partitions or range(n)) if 0 <= p < n]
    tps = [(topic, p) for p in wanted]
    marks = watermarks(cluster, tps, max_age=-1)
    since = offsets_for_timestamp(cluster, tps, start_ms) if start_ms is not None else {}
    until = offsets_for_timestamp(cluster, tps, end_ms) if end_ms is not None else {}
    out = {}
    for (_t, p), wm in marks.items():
        for found in (wm, since.get((topic, p), 0), until.get((topic, p), 0)):
            if isinstance(found, Exception):
                raise found
        lo = wm.low if start is None else max(start, wm.low)
        hi = wm.high if end is None else min(end, wm.high)
        if start_ms is not None:
            lo = max(lo, since[(topic, p)])
        if end_ms is not None:
            hi = min(hi, until[(topic, p)])
        out[p] = (lo, max(lo, hi))
    return out


def _ranges(params: dict) -> dict[int, tuple[int, int]]:
    return {int(p): (int(a), int(b)) for p, (a, b) in params["ranges"].items()}


def _records(cluster: Cluster, params: dict, positions: dict[int, int]) -> Iterator[kreplay.Rec]:
    """The job's source records from `positions` on (Kafka ranges, or an imported file)."""
    if params["mode"] == "import":
        start = positions.get(0, 0)
        for i, r in enumerate(params["records"][start:], start):
            headers = [(n, unb64(v)) for n, v in r.get("h") or []]
            yield (0, i, unb64(r.get("k")), unb64(r.get("v")), headers or None, r.get("ts"))
        return
    ranges = {p: (max(a, positions.get(p, a)), b) for p, (a, b) in _ranges(params).items()}
    records = kreplay.read_ranges(cluster, params["source_topic"], ranges)
    if not params.get("search"):
        yield from records
        return
    # Only a search's matches: the same filter the message browser applies.
    flt = search_filter(cluster, params["source_topic"], params["search"])
    topic = params["source_topic"]
    for rec in records:
        msg = Message(topic, rec[0], rec[1], rec[5], "create", rec[2], rec[3], tuple(rec[4] or ()))
        if flt.matches(msg):
            yield rec


def search_filter(cluster: Cluster, topic: str, query: str):
    """The message browser's filter for `query` (its URL parameters); ValueError with the
    reason when they are not a valid search."""
    from django.http import QueryDict

    from topics.browse.forms import BrowseForm

    form = BrowseForm(QueryDict(query), partition_count=partition_count(cluster, topic))
    if not form.is_valid():
        raise ValueError(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()) or "invalid search"
        )
    if not form.searching:
        raise ValueError("the parameters hold no search")
    return form.message_filter()


# --- where each record goes ---------------------------------------------------------------


def _header(headers, names: tuple[str, ...]) -> str | None:
    for n, v in headers or ():
        if n in names and v is not None:
            try:
                return v.decode()
            except UnicodeDecodeError:
                return None
    return None


class Router:
    """Target (topic, partition) of each record, or None with the reason kept. A job leaves
    key routing to the producer (BY_KEY); a preview computes the partition (murmur2)."""

    def __init__(self, target: Cluster, params: dict, *, preview: bool = False) -> None:
        self.mode = params["mode"]
        self.keep_partition = bool(params.get("keep_partition"))
        self.header_names = tuple(params.get("header_names") or DLQ_HEADERS)
        self.preview = preview
        self.why: dict[tuple[int, int], str] = {}
        if self.mode == "redrive":
            self.partitions = dict(params.get("destinations") or {})
            self.keep_partition = False
        else:
            self.only = params["target_topic"]
            self.n = int(params["target_partitions"])
            self.partitions = {self.only: self.n}
            # An imported record keeps the partition its line names.
            self.import_parts = (
                [r.get("p") for r in params["records"]] if self.mode == "import" else None
            )

    def by_key(self, topic: str, key: bytes | None) -> int:
        if not self.preview:
            return kreplay.BY_KEY
        return kreplay.BY_KEY if key is None else partition_for(key, self.partitions[topic])

    def fast(self):
        """The route itself, as a closure, for the common plain copy (per record, so cheap)."""
        if self.mode == "copy" and not self.preview:
            only = self.only
            if not self.keep_partition:
                target = (only, kreplay.BY_KEY)
                return lambda _rec: target
            n = self.n
            return lambda rec: (only, rec[0]) if rec[0] < n else self(rec)
        return self

    def __call__(self, rec: kreplay.Rec) -> kreplay.Target | None:
        sp, off, key, _v, headers, _ts = rec
        if self.mode == "redrive":
            topic = _header(headers, self.header_names)
            if topic is None:
                self.why[(sp, off)] = "no original-topic header"
                return None
            if topic not in self.partitions:
                self.why[(sp, off)] = f"unknown topic {topic[:200]!r}"
                return None
            return topic, self.by_key(topic, key)
        if not self.keep_partition:
            return self.only, self.by_key(self.only, key)
        p = self.import_parts[off] if self.import_parts is not None else sp
        if p is None:
            return self.only, self.by_key(self.only, key)
        if p >= self.n:
            self.why[(sp, off)] = f"partition {p} does not exist in the target"
            return None
        return self.only, p


def destinations_check(target: Cluster, names: set[str]) -> tuple[dict[str, int], dict[str, str]]:
    """The destination topics that exist (name -> partitions) and why the others are refused."""
    ok: dict[str, int] = {}
    bad: dict[str, str] = {}
    for name in sorted(names):
        try:
            ok[name] = partition_count(target, name)
        except NotFound:
            bad[name] = "topic does not exist"
        except Exception as exc:  # noqa: BLE001 - a name Kafka refuses is reported, not raised
            bad[name] = str(exc)[:200]
    return ok, bad


def plan(source: Cluster, target: Cluster, params: dict, *, bound_s: float = 10.0) -> dict:
    """The dry run: how many records go to each target partition (and which go nowhere),
    reading what will be sent (bounded by `bound_s`); nothing is sent."""
    params = dict(params)
    if params["mode"] == "redrive":
        # First pass: the destinations named in the headers (existing topics only).
        names: set[str] = set()
        hn = tuple(params.get("header_names") or DLQ_HEADERS)
        deadline = time.monotonic() + bound_s
        for rec in _records(source, params, {}):
            t = _header(rec[4], hn)
            if t is not None:
                names.add(t)
            if time.monotonic() > deadline:
                break
        ok, bad = destinations_check(target, names)
        params["destinations"] = ok
    else:
        bad = {}
    router = Router(target, params, preview=True)
    per_target: dict[str, int] = {}
    unrouted: list[dict] = []
    total = 0
    complete = True
    deadline = time.monotonic() + bound_s
    for rec in _records(source, params, {}):
        t = router(rec)
        total += 1
        if t is None:
            if len(unrouted) < MAX_UNROUTED_LISTED:
                unrouted.append(
                    {"partition": rec[0], "offset": rec[1], "why": router.why[(rec[0], rec[1])]}
                )
            router.why.clear()
            continue
        k = f"{t[0]}:{t[1]}"
        per_target[k] = per_target.get(k, 0) + 1
        if time.monotonic() > deadline:
            complete = False
            break
    return {
        "total": total,
        "to_send": sum(per_target.values()),
        "per_target": dict(sorted(per_target.items(), key=_tp_order)),
        "rows": [
            (k.rpartition(":")[0], int(k.rpartition(":")[2]), n)
            for k, n in sorted(per_target.items(), key=_tp_order)
        ],  # partition -1: null keys, spread by the producer
        "unrouted": unrouted,
        "unrouted_count": total - sum(per_target.values()),
        "unknown_topics": bad,
        "destinations": params.get("destinations") or {},
        "complete": complete,
    }


def _tp_order(kv):
    t, _, p = kv[0].rpartition(":")
    return (t, int(p))


# --- the job ---------------------------------------------------------------------------


def records_copy(*, user, job_id, cluster: Cluster, params: dict, progress: dict) -> dict:
    """Run a copy, redrive or import job (operator; both clusters must allow writes),
    resuming from the checkpoint in `progress` when an earlier run was interrupted."""
    target = get_cluster(params.get("target_cluster") or cluster.name)
    if target is None:
        raise NotFound(f"No cluster named {params.get('target_cluster')!r} is configured.")
    audit = {
        k: params.get(k)
        for k in (
            "mode",
            "source_topic",
            "target_cluster",
            "target_topic",
            "keep_partition",
            "keep_timestamps",
            "marker_header",
            "expected",
        )
    }
    audit["ranges"] = {str(p): list(r) for p, r in (params.get("ranges") or {}).items()}
    with mutation(
        user=user,
        cluster=target,
        action=f"replay.{params['mode']}",
        target=params.get("target_topic") or params.get("source_topic") or "",
        capability=Capability.OPERATE,
        params=audit,
    ) as m:
        ck = progress.get("checkpoint")
        report = kreplay.CopyReport.from_dict(ck) if ck else kreplay.CopyReport()
        resumed = ck is not None
        if not resumed:
            topics = (
                list((params.get("destinations") or {}).keys())
                if params["mode"] == "redrive"
                else [params["target_topic"]]
            )
            report.target_next = kreplay.target_ends(target, topics)
            job_progress(job_id, checkpoint=report.as_dict(), total=params.get("expected", 0))
        resume_from = dict(report.target_next) if resumed else None
        router = Router(target, params)
        unrouted: list[dict] = list(progress.get("unrouted") or [])
        total = int(params.get("expected") or 0)

        def note_unrouted(rec) -> None:
            if len(unrouted) < MAX_UNROUTED_LISTED:
                unrouted.append(
                    {
                        "partition": rec[0],
                        "offset": rec[1],
                        "why": router.why.get((rec[0], rec[1]), ""),
                    }
                )
            router.why.clear()

        def checkpoint(r: kreplay.CopyReport) -> bool:
            return job_progress(
                job_id,
                checkpoint=r.as_dict(),
                sent=r.sent,
                delivered=r.delivered,
                failed=r.failed,
                rate_per_s=round(r.rate),
                total=total,
                unrouted=unrouted,
            )

        marker = params.get("marker_header")
        extra = [(marker, (params.get("marker_value") or "").encode())] if marker else None
        kreplay.copy_records(
            target,
            _records(cluster, params, report.positions),
            router.fast(),
            report=report,
            keep_timestamps=bool(params.get("keep_timestamps")),
            extra_headers=extra,
            checkpoint=checkpoint,
            checkpoint_every_s=float(
                params.get("checkpoint_s") or settings.CONSOLE_REPLAY_CHECKPOINT_S
            ),
            resume_from=resume_from,
            on_unrouted=note_unrouted,
        )
        result = report.as_dict()
        result.pop("positions", None)
        result.pop("target_next", None)
        result["resumed"] = resumed
        result["unrouted_list"] = unrouted
        finished = not (report.cancelled or report.stopped_on_failure)
        result["not_sent"] = 0 if finished else max(0, total - report.delivered - report.unrouted)
        m.after = {k: result[k] for k in ("delivered", "failed", "unrouted", "not_sent")}
        if report.failed:
            m.outcome = "error"
            m.detail = "; ".join(f"{n} × {e}" for e, n in report.errors.items())
        return result
