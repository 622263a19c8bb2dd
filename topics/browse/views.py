"""Message browser pages: browse (seek + paging), search chunks, downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from console.access import Capability, can, role_of
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError, NotFound
from console.messages.masking import rules_for
from console.messages.schema_registry import registry_for
from console.web import ConsoleRequest, cluster_view
from topics.browse.forms import BrowseForm
from topics.browse.highlight import Highlight
from topics.browse.selectors import (
    Render,
    SearchCursor,
    SeekError,
    browse_page,
    parse_cursor,
    search_all,
    search_chunk,
    search_start,
)

FORM_KEYS = tuple(BrowseForm.base_fields)


def _form(request: ConsoleRequest, topic: str) -> BrowseForm:
    """The form, carrying the topic's metadata (`topic_info`) for the page to reuse."""
    info = cluster_snapshot(request.cluster, topic=topic).topics[0]
    form = BrowseForm(request.GET or None, partition_count=info.partition_count)
    form.topic_info = info
    return form


def _render(request: ConsoleRequest, topic: str, form: BrowseForm) -> Render:
    d = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return Render(
        key_mode=d.get("key_format") or "auto",
        value_mode=d.get("value_format") or "auto",
        contents=can(request.user, Capability.READ_MESSAGES),
        mask_rules=rules_for(request.cluster, topic, role_of(request.user)),
        registry=registry_for(request.cluster.schema_registry_url),
    )


def _page(request: ConsoleRequest, topic: str, form: BrowseForm, render: Render):
    """The page the form and the paging parameters (cursor, dir) ask for."""
    cursor = parse_cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    return browse_page(
        request.cluster,
        topic,
        form.seek(),
        render,
        cursor=cursor,
        direction=request.GET.get("dir", ""),
        info=form.topic_info,
    )


def _query(form: BrowseForm, **extra: str) -> str:
    """The form's own parameters (as the user gave them) plus `extra`."""
    params = {k: form.data.get(k) for k in FORM_KEYS if form.data.get(k) not in (None, "")}
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


@require_GET
@cluster_view()
def topic_messages(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Browse (newest first, or from the oldest, an offset or a time) or start a search."""
    form = _form(request, topic)
    base = reverse("topics:messages", args=[request.cluster.name, topic])
    ctx = {
        "cluster": request.cluster,
        "topic": topic,
        "tab": "messages",
        "form": form,
        "can_read": can(request.user, Capability.READ_MESSAGES),
        "max_search": settings.CONSOLE_SEARCH_MAX_MESSAGES,
    }
    status = 200
    if form.is_bound and not form.is_valid():
        return TemplateResponse(request, "topics/browse/messages.html", ctx, status=400)
    # The decoders chosen for a topic are remembered (per user session) for that topic.
    remembered = f"decoders:{request.cluster.name}:{topic}"
    if not form.is_bound:
        saved = request.session.get(remembered) or {}
        info = form.topic_info
        form = BrowseForm({"mode": "newest", **saved}, partition_count=info.partition_count)
        form.topic_info = info
        form.is_valid()
        ctx["form"] = form
    elif "value_format" in request.GET or "key_format" in request.GET:
        request.session[remembered] = {
            k: form.cleaned_data[k] for k in ("key_format", "value_format") if form.cleaned_data[k]
        }
    render = _render(request, topic, form)
    if form.searching:
        if not render.contents:
            form.add_error("q", "Searching message contents needs the operator role.")
            return TemplateResponse(request, "topics/browse/messages.html", ctx, status=403)
        ctx["search_url"] = (
            reverse("topics:messages_search", args=[request.cluster.name, topic])
            + "?"
            + _query(form)
        )
    else:
        try:
            page = _page(request, topic, form, render)
        except SeekError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            return TemplateResponse(request, "topics/browse/messages.html", ctx, status=400)
        ctx["page"] = page
        ctx["older_url"] = (
            f"{base}?{_query(form, cursor=page.older, dir='older')}" if page.older else ""
        )
        ctx["newer_url"] = (
            f"{base}?{_query(form, cursor=page.newer, dir='newer')}" if page.newer else ""
        )
        extra = {"cursor": request.GET.get("cursor", ""), "dir": request.GET.get("dir", "")}
        ctx["download_query"] = _query(form, **extra)
    ctx["hide_contents"] = not render.contents
    if not ctx.get("download_query"):
        ctx["download_query"] = _query(form)
    return TemplateResponse(request, "topics/browse/messages.html", ctx, status=status)


@require_GET
@cluster_view(Capability.READ_MESSAGES)
def topic_messages_search(request: ConsoleRequest, topic: str) -> HttpResponse:
    """One chunk of a search: the matches, the progress, and (unless it is over) the element
    that fetches the next chunk from where this one stopped. An error ends the search with
    its reason in the results and the progress panel (and a retry from the last position
    when the cursor is known), so the page never keeps "searching…"."""
    base = reverse("topics:messages_search", args=[request.cluster.name, topic])
    cursor = None
    try:
        form = _form(request, topic)
        if not form.is_valid():
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            return _search_error(request, f"Invalid search: {errors}", status=400)
        render = _render(request, topic, form)
        flt = form.message_filter()
        if request.GET.get("pos") is not None:
            cursor = SearchCursor(
                positions=parse_cursor(request.GET.get("pos", "")),
                ends=parse_cursor(request.GET.get("ends", "")),
                scanned=_nonneg(request.GET.get("scanned")),
                matched=_nonneg(request.GET.get("matched")),
                elapsed_s=float(_nonneg(request.GET.get("elapsed"), allow_float=True)),
                regex_timeouts=int(_nonneg(request.GET.get("rt"))),
                backward=request.GET.get("back") == "1",
                window=int(_nonneg(request.GET.get("win"))),
            )
        else:
            cursor = search_start(request.cluster, topic, form.seek(), form.topic_info)
            if flt.max_offset is not None:
                top = flt.max_offset + 1
                if cursor.backward:
                    cursor.positions = {p: min(o, top) for p, o in cursor.positions.items()}
                else:
                    cursor.ends = {p: min(e, top) for p, e in cursor.ends.items()}
        chunk = search_chunk(request.cluster, topic, cursor, flt, render)
    except SeekError as exc:
        return _search_error(request, str(exc), status=400)
    except KafkaConsoleError as exc:
        # The same chunk can be asked for again: the cursor is where the last one ended.
        retry = f"{base}?{_query(form, **cursor.params())}" if cursor else request.get_full_path()
        if isinstance(exc, NotFound):
            return _search_error(request, str(exc), status=404)
        return _search_error(request, str(exc), status=503, retry_url=retry)
    next_url = (
        f"{base}?{_query(form, **chunk.cursor.params())}"
        if not chunk.done and not chunk.stopped
        else ""
    )
    # "Continue from here" starts a new search (counts and bounds afresh) at the cursor; it
    # shows when a bound stopped the search, and after the Stop button (hidden till then).
    fresh = {"scanned": "0", "elapsed": "0", "matched": "0"}
    continue_url = (
        f"{base}?{_query(form, **{**chunk.cursor.params(), **fresh})}" if not chunk.done else ""
    )
    return TemplateResponse(
        request,
        "topics/browse/_search_chunk.html",
        {
            "chunk": chunk,
            "next_url": next_url,
            "continue_url": continue_url,
            "hide_contents": False,
            "position": chunk.cursor.positions,
            "backward": chunk.cursor.backward,
            "hl": Highlight.for_condition(form.cleaned_data.get("condition")),
        },
    )


def _search_error(
    request: ConsoleRequest, message: str, *, status: int, retry_url: str = ""
) -> TemplateResponse:
    """The search's end by an error: a row in the results and the progress panel (out of
    band) say why; htmx swaps error statuses too (static/console/console.js)."""
    return TemplateResponse(
        request,
        "topics/browse/_search_chunk.html",
        {"error": message, "continue_url": retry_url},
        status=status,
    )


def _nonneg(text: str | None, *, allow_float: bool = False) -> float | int:
    try:
        value = float(text) if allow_float else int(text or 0)
    except (TypeError, ValueError):
        raise SeekError("the search cursor is damaged; start the search again") from None
    if value < 0 or value > 10**15:
        raise SeekError("the search cursor is damaged; start the search again")
    return value


CSV_FIELDS = (
    "partition",
    "offset",
    "timestamp",
    "timestamp_type",
    "key",
    "value",
    "headers",
    "size",
)


def _csv_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


@require_GET
@cluster_view(Capability.READ_MESSAGES)
def topic_messages_download(request: ConsoleRequest, topic: str) -> HttpResponse:
    """The shown page, or a whole search's matches (within the search bounds), as JSON lines
    or CSV, streamed as they are read."""
    form = _form(request, topic)
    if not form.is_valid():
        return HttpResponse("Invalid parameters.", status=400, content_type="text/plain")
    fmt = request.GET.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        return HttpResponse("format must be jsonl or csv", status=400, content_type="text/plain")
    render = _render(request, topic, form)
    try:
        if form.searching:
            views = search_all(
                request.cluster, topic, form.seek(), form.message_filter(), render, form.topic_info
            )
        else:
            views = _page(request, topic, form, render).views
    except SeekError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")

    def jsonl() -> Iterator[str]:
        for v in views:
            yield v.as_json + "\n"

    def csv_rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_FIELDS)
        for v in views:
            d = v.as_dict()
            writer.writerow([_csv_cell(d[f]) for f in CSV_FIELDS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    content_type = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    response = StreamingHttpResponse(
        jsonl() if fmt == "jsonl" else csv_rows(), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{topic}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
