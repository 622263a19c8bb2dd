"""/metrics: Prometheus' text format, behind a bearer token or an allowed network.

What it exports: request counts and latency by view (RequestMetricsMiddleware), Kafka
request latency and errors by cluster (console/kafka/metrics.py), jobs by kind and outcome
and live-tail viewers and consumers (console/metrics.py), and, for clusters with
`lag_metrics = true`, each group's lag per partition as the lag sampler last saw it
(LagSnapshot rows, so every web process exports the same figures, wherever the worker runs).
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from console import metrics
from console.models import LagSnapshot


@cache
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in spec)


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read /metrics, else the 401/403 to answer.

    A request passes with `Authorization: Bearer <CONSOLE_METRICS_TOKEN>`, or when it comes
    from a network in CONSOLE_METRICS_ALLOW (the peer address the server reports). With
    neither setting, /metrics is closed to everyone.
    """
    token = settings.CONSOLE_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
            return None
        return HttpResponse("wrong metrics token\n", status=403, content_type="text/plain")
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        peer = None
    networks = _networks(tuple(settings.CONSOLE_METRICS_ALLOW))
    if peer is not None and any(peer in net for net in networks):
        return None
    if token:
        response = HttpResponse(
            "metrics need a bearer token\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(
        "metrics are closed: set CONSOLE_METRICS_TOKEN or CONSOLE_METRICS_ALLOW\n"
        if not networks
        else "this address may not read metrics\n",
        status=403,
        content_type="text/plain",
    )


class LagCollector:
    """Per-partition lag of the opted-in clusters, from the sampler's latest snapshots."""

    def collect(self) -> Iterator[Metric]:
        from console.clusters import all_clusters

        opted_in = {c.name for c in all_clusters() if getattr(c, "lag_metrics", False)}
        lag = GaugeMetricFamily(
            "console_group_lag",
            "Messages a consumer group is behind on a partition (log end offset minus "
            "committed offset), as of the lag sampler's last run.",
            labels=["cluster", "group", "topic", "partition"],
        )
        taken = GaugeMetricFamily(
            "console_group_lag_sampled_timestamp_seconds",
            "When the lag sampler last read the cluster's lag (Unix time).",
            labels=["cluster"],
        )
        if opted_in:
            for snap in LagSnapshot.objects.filter(cluster__in=opted_in):
                taken.add_metric([snap.cluster], snap.taken_at.timestamp())
                for group, topic, partition, committed, end in snap.rows:
                    lag.add_metric(
                        [snap.cluster, group, topic, str(partition)], max(0, end - committed)
                    )
        yield lag
        yield taken


class _ProcessRegistry:
    """This process's own metrics (the default registry), as one collector."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """What one scrape exports: every process's values in multiprocess mode, else this
    process's; plus the lag gauges read from the database."""
    registry = CollectorRegistry()
    if metrics.MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(LagCollector())
    return registry


@login_not_required
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape endpoint (see metrics_refusal for who may read it)."""
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    # Prometheus asks for OpenMetrics; curl and older scrapers get the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(metrics_registry()), content_type=content_type)


class RequestMetricsMiddleware:
    """Count and time every request by its view name (`console:clusters`, `topics:list`);
    requests that match no URL count as `unmatched`."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        metrics.http_request_observed(
            view=match.view_name if match else "unmatched",
            method=request.method or "",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


def lag_snapshot_save(*, cluster, committed: dict, marks: dict, at=None) -> None:
    """Keep the sampler's per-partition lag of `cluster` for /metrics, if it opted in
    (`lag_metrics`); drop an earlier snapshot when it no longer does."""
    if not getattr(cluster, "lag_metrics", False):
        LagSnapshot.objects.filter(cluster=cluster.name).delete()
        return
    rows = []
    for group, offsets in committed.items():
        if not isinstance(offsets, dict):
            continue  # the group's offsets could not be read this time
        for (topic, partition), offset in offsets.items():
            high = getattr(marks.get((topic, partition)), "high", None)
            if high is not None:
                rows.append([group, topic, partition, offset, high])
    LagSnapshot.objects.update_or_create(
        cluster=cluster.name, defaults={"taken_at": at or timezone.now(), "rows": rows}
    )
