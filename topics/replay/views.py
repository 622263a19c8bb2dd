"""Replay pages: re-produce one message; copy a range, redrive a dead-letter topic or import a
file, each previewed (a dry run: what goes where) and then confirmed as a Celery job."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from console.access import Capability, role_of
from console.audit import audit_record, mutation
from console.clusters import Cluster, get_cluster
from console.jobs import job_create, job_enqueue
from console.kafka import replay as kreplay
from console.kafka.errors import KafkaConsoleError, NotFound
from console.messages.masking import rules_for
from console.web import ConsoleRequest, cluster_view
from topics.replay import report as _report  # noqa: F401 - registers the job page
from topics.replay.formats import parse_csv, parse_jsonl
from topics.replay.forms import (
    CopyForm,
    ImportForm,
    RedriveForm,
    ReproduceForm,
    encode_for_form,
)
from topics.replay.services import b64, partition_count, plan, ranges_for, search_filter
from topics.replay.tasks import records_copy_task, replay_message_task

SALT = "topics.replay"
TOKEN_MAX_AGE_S = 3600


def _imports_dir() -> Path:
    d = Path(settings.VAR_DIR) / "replay-imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _imports_prune() -> None:
    """Forget checked files whose preview expired (never confirmed)."""
    cutoff = time.time() - TOKEN_MAX_AGE_S
    for f in _imports_dir().glob("*.json"):
        with contextlib.suppress(OSError):
            if f.stat().st_mtime < cutoff:
                f.unlink()


def _ranges(request: ConsoleRequest, topic: str, d: dict) -> dict[str, list[int]]:
    """The offset ranges per partition a copy or redrive form's range fields select."""
    ranges = ranges_for(
        request.cluster,
        topic,
        partitions=d["partitions"],
        start=d["from_offset"],
        end=d["to_offset"],
        start_ms=d["from_time_ms"],
        end_ms=d["to_time_ms"],
    )
    return {str(p): list(r) for p, r in ranges.items()}


# --- re-produce one message ------------------------------------------------------------------


def _initial_from(msg, topic: str) -> tuple[dict, int]:
    key, key_enc = encode_for_form(msg.key)
    value, value_enc = encode_for_form(msg.value)
    initial = {
        "target_topic": topic,
        "key": key,
        "key_encoding": key_enc,
        "value": value,
        "value_encoding": value_enc,
        "partition": msg.partition,
    }
    for i, (name, hv) in enumerate(msg.headers):
        text, enc = encode_for_form(hv)
        initial.update(
            {
                f"header_name_{i}": name,
                f"header_value_{i}": text,
                f"header_encoding_{i}": "text" if enc == "null" else enc,
                f"header_carry_{i}": True,
            }
        )
    return initial, len(msg.headers) + 2


def _unmasked(request: ConsoleRequest, topic: str) -> None:
    """Refuse (403, audited for a POST) what would show or copy a topic's raw bytes to a role
    that sees them masked: a form or a copy elsewhere would reveal what masking hides."""
    if not rules_for(request.cluster, topic, role_of(request.user)):
        return
    why = (
        f"Masking applies to {topic} for the {role_of(request.user)} role: re-producing or "
        "copying its records would reveal what is masked."
    )
    if request.method == "POST":
        audit_record(
            user=request.user,
            cluster=request.cluster.name,
            action="replay.refused",
            target=topic,
            outcome="denied",
            detail=why,
        )
    raise PermissionDenied(why)


def _position(request: ConsoleRequest) -> tuple[int, int]:
    try:
        p, o = int(request.GET.get("partition", "")), int(request.GET.get("offset", ""))
    except ValueError:
        raise Http404("Give the message's partition and offset.") from None
    if p < 0 or o < 0:
        raise Http404("Give the message's partition and offset.")
    return p, o


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def replay_message(request: ConsoleRequest, topic: str) -> HttpResponse:
    """The produce form filled with one message (key, value, headers, partition): edit it,
    choose the topic and the headers to carry, send it (a job)."""
    _unmasked(request, topic)
    p, o = _position(request)
    ctx = {
        "cluster": request.cluster,
        "topic": topic,
        "tab": "messages",
        "partition": p,
        "offset": o,
    }
    if request.method == "GET":
        msg = kreplay.message_at(request.cluster, topic, p, o)
        if msg is None:
            raise Http404(f"{topic} has no message at partition {p}, offset {o}.")
        initial, rows = _initial_from(msg, topic)
        form = ReproduceForm(initial=initial, header_rows=rows)
        return TemplateResponse(request, "topics/replay/message.html", {**ctx, "form": form})
    rows = request.POST.get("header_rows", "")
    rows = min(int(rows), 200) if rows.isdigit() else 3
    form = ReproduceForm(request.POST, header_rows=rows)
    if not form.is_valid():
        return TemplateResponse(
            request, "topics/replay/message.html", {**ctx, "form": form}, status=400
        )
    d = form.cleaned_data
    target = d["target_topic"]
    try:
        count = partition_count(request.cluster, target)
    except NotFound as exc:
        form.add_error("target_topic", str(exc))
        return TemplateResponse(
            request, "topics/replay/message.html", {**ctx, "form": form}, status=400
        )
    if d["partition"] is not None and d["partition"] >= count:
        form.add_error("partition", f"{target} has {count} partitions (0-{count - 1}).")
        return TemplateResponse(
            request, "topics/replay/message.html", {**ctx, "form": form}, status=400
        )
    with mutation(
        user=request.user,
        cluster=request.cluster,
        action="replay.message",
        target=target,
        capability=Capability.OPERATE,
        params={
            "from": f"{topic}:{p}:{o}",
            "partition": d["partition"],
            "headers": [n for n, _ in d["headers"]],
            "bytes": len(d.get("value_bytes") or b""),
        },
    ) as m:
        m.outcome = "queued"
        job = job_create(
            kind="produce.message",
            cluster=request.cluster.name,
            target=target,
            user=request.user,
            params={
                "key": b64(d["key_bytes"]),
                "value": b64(d["value_bytes"]),
                "headers": [(n, b64(v)) for n, v in d["headers"]],
                "partition": d["partition"],
                "compression": "none",
                "replayed_from": f"{topic}:{p}:{o}",
            },
        )
        job_enqueue(replay_message_task, job)
    return redirect("console:job", job_id=job.id)


# --- bulk: copy, redrive, import --------------------------------------------------------


def _page(request: ConsoleRequest, topic: str, status: int = 200, **forms) -> TemplateResponse:
    ctx = {
        "cluster": request.cluster,
        "topic": topic,
        "tab": "replay",
        "copy": forms.get("copy")
        or CopyForm(
            initial={
                "target_cluster": request.cluster.name,
                "routing": "source",
                "keep_timestamps": True,
            }
        ),
        "redrive": forms.get("redrive") or RedriveForm(),
        "upload": forms.get("upload") or ImportForm(initial={"routing": "source"}),
        "import_errors": forms.get("import_errors"),
        "search": forms.get("search", ""),
    }
    return TemplateResponse(request, "topics/replay/replay.html", ctx, status=status)


@require_http_methods(["GET"])
@cluster_view(Capability.OPERATE)
def replay_page(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Copy a range, redrive a dead-letter topic, or import a file into this topic."""
    partition_count(request.cluster, topic)  # a missing topic is a 404 now
    search = request.GET.urlencode() if request.GET else ""
    if search:
        try:
            search_filter(request.cluster, topic, search)
        except ValueError as exc:
            return HttpResponse(f"Not a valid search: {exc}", status=400, content_type="text/plain")
    return _page(request, topic, search=search)


def _search(request, topic, form) -> str:
    """The search a bulk form carries (the message browser's parameters), checked."""
    search = request.POST.get("search", "")
    if search:
        try:
            search_filter(request.cluster, topic, search)
        except ValueError as exc:
            form.add_error(None, f"Not a valid search: {exc}")
    return search


def _writable(form, field: str, cluster: Cluster | None) -> Cluster | None:
    if cluster is None:
        form.add_error(field, "No such cluster is configured.")
    elif cluster.read_only:
        form.add_error(field, f"Cluster {cluster.name} is read-only: nothing can be written.")
        return None
    return cluster


def _preview(request, topic, params: dict, target: Cluster, what: str) -> TemplateResponse:
    try:
        dry = plan(request.cluster, target, params)
    except KafkaConsoleError as exc:
        return _page(
            request,
            topic,
            status=400 if isinstance(exc, NotFound) else 503,
            **{what: _bound(request, what, str(exc))},
        )
    expected = dry["to_send"] + dry["unrouted_count"]
    if not dry["complete"]:
        # The preview stopped at its time bound: the offsets in the ranges bound the count.
        expected = sum(b - a for a, b in params["ranges"].values())
    params = {**params, "expected": expected, "expected_exact": dry["complete"]}
    if params["mode"] == "redrive":
        params["destinations"] = dry["destinations"]
    token = signing.dumps(params, salt=SALT, compress=True)
    return TemplateResponse(
        request,
        "topics/replay/preview.html",
        {
            "cluster": request.cluster,
            "topic": topic,
            "tab": "replay",
            "what": what,
            "dry": dry,
            "params": params,
            "target": target,
            "token": token,
        },
    )


def _bound(request, what: str, error: str):
    form = {"copy": CopyForm, "redrive": RedriveForm}[what](request.POST)
    form.is_valid()
    form.add_error(None, error)
    return form


@require_POST
@cluster_view(Capability.OPERATE)
def replay_copy(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Preview a copy of an offset range to a topic (here or on another cluster)."""
    _unmasked(request, topic)
    form = CopyForm(request.POST)
    if not form.is_valid():
        return _page(request, topic, status=400, copy=form)
    d = form.cleaned_data
    target = _writable(form, "target_cluster", get_cluster(d["target_cluster"]))
    if target is not None:
        try:
            n = partition_count(target, d["target_topic"])
        except NotFound as exc:
            form.add_error("target_topic", str(exc))
        if target.name == request.cluster.name and d["target_topic"] == topic:
            form.add_error(
                "target_topic", "Choose another topic: a topic cannot be copied into itself."
            )
    search = _search(request, topic, form)
    if form.errors:
        return _page(request, topic, status=400, copy=form, search=search)
    params = {
        "mode": "copy",
        "source_topic": topic,
        "ranges": _ranges(request, topic, d),
        "target_cluster": target.name,
        "target_topic": d["target_topic"],
        "target_partitions": n,
        "keep_partition": d["routing"] == "source",
        "keep_timestamps": d["keep_timestamps"],
        "search": search,
    }
    return _preview(request, topic, params, target, "copy")


@require_POST
@cluster_view(Capability.OPERATE)
def replay_redrive(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Preview sending each record of this (dead-letter) topic back to the topic it names."""
    _unmasked(request, topic)
    form = RedriveForm(request.POST)
    if not form.is_valid():
        return _page(request, topic, status=400, redrive=form)
    d = form.cleaned_data
    if _writable(form, None, request.cluster) is None:
        return _page(request, topic, status=403, redrive=form)
    search = _search(request, topic, form)
    if form.errors:
        return _page(request, topic, status=400, redrive=form, search=search)
    params = {
        "mode": "redrive",
        "source_topic": topic,
        "ranges": _ranges(request, topic, d),
        "target_cluster": request.cluster.name,
        "header_names": d["header_names"],
        "marker_header": d["marker_header"].strip(),
        "marker_value": topic,
        "search": search,
    }
    return _preview(request, topic, params, request.cluster, "redrive")


@require_POST
@cluster_view(Capability.OPERATE)
def replay_import(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Check an uploaded file line by line; preview where its records go."""
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, topic, status=400, upload=form)
    if _writable(form, None, request.cluster) is None:
        return _page(request, topic, status=403, upload=form)
    f = form.cleaned_data["file"]
    data = f.read()
    limit = settings.CONSOLE_MAX_MESSAGE_BYTES
    is_csv = f.name.lower().endswith(".csv") or (
        data[:200].split(b"\n")[0].startswith(b"partition,")
    )
    parsed = (parse_csv if is_csv else parse_jsonl)(data, max_message_bytes=limit)
    if parsed.error_count or not parsed.records:
        if not parsed.records and not parsed.error_count:
            form.add_error("file", "The file holds no records.")
        else:
            form.add_error(
                "file",
                f"{parsed.error_count:,} of {parsed.lines:,} lines cannot be imported; "
                "nothing was sent. Fix them and upload again.",
            )
        return _page(request, topic, status=400, upload=form, import_errors=parsed.errors)
    _imports_prune()
    name = secrets.token_hex(16)
    (_imports_dir() / f"{name}.json").write_text(json.dumps(parsed.records))
    n = partition_count(request.cluster, topic)
    params = {
        "mode": "import",
        "source_topic": "",
        "file": name,
        "file_name": f.name[:200],
        "target_cluster": request.cluster.name,
        "target_topic": topic,
        "target_partitions": n,
        "keep_partition": form.cleaned_data["routing"] == "source",
        "keep_timestamps": form.cleaned_data["keep_timestamps"],
    }
    dry = plan(request.cluster, request.cluster, {**params, "records": parsed.records})
    params["expected"] = dry["total"]
    return TemplateResponse(
        request,
        "topics/replay/preview.html",
        {
            "cluster": request.cluster,
            "topic": topic,
            "tab": "replay",
            "what": "import",
            "dry": dry,
            "params": params,
            "target": request.cluster,
            "token": signing.dumps(params, salt=SALT, compress=True),
        },
    )


@require_POST
@cluster_view(Capability.OPERATE)
def replay_confirm(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Start exactly what was previewed (the signed parameters), as a job."""
    try:
        params = signing.loads(request.POST.get("token", ""), salt=SALT, max_age=TOKEN_MAX_AGE_S)
    except signing.SignatureExpired:
        return HttpResponse(
            "The preview is over an hour old: preview again.", status=400, content_type="text/plain"
        )
    except signing.BadSignature:
        return HttpResponse(
            "The preview was altered or is missing: preview again.",
            status=400,
            content_type="text/plain",
        )
    if params.get("source_topic") not in ("", topic) or (
        params["mode"] == "import" and params.get("target_topic") != topic
    ):
        return HttpResponse(
            "The preview is for another topic.", status=400, content_type="text/plain"
        )
    if params["mode"] != "import":
        _unmasked(request, topic)
    target = get_cluster(params["target_cluster"])
    if target is None:
        raise Http404("No such cluster is configured.")
    if params["mode"] == "import":
        path = _imports_dir() / f"{params['file']}.json"
        if not path.exists():
            return HttpResponse(
                "The uploaded file is gone (already imported?): upload it again.",
                status=400,
                content_type="text/plain",
            )
        params = {**params, "records": json.loads(path.read_text())}
    audit = {k: v for k, v in params.items() if k not in ("records", "destinations")}
    with mutation(
        user=request.user,
        cluster=target,
        action=f"replay.{params['mode']}.request",
        target=params.get("target_topic") or topic,
        capability=Capability.OPERATE,
        params=audit,
    ) as m:
        m.outcome = "queued"
        job = job_create(
            kind=f"replay.{params['mode']}",
            cluster=request.cluster.name,
            target=params.get("target_topic") or topic,
            user=request.user,
            params=params,
        )
        job_enqueue(records_copy_task, job)
    if params["mode"] == "import":
        (_imports_dir() / f"{params['file']}.json").unlink(missing_ok=True)
    return redirect("console:job", job_id=job.id)
