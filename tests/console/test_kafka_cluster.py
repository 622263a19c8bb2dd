"""console.kafka against real brokers: one node and three (replication, racks, failures)."""

import time

import pytest

from console.clusters import get_cluster
from console.kafka.cluster import cluster_overview, cluster_snapshot
from console.kafka.errors import NotFound

pytestmark = pytest.mark.kafka


def test_snapshot_counts_partitions_of_a_new_topic(kafka, topic_factory):
    name = topic_factory(partitions=4)
    snap = cluster_snapshot(get_cluster("local"), topic=name)
    (t,) = snap.topics
    assert (t.name, t.partition_count, t.replication_factor, t.under_replicated) == (name, 4, 1, 0)
    assert all(p.leader == 1 for p in t.partitions)


def test_snapshot_of_missing_topic_is_not_found(kafka):
    with pytest.raises(NotFound):
        cluster_snapshot(get_cluster("local"), topic="does-not-exist-123")


@pytest.mark.kafka3
def test_three_brokers_racks_replication_and_a_stopped_broker(kafka3, topic_factory):
    cluster = get_cluster("triple")
    name = topic_factory(partitions=3, replication=3, bootstrap=kafka3.bootstrap_servers)
    # The broker the console asks may learn of the new topic a moment after the one the
    # factory asked: wait (bounded) until the overview lists it.
    deadline = time.monotonic() + 20
    while True:
        overview = cluster_overview(cluster)
        assert overview.reachable, overview.error
        snap = overview.snapshot
        t = next((t for t in snap.topics if t.name == name), None)
        if t is not None and len(t.partitions) == 3:
            break
        assert time.monotonic() < deadline, f"{name} never showed in the overview"
        time.sleep(0.5)
    assert [b.id for b in snap.brokers] == [1, 2, 3]
    assert {b.rack for b in snap.brokers} == {"rack-1", "rack-2"}
    assert t.replication_factor == 3 and t.under_replicated == 0

    kafka3.stop_node(3)
    deadline = time.monotonic() + 40
    while True:
        snap = cluster_overview(cluster).snapshot
        t = next(t for t in snap.topics if t.name == name)
        broker3 = next(b for b in snap.brokers if b.id == 3)
        if t.under_replicated == 3 and not broker3.online:
            break
        assert time.monotonic() < deadline, "stopped broker never showed as offline"
        time.sleep(1)
    assert all(3 in p.out_of_sync for p in t.partitions)

    kafka3.start_node(3)
    deadline = time.monotonic() + 60
    while True:
        snap = cluster_overview(cluster).snapshot
        t = next(t for t in snap.topics if t.name == name)
        if t.under_replicated == 0 and all(b.online for b in snap.brokers):
            break
        assert time.monotonic() < deadline, "restarted broker never caught up"
        time.sleep(1)
