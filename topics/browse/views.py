"""Message browser pages: browse (seek + paging), search chunks, downloads."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from console.access import Capability, can, role_of
from console.kafka.cache import FRESH, allowed_age, shared
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError, NotFound
from console.messages.masking import rules_for
from console.messages.schema_registry import registry_for
from console.shared_pages import shared_page
from console.web import ConsoleRequest, cluster_view
from topics.browse.forms import MAX_LIMIT, BrowseForm
from topics.browse.highlight import Highlight
from topics.browse.selectors import (
    Render,
    SearchCursor,
    SeekError,
    browse_page,
    parse_cursor,
    prefetch_marks,
    search_all,
    search_chunk,
    search_start,
)

FORM_KEYS = tuple(BrowseForm.base_fields)
SEEK_FIELDS_CACHE = 512  # distinct (query, role) renderings of the seek form's fields kept


class SeekFields:
    """The seek form's fields as HTML, rendered when the page is (after the view added any
    error). Fourteen fields through Django's widget templates cost about as much as the
    whole rest of the page, and for a form without errors they depend only on the query's
    values and the role: such a rendering is kept (bounded) and reused."""

    _cache: dict[tuple, str] = {}
    _lock = threading.Lock()

    def __init__(self, form: BrowseForm, can_read: bool) -> None:
        self.form = form
        self.can_read = can_read

    def _render(self) -> str:
        return render_to_string(
            "topics/browse/_seek_fields.html",
            {
                "form": self.form,
                "can_read": self.can_read,
                "max_search": settings.CONSOLE_SEARCH_MAX_MESSAGES,
            },
        )

    def __html__(self) -> str:
        form = self.form
        if not form.is_bound or form.errors:
            return self._render()
        key = (
            self.can_read,
            settings.CONSOLE_SEARCH_MAX_MESSAGES,
            tuple(form.data.get(k) for k in FORM_KEYS),
        )
        html = self._cache.get(key)
        if html is None:
            html = self._render()
            with self._lock:
                if len(self._cache) >= SEEK_FIELDS_CACHE:
                    self._cache.clear()
                self._cache[key] = html
        return html

    __str__ = __html__


SEARCH_KEYS = ("q", "until", "max_offset")


def _topic_info(request: ConsoleRequest, topic: str):
    """The topic's metadata: from the process's shared snapshot of the cluster when pages
    may share answers for a while (CONSOLE_KAFKA_SHARED_READS_S), else asked for this topic
    alone (a snapshot of every topic of a large cluster costs far more than one page), and
    kept CONSOLE_BROWSE_METADATA_S for the next pages of the topic: its partitions and
    leaders, never its messages or watermarks, which every page reads afresh. A change made
    through this process drops it (cache.invalidate); an answer with an error is asked for
    again, never reused."""
    cluster = request.cluster
    if allowed_age() > 0:
        return cluster_snapshot(cluster, topic=topic).topics[0]

    def fresh():  # noqa: ANN202
        return cluster_snapshot(cluster, topic=topic, max_age=FRESH).topics[0]

    keep = settings.CONSOLE_BROWSE_METADATA_S
    if keep <= 0:
        return fresh()
    info = shared(cluster.name, ("topic-metadata", cluster.bootstrap_servers, topic), keep, fresh)
    return fresh() if info.error else info


def _form(
    request: ConsoleRequest, topic: str, *, page: bool = False, data: dict | None = None
) -> BrowseForm:
    """The form (of `data` when the request has no parameters), carrying the topic's
    metadata (`topic_info`) for the page to reuse; for a `page` of every partition (no
    search), the watermarks are asked for while the metadata is (`prefetch`)."""
    q = request.GET
    ahead = page and not q.get("partitions") and not any(q.get(k) for k in SEARCH_KEYS)
    prefetch = prefetch_marks(request.cluster, topic, newest_first(q, data)) if ahead else None
    try:
        info = _topic_info(request, topic)
    except BaseException:
        if prefetch is not None:
            prefetch.close()
        raise
    form = BrowseForm(request.GET or data, partition_count=info.partition_count)
    form.topic_info = info
    form.prefetch = prefetch
    return form


def newest_first(q, data: dict | None = None) -> int | None:
    """The size of the page when the parameters (`q`, else `data`) ask for the newest
    records' first page (so its read can begin early, `prefetch_marks`), else None."""
    params = q or data or {}
    if params.get("cursor") or (params.get("mode") or "newest") != "newest":
        return None
    limit = params.get("limit") or "50"
    return int(limit) if str(limit).isdigit() and 0 < int(limit) <= MAX_LIMIT else None


def _render(request: ConsoleRequest, topic: str, form: BrowseForm) -> Render:
    d = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return render_for(request, topic, d.get("key_format") or "", d.get("value_format") or "")


def render_for(request: ConsoleRequest, topic: str, key_mode: str, value_mode: str) -> Render:
    """How this viewer sees `topic`'s messages with these decoders ("" for auto)."""
    return Render(
        key_mode=key_mode or "auto",
        value_mode=value_mode or "auto",
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
        prefetch=form.prefetch,
    )


def _query(form: BrowseForm, **extra: str) -> str:
    """The form's own parameters (as the user gave them) plus `extra`."""
    params = {k: form.data.get(k) for k in FORM_KEYS if form.data.get(k) not in (None, "")}
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


def _decoders_key(request: ConsoleRequest, topic: str) -> str:
    return f"decoders:{request.cluster.name}:{topic}"


def _saved_decoders(request: ConsoleRequest, topic: str) -> dict:
    """The decoders this viewer's session remembers for the topic ({} for none)."""
    return request.session.get(_decoders_key(request, topic)) or {}


def _names_decoders(request: ConsoleRequest) -> bool:
    """Whether the request chooses decoders (which the page then saves for the topic)."""
    return "value_format" in request.GET or "key_format" in request.GET


def _same_page_for(request: ConsoleRequest, topic: str) -> tuple | None:
    """What of the viewer a messages page depends on besides its URL and capabilities
    (shared_page): the role (masking rules follow it) and, for the page without parameters,
    the decoders remembered for the topic. A request that names decoders saves them to the
    viewer's session: it is rendered for that viewer alone."""
    if _names_decoders(request):
        return None
    remembered = () if request.GET else tuple(sorted(_saved_decoders(request, topic).items()))
    return (role_of(request.user), remembered)


@require_GET
@cluster_view()
@shared_page(vary=_same_page_for)
def topic_messages(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Browse (newest first, or from the oldest, an offset or a time) or start a search."""
    form = _remembered(request, topic)
    try:
        return _messages_page(request, topic, form)
    finally:
        if form.prefetch is not None:
            form.prefetch.close()  # an early read no page took gives its consumer back


def _messages_page(request: ConsoleRequest, topic: str, form: BrowseForm) -> HttpResponse:
    ctx = {
        "cluster": request.cluster,
        "topic": topic,
        "tab": "messages",
        "form": form,
        "can_read": can(request.user, Capability.READ_MESSAGES),
    }
    ctx["seek_fields"] = SeekFields(form, ctx["can_read"])
    if not form.is_valid():
        return TemplateResponse(request, "topics/browse/messages.html", ctx, status=400)
    render = _render(request, topic, form)
    ctx["hide_contents"] = not render.contents
    # The rows' copy buttons ask topics.api.topic_message_record, with these decoders.
    ctx["copy_query"] = urlencode(
        {"key_format": render.key_mode, "value_format": render.value_mode}
    )
    ctx["download_query"] = _query(form)
    if form.searching and not render.contents:
        form.add_error("q", "Searching message contents needs the operator role.")
        return TemplateResponse(request, "topics/browse/messages.html", ctx, status=403)
    if form.searching:  # the page starts the search: no read here
        ctx.update(_results(request, topic, form, render))
        return TemplateResponse(request, "topics/browse/messages.html", ctx)
    ctx["results"] = PageResults(lambda: _results(request, topic, form, render))
    try:
        # Rendered here, while the early read (form.prefetch) is still this view's.
        return TemplateResponse(request, "topics/browse/messages.html", ctx).render()
    except SeekError as exc:
        del ctx["results"]
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return TemplateResponse(request, "topics/browse/messages.html", ctx, status=400)


class PageResults:
    """A page's messages (`_results`), read when its template first needs them: the page's
    head (navigation, tabs, the seek form) renders while Kafka answers the watermarks and
    the first read that `prefetch_marks` sent, not after them: the newest 50 over HTTP took
    8.6 and 8.9 ms against 9.7 and 10.2 ms before (two runs, each in turns with the old code
    on the same broker). A SeekError comes out of the rendering; the view renders the form
    again."""

    def __init__(self, read: Callable[[], dict]) -> None:
        self._read = read

    @cached_property
    def got(self) -> dict:
        return self._read()


def _remembered(request: ConsoleRequest, topic: str) -> BrowseForm:
    """The page's form. The decoders chosen for a topic are remembered (per user session)
    for that topic: a request without parameters starts from them (newest first); one that
    names decoders saves them. (One form per request: each costs a copy of every field.)"""
    start = None if request.GET else {"mode": "newest", **_saved_decoders(request, topic)}
    form = _form(request, topic, page=True, data=start)
    if start is None and form.is_valid() and _names_decoders(request):
        request.session[_decoders_key(request, topic)] = {
            k: form.cleaned_data[k] for k in ("key_format", "value_format") if form.cleaned_data[k]
        }
    return form


def _results(request: ConsoleRequest, topic: str, form: BrowseForm, render: Render) -> dict:
    """A search's first chunk URL, or the page of messages with its paging and download."""
    if form.searching:
        url = reverse("topics:messages_search", args=[request.cluster.name, topic])
        return {"search_url": f"{url}?{_query(form)}"}
    page = _page(request, topic, form, render)
    base = reverse("topics:messages", args=[request.cluster.name, topic])
    extra = {"cursor": request.GET.get("cursor", ""), "dir": request.GET.get("dir", "")}
    return {
        "page": page,
        "older_url": f"{base}?{_query(form, cursor=page.older, dir='older')}" if page.older else "",
        "newer_url": f"{base}?{_query(form, cursor=page.newer, dir='newer')}" if page.newer else "",
        "download_query": _query(form, **extra),
    }


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
        cursor = _search_cursor(request, topic, form, flt)
        chunk = search_chunk(request.cluster, topic, cursor, flt, render)
    except SeekError as exc:
        return _search_error(request, str(exc), status=400)
    except KafkaConsoleError as exc:
        # The same chunk can be asked for again: the cursor is where the last one ended.
        retry = f"{base}?{_query(form, **cursor.params())}" if cursor else request.get_full_path()
        if isinstance(exc, NotFound):
            return _search_error(request, str(exc), status=404)
        return _search_error(request, str(exc), status=503, retry_url=retry)
    return TemplateResponse(
        request,
        "topics/browse/_search_chunk.html",
        {
            "chunk": chunk,
            **_chunk_urls(base, form, chunk),
            "hide_contents": False,
            "position": chunk.cursor.positions,
            "backward": chunk.cursor.backward,
            "hl": Highlight.for_condition(form.cleaned_data.get("condition")),
        },
    )


def _search_cursor(request: ConsoleRequest, topic: str, form: BrowseForm, flt) -> SearchCursor:
    """The cursor a chunk carries in its URL, or a new search's start (bounded by the
    filter's "up to" offset)."""
    q = request.GET
    if q.get("pos") is not None:
        return SearchCursor(
            positions=parse_cursor(q.get("pos", "")),
            ends=parse_cursor(q.get("ends", "")),
            scanned=_nonneg(q.get("scanned")),
            matched=_nonneg(q.get("matched")),
            elapsed_s=float(_nonneg(q.get("elapsed"), allow_float=True)),
            regex_timeouts=int(_nonneg(q.get("rt"))),
            backward=q.get("back") == "1",
            window=int(_nonneg(q.get("win"))),
        )
    cursor = search_start(request.cluster, topic, form.seek(), form.topic_info)
    if flt.max_offset is not None:
        top = flt.max_offset + 1
        if cursor.backward:
            cursor.positions = {p: min(o, top) for p, o in cursor.positions.items()}
        else:
            cursor.ends = {p: min(e, top) for p, e in cursor.ends.items()}
    return cursor


def _chunk_urls(base: str, form: BrowseForm, chunk) -> dict[str, str]:
    """The next chunk's URL while the search runs; "Continue from here" unless it is done:
    a new search (counts and bounds afresh) at the cursor, shown when a bound stopped the
    search and after the Stop button (hidden till then)."""
    params = chunk.cursor.params()
    running = not chunk.done and not chunk.stopped
    fresh = {"scanned": "0", "elapsed": "0", "matched": "0"}
    return {
        "next_url": f"{base}?{_query(form, **params)}" if running else "",
        "continue_url": "" if chunk.done else f"{base}?{_query(form, **{**params, **fresh})}",
    }


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


def _jsonl(views, *, exact: bool) -> Iterator[str]:
    """One line per message; `exact` (nothing masked) adds the raw bytes as base64, so the
    replay import writes back the very same key, value and headers."""
    from topics.replay.formats import export_line

    for v in views:
        yield export_line(v, exact=exact) + "\n"


def _csv(views) -> Iterator[str]:
    """CSV rows, one chunk per message, so a long download streams."""
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

    content_type = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    response = StreamingHttpResponse(
        _jsonl(views, exact=not render.mask_rules) if fmt == "jsonl" else _csv(views),
        content_type=content_type,
    )
    response["Content-Disposition"] = f'attachment; filename="{topic}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
