"""The console's Prometheus metrics and the hooks that update them.

A leaf: it imports nothing but prometheus_client, so any module may call its hooks
(console/jobs.py when a job ends, the tail hub when viewers or consumers change). The
endpoint, the request middleware and the lag gauges are in console/monitoring.py; Kafka
request metrics and tail consumers in console/kafka/metrics.py.

With PROMETHEUS_MULTIPROC_DIR set (several web processes, a Celery worker), every
process writes its values to files in that directory and /metrics adds them up; the
directory must be shared by all of them and emptied before they start.
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter(
    "console_http_requests_total",
    "HTTP requests answered, by view name, method and status code.",
    ["view", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "console_http_request_duration_seconds",
    "Time to answer an HTTP request, by view name.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
JOBS = Counter(
    "console_jobs_total",
    "Jobs (Celery tasks) that ended, by kind and outcome (succeeded, failed, cancelled).",
    ["kind", "outcome"],
)
# "livesum": the sum over the processes alive now; a process that exits stops counting
# (its files go when it exits; see _process_exits).
TAIL_VIEWERS = Gauge(
    "console_tail_viewers",
    "Live-tail viewers (open WebSockets) served by the console.",
    multiprocess_mode="livesum",
)

SHARED_PAGES = Counter(
    "console_shared_pages_total",
    "GETs of pages many watch (console/shared_pages.py): answered from a copy younger than "
    "CONSOLE_SHARED_PAGE_S before Django ran (door) or by the view (hit), rendered and kept "
    "(miss), or rendered for one viewer alone (bypass).",
    ["result"],
)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def http_request_observed(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_SECONDS.labels(view).observe(seconds)


def shared_page_observed(result: str) -> None:
    SHARED_PAGES.labels(result).inc()


def job_ended(*, kind: str, outcome: str) -> None:
    """A job reached a final state (console/jobs.py)."""
    JOBS.labels(kind or "unknown", outcome).inc()


def tail_viewers_set(viewers: int) -> None:
    """This process's live-tail viewers over all topics (the tail hub, on every join and
    leave). The consumers they share are counted by console/kafka/metrics.py."""
    TAIL_VIEWERS.set(viewers)


if MULTIPROCESS:

    @atexit.register
    def _process_exits() -> None:
        """Drop this process's "live" gauges (tail counts) from the shared directory."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
