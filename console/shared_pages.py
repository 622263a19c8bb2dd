"""Pages a wall of dashboards watches: rendered once per role and second, not per viewer.

Twenty people looking at one cluster's overview, topic list or consumer group ask for the
same page with the same role: the Kafka reads are already shared (console/page_reads.py),
and this shares the rest, the rendering. A GET of a ``@shared_page`` view is answered from
this process's copy of the same page (same path and query, same htmx target, same
capabilities, same cluster) when that copy is younger than ``CONSOLE_SHARED_PAGE_S``
(default 1 s; 0 turns it off).

What is the viewer's own in a page is put back for each viewer: the user name in the
header, and the CSRF token (a fresh one for the viewer's own session, so the page's forms
post as theirs). A page is not shared when it carries anything else of one person:
a flash message, a cookie being set, an error status; nor when the viewer has a message
waiting or no CSRF cookie yet. Capabilities are the key, not the user: masking and every
"may I" in a page follow the role.

A page may depend on more of the viewer than that (``shared_page(vary=...)``): a topic's
messages page follows the role's masking rules and the decoders the viewer chose for the
topic; those are part of its key, and such a page is never answered at the door (below),
which sees neither. Searches are not shared: each is one person's.

A copy that expired is rendered again by one request; the viewers who ask meanwhile get
the expired copy (up to STALE_WINDOWS windows old), not a rendering each.

After a POST (a change), the author's own pages are rendered afresh for the next
``CONSOLE_SHARED_PAGE_S`` and become the copies the others get: whoever made a change sees
it at once, everyone else within the window, as a page refreshed a second earlier (or
served by another process) would show it. A POST no longer drops every copy: with people
producing test events, that made every page a miss.

The door (under ASGI, console/asgi_handler.py): once Django has served a viewer a shared
page, the same viewer's next request for it (same session and CSRF cookie, host, path,
query and htmx headers) is answered from the copy before Django runs at all: no session,
user or middleware work, about a tenth of a page's cost. A door stays open only as long as
the console trusts a session it read without reading it again (CONSOLE_IDENTITY_RECENT_S,
console/identity/recent.py), and closes at once when this process logs the session out or
changes any role; the answer carries the headers Django's middleware gave that viewer.
"""

from __future__ import annotations

import contextvars
import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import _mask_cipher_secret, _unmask_cipher_token, get_token
from django.utils.html import escape

from console import metrics
from console.access import Capability, can
from console.identity import recent

USER_SPAN = '<span class="username">{}</span>'
USER_HOLE = "\x00console-user\x00"
CSRF_HOLE = "\x00console-csrf\x00"
MASKED_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
HTMX_HEADERS = ("HX-Request", "HX-Target", "HX-Trigger", "HX-Trigger-Name", "HX-Boosted")
MAX_PAGES = 500  # copies kept; beyond that the oldest go
STALE_WINDOWS = 3  # an expired copy still answers while its successor renders, this many windows


@dataclass(frozen=True, slots=True)
class _Copy:
    at: float
    generation: int
    body: str  # with the holes
    status: int
    headers: tuple[tuple[str, str], ...]
    view: str  # the view's name (metrics)


@dataclass(frozen=True, slots=True)
class _Pass:
    """What the door needs to know of a viewer Django has just served a shared page."""

    until: float
    user_html: str
    csrf_secret: str
    caps: dict[str, tuple[bool, ...]]  # page cluster ("" for none) -> capabilities there


_lock = threading.Lock()
_copies: dict[tuple, _Copy] = {}  # (page, capabilities) -> copy
_generation = 0
_fresh_for: dict[str, float] = {}  # session key -> until when its pages are rendered afresh
_page_cluster: dict[tuple, str] = {}  # page -> its cluster
_final_headers: dict[tuple, tuple[tuple[bytes, bytes], ...]] = {}  # copy key -> headers
_passes: dict[tuple, _Pass] = {}  # (session, CSRF cookie, host, scheme) -> pass
_rendering: dict[tuple, float] = {}  # copy key -> when its one new rendering began
# Set on each request's own context by the ASGI handler; the page notes its door here.
_note: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "shared_page_note", default=None
)


def forget_all() -> None:
    """Drop every copy and pass (tests; a cluster's settings changed)."""
    global _generation
    with _lock:
        _generation += 1
        _copies.clear()
        _rendering.clear()
        _final_headers.clear()
        _passes.clear()


def close_doors(session_key: str | None = None) -> None:
    """Take back the passes of a session (its log-out), or every pass (a role changed)."""
    with _lock:
        if session_key is None:
            _passes.clear()
        else:
            for k in [k for k in _passes if k[0] == session_key]:
                del _passes[k]


recent.on_forget(close_doors)


def _prune(table: dict, now: float, until: Callable[[Any], float]) -> None:
    if len(table) >= MAX_PAGES * 20:
        for k in [k for k, v in table.items() if until(v) <= now] or list(table)[: len(table) // 2]:
            del table[k]


def fresh_for(session_key: str | None) -> None:
    """This session just changed something: its next pages are rendered afresh."""
    if not session_key:
        return
    now = time.monotonic()
    with _lock:
        _prune(_fresh_for, now, lambda until: until)
        _fresh_for[session_key] = now + settings.CONSOLE_SHARED_PAGE_S


def _usable(copy: _Copy | None, key: tuple, now: float, ttl: float, generation: int) -> bool:
    """Whether `copy` may answer now (under _lock): younger than the window; or, while one
    request renders its successor, younger than STALE_WINDOWS windows (a page that expired
    is rendered once, not by every viewer who asks before the new copy is there)."""
    if copy is None or copy.generation != generation:
        return False
    age = now - copy.at
    return age < ttl or (key in _rendering and age < ttl * STALE_WINDOWS)


def _must_be_fresh(session_key: str | None) -> bool:
    until = _fresh_for.get(session_key or "")
    return until is not None and until > time.monotonic()


def _page(request: HttpRequest) -> tuple:
    """The page asked for, as the door sees it too: path, query, htmx headers."""
    return (
        request.path,
        request.META.get("QUERY_STRING", ""),
        tuple(request.headers.get(h, "") for h in HTMX_HEADERS),
    )


def _caps(request: HttpRequest) -> tuple[bool, ...]:
    return tuple(can(request.user, c) for c in Capability)


def _shareable_request(request: HttpRequest) -> bool:
    if request.method != "GET" or not request.user.is_authenticated:
        return False
    if settings.CSRF_COOKIE_NAME not in request.COOKIES:
        return False  # the page would set the cookie: render it for this viewer alone
    return len(get_messages(request)) == 0


def _with_holes(request: HttpRequest, response: HttpResponse) -> str | None:
    """The body with the viewer's own parts cut out, or None when it cannot be shared."""
    if response.status_code != 200 or response.cookies or response.streaming:
        return None
    storage = getattr(request, "_messages", None)
    if storage is not None and getattr(storage, "used", False):
        return None  # a flash message was shown
    charset = response.charset or "utf-8"
    body = response.content.decode(charset)
    user_span = USER_SPAN.format(escape(request.user.get_username()))
    if "text/html" in response.get("Content-Type", ""):
        found = body.count(user_span)
        if found > 1 or (found == 0 and not request.headers.get("HX-Request")):
            return None  # the header changed shape: do not guess where the name is
        body = body.replace(user_span, USER_SPAN.format(USER_HOLE))
    secret = request.META.get("CSRF_COOKIE")
    if secret:

        def hole(m: re.Match) -> str:
            return CSRF_HOLE if _unmask_cipher_token(m.group(0)) == secret else m.group(0)

        body = MASKED_TOKEN.sub(hole, body)
    return body


def _answer(request: HttpRequest, copy: _Copy) -> HttpResponse:
    body = copy.body.replace(USER_HOLE, escape(request.user.get_username()))
    if CSRF_HOLE in body:
        body = body.replace(CSRF_HOLE, get_token(request))
    response = HttpResponse(body, status=copy.status)
    for name, value in copy.headers:
        response[name] = value
    return response


# --- the door ---


def _cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    raw = headers.get(b"cookie")
    if not raw:
        return {}
    jar = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a cookie header Django would parse its own way
        return {}
    return {k: m.value for k, m in jar.items()}


def _pass_key(scope: dict, headers: dict[bytes, bytes], cookies: dict[str, str]) -> tuple:
    return (
        cookies.get(settings.SESSION_COOKIE_NAME, ""),
        cookies.get(settings.CSRF_COOKIE_NAME, ""),
        headers.get(b"host", b""),
        scope.get("scheme", ""),
        headers.get(b"x-forwarded-proto", b""),
    )


def start_note() -> None:
    """A request begins (ASGI handler, on the request's own context)."""
    _note.set({})


def _note_pass(request: HttpRequest, page: tuple, caps: tuple, cluster: str) -> None:
    """Under ASGI, note what the door needs to answer this viewer's next shared pages."""
    note = _note.get()
    scope = getattr(request, "scope", None)
    secret = request.META.get("CSRF_COOKIE")
    if note is None or scope is None or not secret or recent.window() <= 0:
        return
    note["pass"] = (scope, page, caps, cluster, escape(request.user.get_username()), secret)


def open_door(response: HttpResponse) -> None:
    """After Django answered a shared page (ASGI handler): give the viewer a pass for the
    window, and keep the headers the middleware gave the page."""
    note = _note.get()
    found = note.get("pass") if note else None
    if found is None or response.status_code != 200 or response.streaming:
        return
    if any(name != settings.CSRF_COOKIE_NAME for name in response.cookies):
        return  # a session or message cookie being set: this answer was the viewer's own
    scope, page, caps, cluster, user_html, secret = found
    headers = dict(scope.get("headers") or ())
    cookies = _cookies(headers)
    if cookies.get(settings.CSRF_COOKIE_NAME) != secret or "messages" in cookies:
        return
    final = tuple(
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.items()
        if k.lower() != "content-length"
    )
    key = _pass_key(scope, headers, cookies)
    now = time.monotonic()
    with _lock:
        _final_headers[(page, caps)] = final
        old = _passes.get(key)
        known = dict(old.caps) if old and old.user_html == user_html and old.until > now else {}
        known[cluster] = caps
        _prune(_passes, now, lambda p: p.until)
        _passes[key] = _Pass(now + recent.window(), user_html, secret, known)


def through_door(scope: dict) -> tuple[int, list, bytes] | None:
    """The answer to a GET from its copy, without Django, or None (Django answers)."""
    if scope.get("method") != "GET" or not _passes:
        return None
    started = time.perf_counter()
    headers = dict(scope.get("headers") or ())
    page = (
        scope.get("path", ""),
        scope.get("query_string", b"").decode("latin-1"),
        tuple(headers.get(h.lower().encode(), b"").decode("latin-1") for h in HTMX_HEADERS),
    )
    cluster = _page_cluster.get(page)
    if cluster is None:
        return None  # not a door page (messages, searches...): no cookie parsing for it
    cookies = _cookies(headers)
    if "messages" in cookies:
        return None
    now = time.monotonic()
    ttl = settings.CONSOLE_SHARED_PAGE_S
    with _lock:
        viewer = _passes.get(_pass_key(scope, headers, cookies))
        if viewer is None or viewer.until <= now:
            return None
        caps = viewer.caps.get(cluster)
        copy = _copies.get((page, caps))
        final = _final_headers.get((page, caps))
        fresh = _fresh_for.get(cookies.get(settings.SESSION_COOKIE_NAME, ""), 0.0) > now
        usable = _usable(copy, (page, caps), now, ttl, _generation)
    if not usable or final is None or fresh:
        return None
    body = copy.body.replace(USER_HOLE, viewer.user_html)
    if CSRF_HOLE in body:
        body = body.replace(CSRF_HOLE, _mask_cipher_secret(viewer.csrf_secret))
    data = body.encode()
    metrics.shared_page_observed("door")
    metrics.http_request_observed(
        view=copy.view, method="GET", status=copy.status, seconds=time.perf_counter() - started
    )
    return copy.status, [*final, (b"Content-Length", str(len(data)).encode())], data


def shared_page(view: Callable | None = None, *, vary: Callable | None = None) -> Callable:
    """Answer a GET from a copy of the same page younger than CONSOLE_SHARED_PAGE_S.

    `vary(request, *args, **kwargs)`: what else of the viewer the page depends on (a
    tuple, part of the copy's key), or None when this request must be rendered for the
    viewer alone (it changes something of theirs, say). A page with `vary` is never
    answered at the door, which cannot see it."""
    if view is None:
        return functools.partial(shared_page, vary=vary)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ttl = settings.CONSOLE_SHARED_PAGE_S
        extra = () if vary is None or ttl <= 0 else vary(request, *args, **kwargs)
        if ttl <= 0 or extra is None or not _shareable_request(request):
            if ttl > 0:
                metrics.shared_page_observed("bypass")
            return view(request, *args, **kwargs)
        page, caps = _page(request), _caps(request)
        cluster = str(getattr(request.user, "console_cluster", "") or "")
        key = (page, caps, *extra)  # a door page's: (page, caps), as the door looks it up
        door = vary is None
        now = time.monotonic()
        fresh = _must_be_fresh(request.session.session_key)
        with _lock:
            copy = _copies.get(key) if not fresh else None
            generation = _generation
            if not _usable(copy, key, now, ttl, generation):
                copy = None
                _rendering[key] = now  # the others get the copy they have while this renders
        if copy is not None:
            metrics.shared_page_observed("hit")
            if door:
                _note_pass(request, page, caps, cluster)
            return _answer(request, copy)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        finally:
            with _lock:
                if _rendering.get(key) == now:
                    del _rendering[key]
        body = _with_holes(request, response)
        if body is None:
            metrics.shared_page_observed("bypass")
            return response
        metrics.shared_page_observed("miss")
        headers = tuple((k, v) for k, v in response.items() if k.lower() != "content-length")
        match = request.resolver_match
        made = _Copy(
            now, generation, body, response.status_code, headers, match.view_name if match else ""
        )
        with _lock:
            stored = generation == _generation
            if stored:
                if len(_copies) >= MAX_PAGES:
                    for old in sorted(_copies, key=lambda k: _copies[k].at)[: MAX_PAGES // 10]:
                        del _copies[old]
                        _final_headers.pop(old, None)
                _copies[key] = made
                if door:
                    if len(_page_cluster) >= MAX_PAGES * 4:
                        _page_cluster.clear()
                    _page_cluster[page] = cluster
        if stored and not fresh and door:
            _note_pass(request, page, caps, cluster)
        return response

    return wrapper


class FreshAfterPostMiddleware:
    """A POST may have changed what the shared pages show: its author's pages are rendered
    afresh for the next CONSOLE_SHARED_PAGE_S (from the start of the change, so a page
    the author loads while it runs is fresh too)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or settings.CONSOLE_SHARED_PAGE_S <= 0:
            return self.get_response(request)
        before = request.session.session_key
        fresh_for(before)
        try:
            return self.get_response(request)
        finally:
            after = request.session.session_key
            fresh_for(before)
            if after != before:
                fresh_for(after)
