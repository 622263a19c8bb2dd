"""Shared Kafka reads for pages: one request serves concurrent (and, when allowed, recent)
askers; a topic just created is never reported missing; a change made here is seen at
once; operations read fresh."""

from __future__ import annotations

import threading
import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from console.kafka import cache
from console.kafka.errors import ClusterUnavailable, NotFound
from console.page_reads import SharedKafkaReadsMiddleware
from tests.conftest import unique


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_concurrent_askers_share_one_load_and_recent_ones_reuse_it():
    calls = []
    gate = threading.Event()

    def load():
        calls.append(1)
        gate.wait(5)
        return {"n": len(calls)}

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.shared("c", "k", 1.0, load)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and results == [{"n": 1}] * 8
    assert cache.shared("c", "k", 1.0, load) == {"n": 1}  # recent: no new load
    time.sleep(0.15)
    assert cache.shared("c", "k", 0.1, load) == {"n": 2}  # older than asked: loaded again
    assert cache.shared("c", "k", 0, load) == {"n": 3}  # 0: only what is in flight
    assert cache.shared("c", "k", cache.FRESH, load) == {"n": 4}


def test_errors_reach_every_waiter_but_are_not_kept():
    calls = []

    def failing():
        calls.append(1)
        time.sleep(0.3)
        raise ClusterUnavailable("down")

    errors = []

    def ask():
        try:
            cache.shared("c", "e", 1.0, failing)
        except ClusterUnavailable as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(errors) == 5
    assert cache.shared("c", "e", 1.0, lambda: "up") == "up"


def test_invalidate_drops_a_cluster_and_only_that_one():
    cache.shared("a", "k", 60, lambda: 1)
    cache.shared("b", "k", 60, lambda: 1)
    cache.invalidate("a")
    assert cache.shared("a", "k", 60, lambda: 2) == 2
    assert cache.shared("b", "k", 60, lambda: 2) == 1


def test_only_get_and_head_requests_may_read_shared():
    seen = {}

    def view(request):
        seen[request.method] = cache.allowed_age()
        return HttpResponse()

    middleware = SharedKafkaReadsMiddleware(view)
    factory = RequestFactory()
    with override_settings(CONSOLE_KAFKA_SHARED_READS_S=0.5):
        for method in ("get", "head", "post", "delete"):
            middleware(getattr(factory, method)("/"))
    assert seen["GET"] == seen["HEAD"] == 0.5
    assert seen["POST"] == seen["DELETE"] == cache.FRESH
    assert cache.allowed_age() == cache.FRESH  # nothing leaks past the request


@pytest.mark.kafka
def test_a_shared_snapshot_never_hides_a_new_topic_nor_keeps_one_deleted_here(kafka, topic_factory):
    from console.clusters import get_cluster
    from console.kafka.cluster import cluster_snapshot
    from console.kafka.topics import topic_delete

    cluster = get_cluster("local")
    with cache.stale_reads(60):
        before = {t.name for t in cluster_snapshot(cluster).topics}
        name = topic_factory(unique("shared"))  # created behind the console's back
        assert name not in {t.name for t in cluster_snapshot(cluster).topics}  # shared: old
        (info,) = cluster_snapshot(cluster, topic=name).topics  # asked by name: fresh
        assert info.partition_count == 3
        assert name not in before
        topic_delete(cluster, name=name)  # a change through the console: seen at once
        assert name not in {t.name for t in cluster_snapshot(cluster).topics}
        with pytest.raises(NotFound):
            cluster_snapshot(cluster, topic=name)
    # Outside a page (operations, tasks) nothing is shared.
    assert cache.allowed_age() == cache.FRESH


@pytest.mark.kafka
def test_shared_watermarks_serve_recent_askers_and_fresh_ones_see_new_messages(
    kafka, topic, produce
):
    from console.clusters import get_cluster
    from console.kafka.offsets import watermarks

    cluster = get_cluster("local")
    parts = [(topic, p) for p in range(3)]
    with cache.stale_reads(60):
        first = watermarks(cluster, parts)
        produce(topic, [b"x"] * 9)
        assert watermarks(cluster, parts) == first
    assert sum(m.high for m in watermarks(cluster, parts).values()) == 9
