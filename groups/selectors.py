"""Reads for the consumer-group pages."""

from __future__ import annotations

from console.clusters import Cluster
from console.kafka.groups import GroupListing, group_listings


def group_list_for(*, cluster: Cluster, q: str = "") -> list[GroupListing]:
    """Consumer groups whose id contains `q` (case-insensitive)."""
    q = q.lower()
    return [g for g in group_listings(cluster) if not q or q in g.group_id.lower()]
