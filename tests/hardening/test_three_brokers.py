"""Three brokers: one stopped, then all stopped; the pages say so and recover by themselves."""

import re
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from django.urls import reverse

from tests.conftest import unique

pytestmark = [pytest.mark.kafka3, pytest.mark.kafka, pytest.mark.slow, pytest.mark.django_db]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_broker_down_then_cluster_down_then_back(kafka3, topic_factory, produce, client_for):
    name = topic_factory(partitions=3, replication=3, bootstrap=kafka3.bootstrap_servers)
    # one replica per partition, one partition per broker: partition 1 lives on broker 2 only
    single = unique("single")
    admin = AdminClient({"bootstrap.servers": kafka3.bootstrap_servers})
    admin.create_topics([NewTopic(single, 3, replica_assignment=[[1], [2], [3]])])[single].result(
        30
    )
    wait_until(
        lambda: all(
            p.leader >= 0
            for p in admin.list_topics(single, timeout=10).topics[single].partitions.values()
        ),
        30,
        "single-replica topic not ready",
    )
    produce(
        single,
        [{"value": f"p{p}".encode(), "partition": p} for p in range(3)],
        bootstrap=kafka3.bootstrap_servers,
    )
    on_2 = [1]
    c = client_for("viewer")
    operator = client_for("operator")
    clusters_url = reverse("console:clusters")
    brokers_url = reverse("console:cluster", args=["triple"])
    topics_url = reverse("topics:list", args=["triple"])

    kafka3.stop_node(2)

    def broker_offline():
        html = c.get(brokers_url).content.decode()
        row = html.split('data-broker="2"')[1].split("</tr>")[0]
        return "offline" in row and html

    wait_until(broker_offline, 40, "stopped broker 2 never showed offline")
    card = c.get(clusters_url).content.decode().split('data-cluster="triple"')[1]
    row = card.split("</article>")[0]
    assert "(1 offline)" in row
    topics = c.get(topics_url).content.decode()
    topic_row = topics.split(f'data-topic="{name}"')[1].split("</tr>")[0]
    assert re.search(r'class="[^"]*\bbad\b', topic_row)  # under-replicated partitions flagged
    # the message browser reads the partitions that have a leader and names the other one
    messages = operator.get(reverse("topics:messages", args=["triple", single])).content.decode()
    assert f"Partition {on_2[0]} cannot be read now: no leader" in messages
    shown = {int(x) for x in re.findall(r'data-partition="(\d+)" data-offset', messages)}
    assert shown == {0, 1, 2} - set(on_2)

    kafka3.stop()  # every broker down
    for url in (clusters_url, brokers_url, topics_url):
        started = time.monotonic()
        r = c.get(url)
        assert time.monotonic() - started < 10, url
        assert r.status_code in (200, 503)
        assert "unreachable" in r.content.decode().lower(), url

    for node in kafka3.nodes:
        kafka3.start_node(node.node_id, wait=False)
    kafka3.wait_ready()

    def recovered():
        html = c.get(brokers_url).content.decode()
        return '<span class="bad">offline</span>' not in html and 'data-broker="3"' in html

    wait_until(recovered, 90, "the console never saw the cluster recover")
