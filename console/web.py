"""View helpers shared by every app: cluster resolution, role checks, htmx partial choice."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from console.access import Capability, CapabilityDenied, require
from console.clusters import Cluster, get_cluster

# Kafka's own rule for every topic (org.apache.kafka.common.internals.Topic): no other name
# can exist, so the cluster is not asked about one (librdkafka may even refuse to send it).
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")


class ConsoleRequest(HttpRequest):
    """What views receive: the resolved cluster and the htmx details."""

    htmx: HtmxDetails
    cluster: Cluster


def cluster_view(capability: Capability = Capability.VIEW) -> Callable:
    """Resolve the ``cluster`` URL argument to ``request.cluster`` and check the role.

    An unknown cluster is a 404, and so is a ``topic`` argument no Kafka topic can be named;
    a missing role a 403 that names the role needed.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: ConsoleRequest, cluster: str, *args: Any, **kwargs: Any):
            found = get_cluster(cluster)
            if found is None:
                raise Http404(f"No cluster named {cluster!r} is configured.")
            topic = kwargs.get("topic")
            if topic is not None and (not TOPIC_NAME.fullmatch(topic) or topic in (".", "..")):
                raise Http404(
                    f"No topic can be named {topic[:300]!r}: Kafka topic names are 1 to 249 "
                    "letters, digits, '.', '_' and '-'."
                )
            # can(), role_of() and require() on this request now mean "on this cluster":
            # roles given on single clusters count here, and only here.
            request.user.console_cluster = found.name
            try:
                require(request.user, capability)
            except CapabilityDenied as exc:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    # A refused change is audited even when no service was reached.
                    from console.audit import audit_record

                    audit_record(
                        user=request.user,
                        cluster=found.name,
                        action=f"{request.method} "
                        f"{request.resolver_match.view_name if request.resolver_match else ''}",
                        target=request.path,
                        outcome="denied",
                        detail=str(exc),
                    )
                raise
            request.cluster = found
            return view(request, *args, **kwargs)

        wrapper.capability = capability  # read by the URL × role test
        return wrapper

    return decorator


def partial(request: ConsoleRequest, template: str, name: str) -> str:
    """The page's template, or only its ``name`` partial for an htmx request."""
    return f"{template}#{name}" if request.htmx else template


# --- list pages (topics, groups): links that keep the search, filter, sort and page -------


def query_with(request: HttpRequest, **changes: str | None) -> str:
    """The current query with `changes` (None drops a key): links keep search and filter."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode()


def sort_links(request: HttpRequest, sorts, sort: str, desc: bool) -> dict[str, str]:
    """Per sortable column, where a click on its header goes: that sort from page 1, or the
    current one turned round."""
    return {
        name: query_with(
            request, sort=name, desc="1" if name == sort and not desc else None, page=None
        )
        for name in sorts
    }


def page_links(request: HttpRequest, page: int, pages: int) -> dict[str, str]:
    """The previous and next pages' links ("" at either end)."""
    return {
        "previous": query_with(request, page=str(page - 1)) if page > 1 else "",
        "next": query_with(request, page=str(page + 1)) if page < pages else "",
    }


def int_param(value: str | None, default: int) -> int:
    """A whole-number query parameter; `default` when missing or not a number."""
    try:
        return int(value) if value else default
    except ValueError:
        return default
