"""Pages share their Kafka reads (console/kafka/cache.py): within a GET, a cluster's
metadata and watermarks come from the request in flight for other pages, or from one up
to CONSOLE_KAFKA_SHARED_READS_S old; other requests (POSTs: operations) read fresh."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from console.kafka.cache import stale_reads

SAFE_METHODS = frozenset({"GET", "HEAD"})


class SharedKafkaReadsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            return self.get_response(request)
        with stale_reads(settings.CONSOLE_KAFKA_SHARED_READS_S):
            return self.get_response(request)
