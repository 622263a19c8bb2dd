"""A JSON read API for messages: `GET /api/v1/clusters/<c>/topics/<t>/messages`.

The same page of messages as the message browser (topics.browse), for programs: the same
seek parameters (mode=newest|oldest|offset|timestamp, partitions, offset, timestamp,
limit, key_format, value_format, and cursor + dir=older|newer to page), the same role
rule (reading contents needs the operator role: a viewer gets 403), and the same masking.
Searching stays with the page (its search runs in resumable chunks): q, until and
max_offset are refused.

Each message is the download's record (`MessageView.as_dict`: decoded key and value as
shown, JSON values embedded as JSON) with `timestamp_ms`, headers as [name, value] pairs
in their order, and an encoding per key and value: `json`, `text`, `null`, a schema
registry format, or `base64` for bytes shown as binary (the raw bytes, base64). When
masking applies nothing raw is given: a binary value is its masked text, `hex`.

It takes the console's session (log in as for the pages; without one, the redirect to the
log-in page every URL gives). Errors are JSON: {"error": "...", "field": ..., "fields":
{...}} with 400 (bad input), 403 (role), 404 (cluster or topic), 405, 502/503 (Kafka).
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse

from console.access import Capability
from console.kafka.errors import (
    ClusterUnavailable,
    InvalidRequest,
    KafkaConsoleError,
    NotAllowed,
    NotFound,
)
from console.kafka.replay import message_at
from console.messages.decoding import MODES as DECODERS
from console.messages.presenters import MessageView, dumps
from console.web import ConsoleRequest, cluster_view
from topics.browse.forms import BrowseForm
from topics.browse.selectors import Prefetch, SeekError, prefetch_marks
from topics.browse.views import (
    FORM_KEYS,
    SEARCH_KEYS,
    _page,
    _render,
    _topic_info,
    newest_first,
    render_for,
)

ERRORS = (
    (ClusterUnavailable, 503),
    (NotFound, 404),
    (NotAllowed, 403),
    (InvalidRequest, 400),
    (KafkaConsoleError, 502),
)


def _json(data: dict, status: int = 200) -> HttpResponse:
    body = dumps(data)
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(status: int, message: str, **extra) -> HttpResponse:
    return _json({"error": message, **extra}, status=status)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def record(view: MessageView, *, masked: bool) -> dict:
    """One message as the API gives it (see the module's description)."""
    d = view.as_dict()
    msg = view.message
    d["timestamp_ms"] = msg.timestamp_ms
    d["headers"] = [[k, v] for k, v in view.headers]
    for part, decoded, raw in (("key", view.key, msg.key), ("value", view.value, msg.value)):
        encoding = decoded.kind
        if decoded.kind == "binary":
            if masked:
                encoding = "hex"
            else:
                encoding = "base64"
                d[part] = _b64(raw)
        d[f"{part}_encoding"] = encoding
    return d


def _page_url(request: ConsoleRequest, form: BrowseForm, cursor: str, direction: str) -> str:
    params = {k: form.data.get(k) for k in FORM_KEYS if form.data.get(k) not in (None, "")}
    params.update(cursor=cursor, dir=direction)
    return f"{request.path}?{urlencode(params)}"


@cluster_view(Capability.READ_MESSAGES)
def _messages(request: ConsoleRequest, topic: str) -> HttpResponse:
    q = request.GET
    searching = [k for k in SEARCH_KEYS if q.get(k)]
    if searching:
        return _error(
            400,
            "this API reads pages of messages; searching (q, until, max_offset) is done by "
            "the message browser's search",
            field=searching[0],
        )
    ahead = not q.get("partitions")
    prefetch = prefetch_marks(request.cluster, topic, newest_first(q)) if ahead else None
    try:
        return _answer(request, topic, prefetch)
    finally:
        if prefetch is not None:
            prefetch.close()  # an early read no page took gives its consumer back


def _answer(request: ConsoleRequest, topic: str, prefetch: Prefetch | None) -> HttpResponse:
    q = request.GET
    info = _topic_info(request, topic)
    form = BrowseForm(q, partition_count=info.partition_count)
    form.topic_info = info
    form.prefetch = prefetch
    if not form.is_valid():
        fields = {k: [str(e) for e in v] for k, v in form.errors.items()}
        first = next(iter(fields.items()))
        return _error(400, f"{first[0]}: {first[1][0]}", field=first[0], fields=fields)
    render = _render(request, topic, form)
    page = _page(request, topic, form, render)
    masked = bool(render.mask_rules)
    return _json(
        {
            "cluster": request.cluster.name,
            "topic": topic,
            "mode": form.cleaned_data["mode"],
            "order": page.order,
            "count": len(page.views),
            "messages": [record(v, masked=masked) for v in page.views],
            "older_cursor": page.older or None,
            "newer_cursor": page.newer or None,
            "older": _page_url(request, form, page.older, "older") if page.older else None,
            "newer": _page_url(request, form, page.newer, "newer") if page.newer else None,
            "unavailable": {str(p): why for p, why in page.topo.unavailable.items()},
            "notes": page.notes,
            "cut_short": page.cut_short,
            "elapsed_s": round(page.elapsed_s, 4),
        }
    )


def topic_messages_api(request: ConsoleRequest, cluster: str, topic: str) -> HttpResponse:
    """A page of messages as JSON (see the module's description)."""
    return _answered(request, lambda: _messages(request, cluster, topic=topic))


def topic_message_record(request: ConsoleRequest, cluster: str, topic: str) -> HttpResponse:
    """`?partition=P&offset=O[&key_format=..&value_format=..]`: the one record there as the
    message rows' copy button copies it, the download's record (`MessageView.as_dict`),
    decoded with those decoders and masked for the viewer's role as the rows were. The rows
    carry no copy of their record (it was a third of a messages page's bytes): the button
    asks for it when clicked. The same role rule and errors as the page API."""
    return _answered(request, lambda: _record(request, cluster, topic=topic))


@cluster_view(Capability.READ_MESSAGES)
def _record(request: ConsoleRequest, topic: str) -> HttpResponse:
    q = request.GET
    position = {}
    for name, digits in (("partition", 6), ("offset", 19)):
        text = q.get(name, "")
        if not text.isdigit() or len(text) > digits:
            return _error(400, f"{name}: a whole number is needed, not {text[:40]!r}", field=name)
        position[name] = int(text)
    modes = {}
    for name in ("key_format", "value_format"):
        mode = q.get(name) or "auto"
        if mode not in DECODERS:
            return _error(400, f"{name}: one of {', '.join(DECODERS)}", field=name)
        modes[name] = mode
    p, o = position["partition"], position["offset"]
    count = _topic_info(request, topic).partition_count
    if p >= count:
        return _error(404, f"{topic} has {count} partitions (0-{count - 1}).", field="partition")
    msg = message_at(request.cluster, topic, p, o)
    if msg is None:
        return _error(404, f"{topic} has no message at partition {p}, offset {o}.")
    render = render_for(request, topic, modes["key_format"], modes["value_format"])
    return _json(render.view(msg).as_dict())


def _answered(request: ConsoleRequest, answer) -> HttpResponse:
    """`answer()`, or its error as JSON (a console error by its kind: ERRORS)."""
    if request.method not in ("GET", "HEAD"):
        response = _error(405, "only GET")
        response["Allow"] = "GET, HEAD"
        return response
    try:
        return answer()
    except Http404 as exc:
        return _error(404, str(exc))
    except PermissionDenied as exc:
        return _error(403, str(exc) or "not allowed")
    except SeekError as exc:
        return _error(400, str(exc), field=exc.field or None)
    except KafkaConsoleError as exc:
        status = next(s for cls, s in ERRORS if isinstance(exc, cls))
        return _error(status, str(exc))
