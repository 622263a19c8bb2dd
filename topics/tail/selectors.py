"""What the live tail page shows before the first row arrives: the topic's partitions (or why
the cluster cannot be reached), the filter as the viewer gave it, and how the tail is fed."""

from __future__ import annotations

from urllib.parse import quote

from django.http import QueryDict

from console.clusters import Cluster
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import ClusterUnavailable
from console.messages.decoding import MODES
from console.messages.filters import FIELDS, KINDS, FilterError
from topics.tail.consumers import BUFFER, FLUSH_S, parse_viewer
from topics.tail.hub import hub

# Rows the page keeps; older ones scroll off (the browser shows history).
PAGE_ROWS = 500
TRUE = ("1", "on", "true")


def tail_page_get(*, cluster: Cluster, topic: str, params: QueryDict) -> dict:
    """The tail page's context; NotFound for a missing topic, a panel for a down cluster."""
    partitions: int | None = None
    unavailable = ""
    try:
        snapshot = cluster_snapshot(cluster, topic=topic)  # NotFound -> 404
        partitions = len(snapshot.topics[0].partitions) if snapshot.topics else 0
    except ClusterUnavailable as exc:
        # The tail itself waits for the cluster and resumes: the page still opens.
        unavailable = str(exc)
    return {
        "partitions": partitions,
        "unavailable": unavailable,
        "filter_error": _filter_error(params),
        "stats": hub.stats(cluster.name, topic),
        "ws_path": f"/ws/clusters/{quote(cluster.name)}/topics/{quote(topic)}/tail/",
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
            "case": params.get("case", "") in TRUE,
            "partitions": params.get("partitions", ""),
            "key_format": params.get("key_format", "auto"),
            "value_format": params.get("value_format", "auto"),
        },
    }


def _filter_error(params: QueryDict) -> str:
    """The socket would refuse this filter; say why on the page before it connects."""
    try:
        parse_viewer(params.urlencode(), role="")
    except FilterError as exc:
        return str(exc)
    return ""
