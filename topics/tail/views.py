"""The live tail page. Rows arrive over the WebSocket (topics.tail.consumers); this view renders
the page, its filter form (the message browser's parameters) and how the tail is fed."""

from __future__ import annotations

from urllib.parse import quote

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from console.access import Capability
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import ClusterUnavailable
from console.messages.decoding import MODES
from console.messages.filters import FIELDS, KINDS, FilterError
from console.web import ConsoleRequest, cluster_view
from topics.tail.consumers import BUFFER, FLUSH_S, parse_viewer
from topics.tail.hub import hub

# Rows the page keeps; older ones scroll off (the browser shows history).
PAGE_ROWS = 500


@require_GET
@cluster_view(Capability.READ_MESSAGES)
def topic_tail(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Live tail of a topic: newest first, filtered server side, fed by a shared consumer."""
    partitions: int | None = None
    unavailable = ""
    try:
        snapshot = cluster_snapshot(request.cluster, topic=topic)  # NotFound -> 404
        partitions = len(snapshot.topics[0].partitions) if snapshot.topics else 0
    except ClusterUnavailable as exc:
        # The tail itself waits for the cluster and resumes: the page still opens.
        unavailable = str(exc)
    filter_error = ""
    try:
        parse_viewer(request.GET.urlencode(), role="")
    except FilterError as exc:
        filter_error = str(exc)
    stats = hub.stats(request.cluster.name, topic)
    params = request.GET
    return TemplateResponse(
        request,
        "topics/tail/tail.html",
        {
            "cluster": request.cluster,
            "topic": topic,
            "tab": "tail",
            "partitions": partitions,
            "unavailable": unavailable,
            "filter_error": filter_error,
            "stats": stats,
            "ws_path": f"/ws/clusters/{quote(request.cluster.name)}/topics/{quote(topic)}/tail/",
            "page_rows": PAGE_ROWS,
            "buffer": BUFFER,
            "flush_ms": int(FLUSH_S * 1000),
            "fields": FIELDS,
            "kinds": KINDS,
            "formats": MODES,
            "f": {
                "q": params.get("q", ""),
                "field": params.get("field", "value"),
                "kind": params.get("kind", "contains"),
                "header": params.get("header", ""),
                "case": params.get("case", "") in ("1", "on", "true"),
                "partitions": params.get("partitions", ""),
                "key_format": params.get("key_format", "auto"),
                "value_format": params.get("value_format", "auto"),
            },
        },
    )
