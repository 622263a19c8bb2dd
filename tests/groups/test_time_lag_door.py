"""The door's first-unread read: one consumer, many partitions and starts, bounded."""

import time

import pytest
from confluent_kafka import Producer

from console.clusters import get_cluster
from console.kafka.groups import first_unread
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_first_unread_reads_on_to_near_starts_and_seeks_to_far_ones(kafka, topic_factory):
    t = topic_factory(partitions=1)
    base = _now_ms() - 10_000_000
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20})
    for i in range(3000):
        p.produce(t, value=b"v", partition=0, timestamp=base + i * 1000)
    p.flush(30)
    starts = [((t, 0), s) for s in (0, 10, 11, 2500, 2999)]
    got = first_unread(get_cluster("local"), starts, max_seconds=5)
    for (_tp, start), first in ((k, got[k]) for k in starts):
        assert first.offset == start
        assert int(first.timestamp.timestamp() * 1000) == base + start * 1000


def test_first_unread_of_only_markers_is_none_and_unanswered_starts_are_left_out(
    kafka, topic_factory
):
    t = topic_factory(partitions=2)
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": unique("tx")})
    p.init_transactions(10)
    p.begin_transaction()
    for i in range(3):
        p.produce(t, value=b"m%d" % i, partition=0)
    p.commit_transaction(10)
    # p0: offsets 0-2 records, 3 the commit marker (end 4); p1: empty (end 0)
    cluster = get_cluster("local")
    got = first_unread(cluster, [((t, 0), 3), ((t, 0), 1), ((t, 1), 0)], max_seconds=5)
    assert got[((t, 0), 3)].offset is None and got[((t, 0), 3)].timestamp is None
    assert got[((t, 0), 1)].offset == 1 and got[((t, 0), 1)].timestamp is not None
    assert got[((t, 1), 0)].offset is None
    # nothing asked, nothing read (no consumer is created)
    assert first_unread(cluster, [], max_seconds=5) == {}
