"""Demo data: topics, a clickstream, and a consumer group that has read part of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

from console.kafka.client import admin_for, producer, timeout, translate, wait_all
from console.kafka.connection import Connection
from console.kafka.errors import ClusterUnavailable

DEMO_TOPICS = {"clicks": 6, "orders": 3}
DEMO_GROUP = "clicks-analytics"


def demo_topics_create(cluster: Connection) -> list[str]:
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


def demo_produce(cluster: Connection, records: Iterable[tuple[str, bytes, bytes]]) -> None:
    """Produce (topic, key, value) records, e.g. the demo's clicks and orders; wait for delivery."""
    p = producer(cluster, raw=True, **{"linger.ms": 20, "compression.type": "lz4"})
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    for seq, (topic, key, value) in enumerate(records):
        p.produce(topic, key=key, value=value, on_delivery=report)
        if seq % 1000 == 0:
            p.poll(0)
    remaining = p.flush(timeout() * 4)
    if remaining or failed:
        raise translate(failed[0] if failed else TimeoutError(), what="demo produce")


RETRIABLE_COMMIT = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}


def demo_group_consume(
    cluster: Connection, *, group: str = DEMO_GROUP, fraction: float = 0.5
) -> int:
    """Commit offsets for `group` at `fraction` of each clicks partition, so lag shows."""
    admin = admin_for(cluster)
    md = admin.list_topics(topic="clicks", timeout=timeout())
    c = Consumer({**cluster.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        offsets = []
        for pid in md.topics["clicks"].partitions:
            low, high = c.get_watermark_offsets(TopicPartition("clicks", pid), timeout=timeout())
            offsets.append(TopicPartition("clicks", pid, low + int((high - low) * fraction)))
        deadline = time.monotonic() + timeout() * 4
        while True:
            try:
                c.commit(offsets=offsets, asynchronous=False)
                return sum(tp.offset for tp in offsets)
            except KafkaException as exc:
                # A broker just started is still electing or loading the group coordinator.
                code = exc.args[0].code()
                if code not in RETRIABLE_COMMIT or time.monotonic() > deadline:
                    raise translate(exc, what="committing the demo group's offsets") from None
                time.sleep(0.25)
    finally:
        c.close()


def demo_feed_forever(
    cluster: Connection, *, event: Callable[[int], tuple[bytes, bytes]], rate: float, stop=None
) -> None:
    """Keep the clickstream flowing at about `rate` events (`event(seq)`: key, value) a second
    until `stop` is set."""
    p = producer(cluster, raw=True, **{"linger.ms": 50})
    seq = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    while stop is None or not stop.is_set():
        key, value = event(seq)
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


def demo_crowd_forever(cluster: Connection, *, members: int = 8, stop=None) -> None:
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
