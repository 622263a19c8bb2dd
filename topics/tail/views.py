"""The live tail page. Rows arrive over the WebSocket (topics.tail.consumers); this view renders
the page, its filter form (the message browser's parameters) and how the tail is fed."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from console.access import Capability
from console.web import ConsoleRequest, cluster_view
from topics.tail.selectors import tail_page_get


@require_GET
@cluster_view(Capability.READ_MESSAGES)
def topic_tail(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Live tail of a topic: newest first, filtered server side, fed by a shared consumer."""
    page = tail_page_get(cluster=request.cluster, topic=topic, params=request.GET)
    return TemplateResponse(
        request,
        "topics/tail/tail.html",
        {"cluster": request.cluster, "topic": topic, "tab": "tail", **page},
    )
