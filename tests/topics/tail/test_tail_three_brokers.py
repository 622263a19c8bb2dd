"""Three brokers, one stopped: the tail keeps streaming the partitions that have a leader."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from tests.conftest import start_asgi_server
from tests.topics.tail.conftest import TailClient

pytestmark = [
    pytest.mark.kafka3,
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_tail_keeps_streaming_partitions_with_a_leader(
    kafka3, topic_factory, produce, session_for, tmp_path
):
    t = topic_factory(partitions=3, replication=1, bootstrap=kafka3.bootstrap_servers)
    md = AdminClient({"bootstrap.servers": kafka3.bootstrap_servers}).list_topics(t, timeout=10)
    led = {p.id: p.leader for p in md.topics[t].partitions.values()}
    victim = led[0]
    alive = sorted(p for p, leader in led.items() if leader != victim)
    assert alive, led
    # a web process started now knows the three-broker cluster ("triple") from the environment
    proc, base = start_asgi_server(tmp_path)
    c = None
    try:
        session, _ = session_for("operator")
        c = TailClient(base, session, t, cluster="triple")
        c.wait_live(30)
        kafka3.stop_node(victim)
        produce(
            t,
            [{"value": f"v{i}".encode(), "partition": p} for i in range(10) for p in alive],
            bootstrap=kafka3.bootstrap_servers,
        )
        c.wait_rows(10 * len(alive), timeout=60)
        assert {p for p, _o, _ts in c.meta} == set(alive)
        assert c.skipped == 0 and c.close_code is None
    finally:
        if c is not None:
            c.close()
        proc.stop()
