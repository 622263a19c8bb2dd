"""Consumer-group reads."""

from __future__ import annotations

from dataclasses import dataclass

from console.clusters import Cluster
from console.kafka.client import admin_for, timeout, translate, wait


@dataclass(frozen=True, slots=True)
class GroupListing:
    group_id: str
    state: str
    type: str  # "classic", "consumer" (KIP-848), "share", ... where reported
    is_simple: bool


def _enum_name(value: object) -> str:
    name = getattr(value, "name", None) or str(value)
    return name.replace("_", " ").title().replace(" ", "") if name else "Unknown"


def group_listings(cluster: Cluster) -> list[GroupListing]:
    """Every consumer group with its state and protocol type (one ListGroups request)."""
    result = wait(
        admin_for(cluster).list_consumer_groups(request_timeout=timeout()), what="consumer groups"
    )
    if result.errors:
        # Some brokers did not answer: a partial list would silently hide groups.
        raise translate(result.errors[0], what="listing consumer groups")
    out = []
    for g in result.valid:
        gtype = getattr(g, "type", None)
        out.append(
            GroupListing(
                group_id=g.group_id,
                state=_enum_name(g.state),
                type=(getattr(gtype, "name", "") or "").lower() if gtype is not None else "",
                is_simple=bool(g.is_simple_consumer_group),
            )
        )
    return sorted(out, key=lambda g: g.group_id)
