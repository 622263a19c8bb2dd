"""Size on disk (DescribeLogDirs through kafka-python): what the pages show equals what
Kafka's own kafka-log-dirs tool reports; a cluster whose connection settings kafka-python
cannot take gets a page without sizes and one line saying why."""

import json
import re
import time

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, get_cluster, reset_clusters
from console.kafka.connection import Connection
from console.kafka.logdirs import forget_log_dirs, kafka_python_config, log_dirs
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def html(response) -> str:
    return response.content.decode()


def tool_sizes(kafka, topic: str) -> tuple[dict[int, int], str]:
    """Per partition, the size kafka-log-dirs reports, and the log dir it names."""
    out = kafka.java_tool(
        "org.apache.kafka.tools.LogDirsCommand",
        "--bootstrap-server",
        kafka.bootstrap_servers,
        "--describe",
        "--topic-list",
        topic,
    )
    report = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    (broker,) = report["brokers"]
    sizes, path = {}, ""
    for d in broker["logDirs"]:
        for p in d["partitions"]:
            sizes[int(p["partition"].rsplit("-", 1)[1])] = p["size"]
            path = d["logDir"]
    return sizes, path


def page_sizes(page: str) -> dict[int, int]:
    return {
        int(p): int(size)
        for p, size in re.findall(
            r'<tr data-partition="(\d+)"[^>]*>.*?<td class="num size" data-size="(\d+)"',
            page,
            re.S,
        )
    }


def test_sizes_equal_what_kafka_log_dirs_reports(kafka, topic_factory, produce, client_for):
    name = topic_factory(partitions=3)
    produce(name, [{"value": b"v" * 200, "partition": p} for p in (0, 1, 1, 2, 2, 2)] * 40)
    forget_log_dirs()  # the page asks the brokers now, not 30 s ago
    c = client_for("viewer")
    page = html(c.get(reverse("topics:detail", args=["local", name])))
    shown = page_sizes(page)
    tool, path = tool_sizes(kafka, name)
    assert set(shown) == set(tool) == {0, 1, 2}
    # nothing writes to the topic between the two reads, so "within the growth that can
    # happen between the calls" is: equal, or the tool's later read larger
    for p in tool:
        assert 0 < shown[p] <= tool[p], (p, shown, tool)
    assert shown == tool
    assert shown[2] > shown[1] > shown[0]
    # the figure: one copy (replication 1: also what is on disk)
    total = sum(tool.values())
    assert f'data-figure="size"><span class="num" title="{total}">' in page
    # the topic list: a size column, sortable, in binary units with the bytes in the title
    listing = html(c.get(reverse("topics:list", args=["local"]), {"q": name}))
    assert f'data-size="{total}"><span class="num" title="{total}">' in listing
    assert re.search(rf'title="{total}">[\d.]+ KiB<', listing)
    # the broker page: the log dir the tool named, holding at least this topic's bytes
    broker = html(c.get(reverse("console:broker", args=["local", 1])))
    row = broker.split(f'data-log-dir="{path}"')[1].split("</tr>")[0]
    assert int(re.search(r'data-size="(\d+)"', row)[1]) >= total
    assert "online" in row


def test_topic_list_sorts_by_size(kafka, topic_factory, produce, client_for):
    prefix = unique("sizes")
    small, big, empty = (topic_factory(f"{prefix}-{x}", partitions=1) for x in "abc")
    produce(small, [b"s" * 100] * 5)
    produce(big, [b"b" * 1000] * 50)
    c = client_for("viewer")
    url = reverse("topics:list", args=["local"])
    deadline = time.monotonic() + 20  # the list may come from a snapshot a few seconds old
    while True:
        forget_log_dirs()
        page = html(c.get(url, {"q": prefix, "sort": "size", "desc": "1"}))
        order = re.findall(r'data-topic="([^"]+)"', page)
        if len(order) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert order == [big, small, empty]
    order = re.findall(r'data-topic="([^"]+)"', html(c.get(url, {"q": prefix, "sort": "size"})))
    assert order == [empty, small, big]


def test_log_dirs_answer_is_cached_per_cluster(kafka, topic_factory, produce):
    cluster = get_cluster("local")
    forget_log_dirs()
    first = log_dirs(cluster)
    name = topic_factory(partitions=1)
    produce(name, [b"x" * 500] * 10)
    assert log_dirs(cluster) is first  # within CACHE_S: the same answer, no request
    fresh = log_dirs(cluster, max_age=0)
    assert fresh is not first and fresh.topic_sizes()[name] > 0


def test_no_size_column_and_one_line_why_for_an_unsupported_security_setting(
    kafka, topic_factory, client_for
):
    name = topic_factory(partitions=1)
    saved = all_clusters()
    # librdkafka's SASL default is GSSAPI (Kerberos), which kafka-python is not given here.
    # A PLAINTEXT listener answers librdkafka's metadata requests regardless of these.
    odd = Cluster("kerberos", kafka.bootstrap_servers, properties={"sasl.kerberos.kinit.cmd": "x"})
    reset_clusters([*saved, odd])
    try:
        c = client_for("viewer")
        for url in (
            reverse("topics:list", args=["kerberos"]),
            reverse("topics:detail", args=["kerberos", name]),
            reverse("console:broker", args=["kerberos", 1]),
        ):
            r = c.get(url, {"q": name} if "detail" not in url else {})
            page = html(r)
            assert r.status_code == 200, url
            assert "size not available for this security setting" in page, url
            assert "sasl.kerberos.kinit.cmd" in page
            assert "data-size=" not in page and "not reported" not in page
        assert "Size on disk" not in html(c.get(reverse("topics:list", args=["kerberos"])))
    finally:
        reset_clusters(saved)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({}, {"security_protocol": "PLAINTEXT"}),
        (
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "u",
                "sasl.password": "p",
            },
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": "u",
                "sasl_plain_password": "p",
            },
        ),
        (
            {"security.protocol": "sasl_ssl", "sasl.mechanisms": "PLAIN"},
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"},
        ),
    ],
)
def test_librdkafka_settings_map_to_kafka_python(properties, expected):
    conf = kafka_python_config(Connection("c", "a:1,b:2", properties))
    assert conf["bootstrap_servers"] == ["a:1", "b:2"]
    assert {k: conf[k] for k in expected} == expected
    assert ("ssl_context" in conf) == expected["security_protocol"].endswith("SSL")


@pytest.mark.parametrize(
    ("properties", "why"),
    [
        ({"security.protocol": "SASL_PLAINTEXT"}, "SASL mechanism GSSAPI"),
        ({"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}, "OAUTHBEARER"),
        ({"security.protocol": "SSL", "ssl.keystore.location": "/k.p12"}, "ssl.keystore"),
    ],
)
def test_settings_kafka_python_cannot_take_are_named(properties, why):
    found = log_dirs(Connection(f"odd-{why}", "127.0.0.1:1", properties))
    assert not found.available
    assert found.reason.startswith("size not available for this security setting")
    assert why in found.reason
