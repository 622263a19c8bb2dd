"""/healthz and /readyz for load balancers and orchestrators; no log-in needed.

/healthz: the process answers (no I/O). /readyz: the database, the channel layer and the
task queue (Celery broker) answer, each within CONSOLE_READYZ_TIMEOUT seconds, checked
at once; 503 when one does not. Kafka clusters are reported but never make the console
unready: a down cluster is a page's business, not a reason to stop serving the others.
Why a part failed is told only to requests that may read /metrics; others get the
error's class.

ProbeMiddleware, first in MIDDLEWARE, answers these paths (and /metrics) before host
validation and the HTTPS redirect, so a balancer can probe a backend by address over plain
HTTP; nothing in their answers depends on the Host header.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from console.monitoring import metrics_refusal, metrics_view

KAFKA_RECHECK_S = 10.0


def _in_thread(fn: Callable[[], Any]) -> concurrent.futures.Future:
    """Run `fn` in a daemon thread of its own: a check that hangs past its bound is left
    behind and never holds up a later probe. The future's result is (value, seconds)."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        started = time.monotonic()
        try:
            future.set_result((fn(), time.monotonic() - started))
        except BaseException as exc:  # noqa: BLE001 - reported as the check's failure
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True, name="readyz-check").start()
    return future


def check_database() -> str:
    from django.db import connections

    conn = connections["default"]  # this thread's own connection, closed below
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()
    return conn.vendor


def check_channel_layer() -> str:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        # Group membership is a write and a delete on the layer's store (Redis): no
        # message to receive, so nothing competes with the consumers of this process.
        group, channel = "readyz", f"readyz.{uuid.uuid4().hex}"
        await layer.group_add(group, channel)
        await layer.group_discard(group, channel)

    asyncio.run(round_trip())  # its own loop: connections made here close with it
    return type(layer).__name__


def check_task_queue() -> str:
    from console.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0)  # one attempt, bounded by the connect timeout
        return conn.transport.driver_type


REQUIRED: dict[str, Callable[[], str]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "task_queue": check_task_queue,
}


def check_kafka(cluster) -> str:
    from console.kafka.cluster import broker_racks

    return f"{len(broker_racks(cluster))} broker(s)"


class _KafkaChecks:
    """The latest result per cluster, refreshed in the background at most every
    KAFKA_RECHECK_S seconds: a probe never waits for a cluster."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, tuple[float, concurrent.futures.Future]] = {}
        self._last: dict[str, dict[str, Any]] = {}

    def status(self, cluster) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            started, future = self._checks.get(cluster.name, (0.0, None))
            if future is not None and future.done():
                self._last[cluster.name] = _outcome(future, KAFKA_RECHECK_S)
            if future is None or (future.done() and now - started > KAFKA_RECHECK_S):
                self._checks[cluster.name] = (now, _in_thread(lambda: check_kafka(cluster)))
            return dict(self._last.get(cluster.name, {"ok": None, "detail": "checking"}))

    def reset(self) -> None:
        with self._lock:
            self._checks.clear()
            self._last.clear()


kafka_checks = _KafkaChecks()


def _outcome(future: concurrent.futures.Future, bound: float) -> dict[str, Any]:
    if not future.done():
        return {"ok": False, "error": f"no answer within {bound:g} s"}
    exc = future.exception()
    if exc is not None:
        # The first line says enough (drivers add pages of hints); class first, for alerts.
        lines = str(exc).strip().splitlines() or [""]
        return {"ok": False, "error": f"{type(exc).__name__}: {lines[0][:200]}"}
    detail, seconds = future.result()
    return {"ok": True, "detail": detail, "ms": round(seconds * 1000, 1)}


def _redacted(result: dict[str, Any]) -> dict[str, Any]:
    if "error" not in result:
        return result
    return {**result, "error": result["error"].split(":", 1)[0]}


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving (no I/O)."""
    return HttpResponse("ok\n", content_type="text/plain")


@login_not_required
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """The parts every page needs answer: 200, else 503; Kafka clusters for information."""
    from console.clusters import all_clusters

    bound = settings.CONSOLE_READYZ_TIMEOUT
    futures = {name: _in_thread(check) for name, check in REQUIRED.items()}
    concurrent.futures.wait(futures.values(), timeout=bound)
    checks = {name: _outcome(future, bound) for name, future in futures.items()}
    ready = all(c["ok"] for c in checks.values())
    kafka = {c.name: kafka_checks.status(c) for c in all_clusters()}
    if metrics_refusal(request) is not None:
        # Error messages name hosts and ports: only the error's class for anyone who may
        # not read /metrics either (a balancer needs the status code, not the reason).
        checks = {name: _redacted(result) for name, result in checks.items()}
        kafka = {name: _redacted(result) for name, result in kafka.items()}
    body = {"status": "ready" if ready else "unavailable", "checks": checks, "kafka": kafka}
    return JsonResponse(body, status=200 if ready else 503)


class ProbeMiddleware:
    """Answer /healthz, /readyz and /metrics ahead of the rest of the middleware."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.views = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info.rstrip("/") or "/")
        if view is None:
            return self.get_response(request)
        return view(request)
