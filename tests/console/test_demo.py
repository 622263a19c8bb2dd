"""The demo data: clicks (6 partitions) fed by a clickstream, orders, and a group with lag."""

import json

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.core.management import call_command

from console.kafka.demo import DEMO_GROUP

pytestmark = pytest.mark.kafka


def test_demo_seed_creates_topics_data_and_lagging_group(kafka):
    call_command("demo_seed", "--clicks", "600", "--orders", "30")
    c = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": DEMO_GROUP})
    try:
        md = c.list_topics(timeout=10)
        assert len(md.topics["clicks"].partitions) == 6
        assert len(md.topics["orders"].partitions) == 3
        parts = [TopicPartition("clicks", p) for p in range(6)]
        committed = c.committed(parts, timeout=10)
        ends = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
        assert sum(ends) == 600
        lag = sum(e - tp.offset for e, tp in zip(ends, committed, strict=True))
        assert 0 < lag < 600
        c.assign([TopicPartition("clicks", p, 0) for p in range(6)])
        msg = next(m for m in iter(lambda: c.poll(5), None) if m and not m.error())
        event = json.loads(msg.value())
        assert set(event) >= {"user", "page", "element", "ts"}
        assert msg.key().decode() == event["user"]
    finally:
        c.close()
    call_command("demo_seed")  # idempotent: a second run changes nothing
