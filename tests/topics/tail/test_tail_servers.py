"""The live tail on servers of its own: masking, Redis across two server processes, and a
broker that goes away and comes back."""

from __future__ import annotations

import collections
import json
import time

import pytest

from tests.conftest import start_asgi_server, unique
from tests.topics.tail.conftest import TailClient
from tools.kafka.local import LocalKafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_masked_roles_see_masked_rows_and_cannot_filter_on_hidden_values(
    kafka, topic_factory, produce, session_for, tmp_path
):
    clusters = tmp_path / "clusters.toml"
    clusters.write_text(
        f"""
[[clusters]]
name = "masked"
bootstrap_servers = "{kafka.bootstrap_servers}"
[[clusters.masking]]
topics = "pay-.*"
json_paths = ["$.card"]
roles = ["operator"]
"""
    )
    proc, base = start_asgi_server(tmp_path, CONSOLE_CLUSTERS_FILE=str(clusters))
    clients = []
    try:
        t = topic_factory(unique("pay"), partitions=1)
        operator, _ = session_for("operator")
        admin, _ = session_for("admin")
        op = TailClient(base, operator, t, cluster="masked")
        adm = TailClient(base, admin, t, cluster="masked")
        op_probe = TailClient(base, operator, t, cluster="masked", query="q=4111")
        adm_probe = TailClient(base, admin, t, cluster="masked", query="q=4111")
        clients = [op, adm, op_probe, adm_probe]
        for c in clients:
            c.wait_live()
        produce(t, [{"key": b"k-1", "value": json.dumps({"card": "4111", "n": 1}).encode()}])
        op.wait_rows(1)
        adm.wait_rows(1)
        adm_probe.wait_rows(1)
        time.sleep(1)
        assert "4111" not in op.rows[0] and "***" in op.rows[0]
        assert "4111" in adm.rows[0]
        assert not op_probe.rows  # a hidden value cannot be found by filtering on it
        assert op.status["consumers"] == 1 and op.status["viewers"] == 4
    finally:
        for c in clients:
            c.close()
        proc.stop()


def test_two_server_processes_on_redis_each_run_one_consumer_and_deliver_once(
    kafka, redis_server, topic_factory, produce, session_for, tmp_path
):
    first, base_a = start_asgi_server(tmp_path, REDIS_URL=redis_server)
    second, base_b = start_asgi_server(tmp_path, REDIS_URL=redis_server)
    clients = []
    try:
        t = topic_factory(partitions=3)
        session, _ = session_for("operator")
        a1 = TailClient(base_a, session, t)
        a2 = TailClient(base_a, session, t, query="partitions=0")
        b1 = TailClient(base_b, session, t)
        clients = [a1, a2, b1]
        for c in clients:
            c.wait_live()
        a1.wait(lambda c: c.status.get("viewers") == 2, 10, "two viewers on A")
        n = 300
        produce(t, [{"key": f"k-{i}".encode(), "value": b"v"} for i in range(n)])
        a1.wait_rows(n)
        b1.wait_rows(n)
        time.sleep(1)
        for c in (a1, b1):
            positions = [(p, o) for p, o, _ts in c.meta]
            assert len(positions) == n and len(set(positions)) == n  # each once, none twice
            assert c.skipped == 0
        assert a2.meta and {p for p, _o, _ts in a2.meta} == {0}
        assert len(a2.meta) == len({(p, o) for p, o, _ts in a2.meta})
        # one consumer per server process, each feeding its own viewers
        assert (a1.status["viewers"], a1.status["consumers"]) == (2, 1)
        assert (b1.status["viewers"], b1.status["consumers"]) == (1, 1)
    finally:
        for c in clients:
            c.close()
        first.stop()
        second.stop()


def test_broker_unreachable_is_shown_and_the_tail_resumes_by_itself(produce, session_for, tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    flaky = LocalKafka(tmp_path / "flaky", nodes=1).start()
    proc, base = start_asgi_server(
        tmp_path,
        KAFKA_CLUSTERS_1_NAME="flaky",
        KAFKA_CLUSTERS_1_BOOTSTRAPSERVERS=flaky.bootstrap_servers,
        CONSOLE_KAFKA_TIMEOUT="3",
    )
    c = None
    try:
        admin = AdminClient({"bootstrap.servers": flaky.bootstrap_servers})
        admin.create_topics([NewTopic("flaky-t", 2, 1)])["flaky-t"].result(30)
        time.sleep(1)
        session, _ = session_for("operator")
        c = TailClient(base, session, "flaky-t", cluster="flaky")
        c.wait_live(30)
        produce("flaky-t", [b"one"], bootstrap=flaky.bootstrap_servers)
        c.wait_rows(1)
        flaky.stop_node(1)
        c.wait(lambda c: c.status.get("state") == "unreachable", 30, "unreachable")
        assert "unreachable" in c.status["message"].lower() or c.status["message"]
        flaky.start_node(1)
        c.wait_live(90)
        produce(
            "flaky-t", [f"after-{i}".encode() for i in range(20)], bootstrap=flaky.bootstrap_servers
        )
        c.wait_rows(21, timeout=60)
        by_p = collections.defaultdict(list)
        for p, o, _ts in c.meta:
            by_p[p].append(o)
        for offsets in by_p.values():
            assert offsets == sorted(set(offsets))
        assert c.skipped == 0 and c.close_code is None
    finally:
        if c is not None:
            c.close()
        proc.stop()
        flaky.destroy()
