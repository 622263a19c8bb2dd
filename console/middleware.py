"""Turn domain errors into pages a person can act on: never a 500 for Kafka trouble."""

from __future__ import annotations

import logging

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
        htmx = getattr(request, "htmx", False)
        template = "console/error.html" + ("#panel" if htmx else "")
        response = TemplateResponse(
            request,
            template,
            {"title": title, "message": message, "status": status},
            status=status,
        )
        return response.render()
