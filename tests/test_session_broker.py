"""The session broker keeps the records tests write with fixed timestamps from long ago.

Its retention check runs every second, so if the broker deleted such records (as Kafka's
default 7-day retention does) this test would see it every time."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, TopicPartition

LONG_AGO = 1_700_000_000_123  # 2023-11-14, as the browse tests write


@pytest.mark.kafka
def test_records_stamped_long_ago_outlive_the_retention_check(kafka, topic_factory, produce):
    t = topic_factory(partitions=1)
    produce(
        t,
        [{"value": f"v{i}".encode(), "timestamp": LONG_AGO + i, "partition": 0} for i in range(3)],
    )
    c = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": "unused",
            "enable.auto.commit": False,
        }
    )
    try:
        time.sleep(2.5)  # two checks or more
        assert c.get_watermark_offsets(TopicPartition(t, 0), timeout=10, cached=False) == (0, 3)
        c.assign([TopicPartition(t, 0, 0)])
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 3 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append((m.offset(), m.timestamp()[1]))
        assert got == [(i, LONG_AGO + i) for i in range(3)]
    finally:
        c.close()
