"""Two guards at the edge: input no page can use is refused up front (400, with the reason),
and domain errors become pages a person can act on: never a 500 for bad input or Kafka trouble.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from console.jobs import EnqueueFailed
from console.kafka.errors import (
    ClusterUnavailable,
    InvalidRequest,
    KafkaConsoleError,
    NotAllowed,
    NotFound,
)

log = logging.getLogger(__name__)

# C0 controls and DEL are never part of a name, a number or a search in an address. Tab, CR
# and LF are ordinary in a posted textarea (a message value, headers, topic configs), so
# form bodies may carry those three; NUL and the other controls are refused everywhere.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lone surrogates cannot come out of valid UTF-8; a server decoding loosely could let them in.
SURROGATE = re.compile(r"[\ud800-\udfff]")
NAMES = {0: "NUL", 9: "tab", 10: "line feed", 13: "carriage return", 27: "ESC", 127: "DEL"}
# WSGI: Django re-percent-encodes path bytes that are not UTF-8 (%FF), so a decoded path
# holding %80-%FF came (almost surely) from invalid UTF-8.
REPERCENT = re.compile(r"%[89A-F][0-9A-F]")
MAX_SEGMENT = 1000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _char(c: str) -> str:
    name = NAMES.get(ord(c))
    return f"U+{ord(c):04X}" + (f" {name}" if name else "")


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def text_problem(text: str, what: str, *, body: bool = False) -> str:
    """Why `text` (a path segment, query or form value) is refused; '' when it is fine."""
    found = (BODY_CONTROL if body else CONTROL).search(text)
    if found:
        return (
            f"{what} contains a control character ({_char(found.group())}) at position "
            f"{found.start() + 1}; remove it and try again."
        )
    if SURROGATE.search(text):
        return f"{what} is not valid UTF-8 text."
    return ""


def path_problem(path: str) -> str:
    """Why a decoded request path is refused; '' when it is fine."""
    for segment in path.split("/"):
        shown = _shown(segment)
        problem = text_problem(segment, f"The address part {shown}")
        if problem:
            return problem
        if len(segment) > MAX_SEGMENT:
            # Kafka names are short (topics at most 249 characters); a huge one only costs
            # the cluster a request (a group id over 32 KB even stalls the connection).
            return (
                f"The address part {shown} is {len(segment)} characters long; "
                f"names in the console's addresses have at most {MAX_SEGMENT}."
            )
    return ""


def raw_path_problem(raw: bytes) -> str:
    """Why a request path, as percent-decoded bytes, is refused; '' when it is fine."""
    try:
        path = raw.decode()
    except UnicodeDecodeError:
        return (
            f"The address {_shown(raw.decode(errors='backslashreplace'))} is not valid UTF-8 "
            "text (a byte such as %FF)."
        )
    return path_problem(path)


def _pairs(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Name and value bytes of a query string or url-encoded body, decoded as Django does."""
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            yield (
                unquote_to_bytes(name.replace(b"+", b" ")),
                unquote_to_bytes(value.replace(b"+", b" ")),
            )


def pairs_problem(raw: bytes, *, body: bool) -> str:
    """Why a query string (or a url-encoded form body) is refused; '' when it is fine.

    Values are never repeated in the message: a form value may be a password.
    """
    kind = "form field" if body else "query parameter"
    for raw_name, raw_value in _pairs(raw):
        try:
            name = raw_name.decode()
        except UnicodeDecodeError:
            return f"A {kind} name is not valid UTF-8 text."
        problem = text_problem(name, f"A {kind} name", body=body)
        if problem:
            return problem
        try:
            value = raw_value.decode()
        except UnicodeDecodeError:
            return f"The {kind} {_shown(name)} is not valid UTF-8 text."
        problem = text_problem(value, f"The {kind} {_shown(name)}", body=body)
        if problem:
            return problem
    return ""


# The WebSocket scope's key for the server's own send, kept by console.routing.guarded before
# Channels' session middleware wraps it: the live tail sends its rows frames there.
TRANSPORT_SEND = "console.transport_send"


def scope_problem(scope: dict) -> str:
    """Why an ASGI connection's path or query is refused (HTTP or WebSocket); '' if fine."""
    raw_path = scope.get("raw_path")
    if raw_path:  # the bytes the client sent, still percent-encoded
        problem = raw_path_problem(unquote_to_bytes(raw_path.split(b"?", 1)[0]))
    else:
        problem = path_problem(scope.get("path", ""))
    return problem or pairs_problem(scope.get("query_string", b""), body=False)


def request_problem(request: HttpRequest) -> str:
    """Why the request's path, query or form body is refused; '' when all are fine."""
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGI
        problem = scope_problem(scope)
    else:  # WSGI (and the test client): Django has decoded the path already
        problem = path_problem(request.path_info)
        if not problem and REPERCENT.search(request.path_info):
            problem = f"The address {_shown(request.path_info)} is not valid UTF-8 text."
        # PEP 3333: the query string's bytes, each as one latin-1 character.
        query = request.META.get("QUERY_STRING", "")
        try:
            raw_query = query.encode("latin-1")
        except UnicodeEncodeError:
            raw_query = query.encode(errors="surrogatepass")
        problem = problem or pairs_problem(raw_query, body=False)
    if problem or request.content_type not in FORM_TYPES:
        return problem
    if request.content_type == FORM_TYPES[0]:
        return pairs_problem(request.body, body=True)
    # Multipart: the parsed text fields (Django has decoded them, invalid UTF-8 replaced by
    # U+FFFD); uploaded files are data, never checked, and the body is never read twice.
    for name, values in request.POST.lists():
        for text, what in [(name, "A form field name")] + [
            (v, f"The form field {_shown(name)}") for v in values
        ]:
            problem = text_problem(text, what, body=True)
            if problem:
                return problem
    return ""


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    """The console's error page (only its panel for an htmx request) with `status`."""
    htmx = getattr(request, "htmx", None)
    if htmx is None:  # before HtmxMiddleware ran
        htmx = request.headers.get("HX-Request") == "true"
    template = "console/error.html" + ("#panel" if htmx else "")
    response = TemplateResponse(
        request, template, {"title": title, "message": message, "status": status}, status=status
    )
    return response.render()


class BadInputMiddleware:
    """Refuse control characters and invalid UTF-8 in the path, the query and form fields,
    and a path segment longer than MAX_SEGMENT: 400, with the reason.

    One check for every route, before any view or Kafka call: such input is never a valid
    topic, group, number or search, and passed on it turns into 500s deep down (a NUL byte
    in a topic name makes the Kafka client raise ValueError).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request_problem(request)
        if problem:
            log.info("bad input refused on %r: %s", request.path[:200], problem)
            return error_page(request, 400, "Bad request", problem)
        return self.get_response(request)


STATUS = [
    (ClusterUnavailable, 503, "Cluster unreachable"),
    (NotFound, 404, "Not found"),
    (NotAllowed, 403, "Refused by Kafka"),
    (InvalidRequest, 400, "Kafka refused the request"),
    (KafkaConsoleError, 502, "Kafka error"),
]


class ConsoleErrorMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, EnqueueFailed):
            return self._render(request, 503, "Task queue unreachable", str(exc))
        if isinstance(exc, PermissionDenied) and str(exc):
            return self._render(request, 403, "Not allowed", str(exc))
        for cls, status, title in STATUS:
            if isinstance(exc, cls):
                log.info("%s on %s: %s", cls.__name__, request.path, exc)
                return self._render(request, status, title, str(exc))
        return None

    def _render(self, request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
        return error_page(request, status, title, message)
