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
"may I" in a page follow the role. Any POST this process serves (a mutation) drops every
copy, so the page after a change is fresh here; another process may show a page up to
``CONSOLE_SHARED_PAGE_S`` old, as a page refreshed a second earlier would.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.utils.html import escape

from console import metrics
from console.access import Capability, can

USER_SPAN = '<span class="username">{}</span>'
USER_HOLE = "\x00console-user\x00"
CSRF_HOLE = "\x00console-csrf\x00"
MASKED_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
HTMX_HEADERS = ("HX-Request", "HX-Target", "HX-Trigger", "HX-Trigger-Name", "HX-Boosted")
MAX_PAGES = 500  # copies kept; beyond that the oldest go


@dataclass(frozen=True, slots=True)
class _Copy:
    at: float
    generation: int
    body: str  # with the holes
    status: int
    headers: tuple[tuple[str, str], ...]


_lock = threading.Lock()
_copies: dict[tuple, _Copy] = {}
_generation = 0


def forget_all() -> None:
    """Drop every copy (a mutation in this process; tests)."""
    global _generation
    with _lock:
        _generation += 1
        _copies.clear()


def _key(request: HttpRequest) -> tuple:
    match = request.resolver_match
    return (
        match.view_name if match else "",
        request.get_full_path(),
        tuple(request.headers.get(h, "") for h in HTMX_HEADERS),
        tuple(can(request.user, c) for c in Capability),
    )


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


def shared_page(view: Callable) -> Callable:
    """Answer a GET from a copy of the same page younger than CONSOLE_SHARED_PAGE_S."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ttl = settings.CONSOLE_SHARED_PAGE_S
        if ttl <= 0 or not _shareable_request(request):
            if ttl > 0:
                metrics.shared_page_observed("bypass")
            return view(request, *args, **kwargs)
        key = _key(request)
        now = time.monotonic()
        with _lock:
            copy = _copies.get(key)
            generation = _generation
        if copy is not None and now - copy.at < ttl and copy.generation == generation:
            metrics.shared_page_observed("hit")
            return _answer(request, copy)
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        body = _with_holes(request, response)
        if body is None:
            metrics.shared_page_observed("bypass")
            return response
        metrics.shared_page_observed("miss")
        headers = tuple((k, v) for k, v in response.items() if k.lower() != "content-length")
        with _lock:
            if generation == _generation:
                if len(_copies) >= MAX_PAGES:
                    for old in sorted(_copies, key=lambda k: _copies[k].at)[: MAX_PAGES // 10]:
                        del _copies[old]
                _copies[key] = _Copy(now, generation, body, response.status_code, headers)
        return response

    return wrapper


class ForgetOnPostMiddleware:
    """Any POST served by this process may have changed what the shared pages show."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.get_response(request)
        forget_all()  # before: no copy from before the change is served during it
        try:
            return self.get_response(request)
        finally:
            forget_all()  # after: nor one a GET rendered while the change was under way
