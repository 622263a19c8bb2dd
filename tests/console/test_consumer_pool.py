"""The warm pool of read-only consumers for page reads (console.kafka.client.pooled_consumer):
a read reuses an idle consumer of the same cluster and settings, a reader that leaves early
gives a sound consumer back, a failed read never gives one back, and reads from a reused
consumer are exactly those of a fresh one (nothing left over from the last assignment)."""

from __future__ import annotations

import contextlib
import time

import pytest

from console.clusters import get_cluster
from console.kafka import client, messages

pytestmark = pytest.mark.kafka


def _idle() -> int:
    with client._pool_lock:
        return sum(len(v) for v in client._pool.values())


def _read(cluster, topic, ranges) -> list[tuple[int, int, bytes]]:
    out = []
    for batch, _state in messages.scan(cluster, topic, ranges, deadline=time.monotonic() + 10):
        out.extend((m.partition, m.offset, m.value) for m in batch)
    return sorted(out)


def test_reads_reuse_one_consumer_and_see_exactly_their_ranges(kafka, topic_factory, produce):
    cluster = get_cluster("local")
    a, b = topic_factory(partitions=3), topic_factory(partitions=2)
    produce(a, [{"value": f"a{i}".encode(), "partition": i % 3} for i in range(300)])
    produce(b, [{"value": f"b{i}".encode(), "partition": i % 2} for i in range(100)])
    client.close_pooled_consumers()
    first = _read(cluster, a, dict.fromkeys(range(3), (90, 100)))
    assert _idle() == 1
    pooled = next(c for v in client._pool.values() for _t, c in v)
    second = _read(cluster, b, {0: (0, 5), 1: (45, 50)})
    assert _idle() == 1 and next(c for v in client._pool.values() for _t, c in v) is pooled
    third = _read(cluster, a, dict.fromkeys(range(3), (90, 100)))
    assert first == third and len(first) == 30
    assert {v[:1] for _p, _o, v in second} == {b"b"} and len(second) == 10
    assert [(p, o) for p, o, _v in second] == [(0, o) for o in range(5)] + [
        (1, o) for o in range(45, 50)
    ]


def test_a_reader_that_stops_early_gives_the_consumer_back(kafka, topic_factory, produce):
    cluster = get_cluster("local")
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"x" * 100, "partition": 0} for _ in range(5000)])
    client.close_pooled_consumers()
    for _batch, _state in messages.scan(
        cluster, t, {0: (0, 5000)}, deadline=time.monotonic() + 10, batch=100
    ):
        break
    assert _idle() == 1
    assert len(_read(cluster, t, {0: (4990, 5000)})) == 10


def test_a_failed_read_closes_its_consumer(kafka, topic_factory, produce):
    cluster = get_cluster("local")
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"v", "partition": 0} for _ in range(10)])
    client.close_pooled_consumers()
    with pytest.raises(RuntimeError), client.pooled_consumer(cluster) as c:
        c.assign([])
        raise RuntimeError("the reader failed")
    assert _idle() == 0


def test_the_pool_is_bounded(kafka):
    cluster = get_cluster("local")
    client.close_pooled_consumers()
    with contextlib.ExitStack() as stack:
        for _ in range(client._pool_size() + 2):
            stack.enter_context(client.pooled_consumer(cluster))
    assert _idle() == client._pool_size()
    client.close_pooled_consumers()
    assert _idle() == 0
