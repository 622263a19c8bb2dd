"""Demo data: topics, a clickstream, and a consumer group that has read part of it."""

from __future__ import annotations

import random
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from console.clusters import Cluster
from console.generators import clickstream_event, order_event
from console.kafka.client import admin_for, producer, timeout, translate, wait_all
from console.kafka.errors import ClusterUnavailable

DEMO_TOPICS = {"clicks": 6, "orders": 3}
DEMO_GROUP = "clicks-analytics"


def demo_topics_create(cluster: Cluster) -> list[str]:
    """Create the demo topics that do not exist yet; returns the names created."""
    admin = admin_for(cluster)
    existing = set(admin.list_topics(timeout=timeout()).topics)
    new = [NewTopic(n, p, 1) for n, p in DEMO_TOPICS.items() if n not in existing]
    if not new:
        return []
    results = wait_all(admin.create_topics(new, operation_timeout=timeout()), what="demo topics")
    for _name, res in results.items():
        if isinstance(res, Exception) and "already exists" not in str(res):
            raise res
    deadline = time.monotonic() + 30
    while True:  # a new topic's leaders take a moment to be elected
        md = admin.list_topics(timeout=timeout()).topics
        if all(
            n in md and all(p.leader >= 0 for p in md[n].partitions.values()) for n in DEMO_TOPICS
        ):
            return [t.topic for t in new]
        if time.monotonic() > deadline:
            raise ClusterUnavailable("demo topics were created but have no leaders after 30 s")
        time.sleep(0.2)


def demo_produce(cluster: Cluster, *, clicks: int, orders: int, seed: int | None = None) -> None:
    """Produce `clicks` clickstream events and `orders` order events; wait for delivery."""
    rng = random.Random(seed)
    p = producer(cluster, **{"linger.ms": 20, "compression.type": "lz4"})
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    for seq in range(clicks):
        key, value = clickstream_event(rng, seq)
        p.produce("clicks", key=key, value=value, on_delivery=report)
        if seq % 1000 == 0:
            p.poll(0)
    for seq in range(orders):
        key, value = order_event(rng, seq)
        p.produce("orders", key=key, value=value, on_delivery=report)
    remaining = p.flush(timeout() * 4)
    if remaining or failed:
        raise translate(failed[0] if failed else TimeoutError(), what="demo produce")


def demo_group_consume(cluster: Cluster, *, group: str = DEMO_GROUP, fraction: float = 0.5) -> int:
    """Commit offsets for `group` at `fraction` of each clicks partition, so lag shows."""
    admin = admin_for(cluster)
    md = admin.list_topics(topic="clicks", timeout=timeout())
    c = Consumer({**cluster.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        offsets = []
        for pid in md.topics["clicks"].partitions:
            low, high = c.get_watermark_offsets(TopicPartition("clicks", pid), timeout=timeout())
            offsets.append(TopicPartition("clicks", pid, low + int((high - low) * fraction)))
        c.commit(offsets=offsets, asynchronous=False)
        return sum(tp.offset for tp in offsets)
    finally:
        c.close()


def demo_feed_forever(cluster: Cluster, *, rate: float, stop=None) -> None:
    """Keep the clickstream flowing at about `rate` events a second until `stop` is set."""
    rng = random.Random()
    p = producer(cluster, **{"linger.ms": 50})
    seq = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    while stop is None or not stop.is_set():
        key, value = clickstream_event(rng, seq)
        p.produce("clicks", key=key, value=value)
        p.poll(0)
        seq += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()
    p.flush(5)


CROWD_GROUP = "clicks-dashboard"


def demo_crowd_forever(cluster: Cluster, *, members: int = 8, stop=None) -> None:
    """Keep `members` consumers of one group alive on clicks (6 partitions): 2 stand idle,
    the classic "why do some of my consumers get no events?" case."""
    import threading

    def run(i: int) -> None:
        c = Consumer(
            {
                **cluster.client_config(),
                "group.id": CROWD_GROUP,
                "client.id": f"dashboard-{i + 1}",
                "enable.auto.commit": True,
                "auto.offset.reset": "latest",
                "fetch.wait.max.ms": 500,
            }
        )
        c.subscribe(["clicks"])
        try:
            while stop is None or not stop.is_set():
                c.consume(num_messages=100, timeout=1.0)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(members)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
