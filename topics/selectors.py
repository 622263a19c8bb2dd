"""Reads for the topic pages."""

from __future__ import annotations

from console.clusters import Cluster
from console.kafka.cluster import cluster_snapshot
from console.kafka.types import TopicInfo


def topic_list_for(*, cluster: Cluster, q: str = "", internal: bool = False) -> list[TopicInfo]:
    """Topics whose name contains `q` (case-insensitive); internal ones only when asked."""
    q = q.lower()
    return [
        t
        for t in cluster_snapshot(cluster).topics
        if (internal or not t.internal) and (not q or q in t.name.lower())
    ]
