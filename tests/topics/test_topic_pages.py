"""Topic pages against the real broker: list, detail tabs, skew, and every operation."""

import re

import pytest
from django.urls import reverse

from console.clusters import Cluster, MaskRule, all_clusters, reset_clusters
from console.models import AuditEntry
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def html(response) -> str:
    return response.content.decode()


def rows_of(page: str) -> list[str]:
    import re

    return re.findall(r'data-topic="([^"]+)"', page)


def test_list_search_sort_paging_and_internal(kafka, topic_factory, produce, client_for):
    prefix = unique("ls")
    names = [topic_factory(f"{prefix}-{i:02d}", partitions=1 + i % 3) for i in range(55)]
    produce(names[7], [b"x"] * 9)
    c = client_for("viewer")
    url = reverse("topics:list", args=["local"])
    page1 = html(c.get(url, {"q": prefix}))
    assert "<html" in page1
    assert rows_of(page1) == names[:50] and "page 1 of 2" in page1
    assert rows_of(html(c.get(url, {"q": prefix, "page": 2}))) == names[50:]
    # the htmx fragment is the rows only
    frag = html(c.get(url, {"q": prefix.upper()}, HTTP_HX_REQUEST="true"))
    assert "<html" not in frag and rows_of(frag)[:1] == names[:1]
    by_messages = rows_of(html(c.get(url, {"q": prefix, "sort": "messages", "desc": "1"})))
    assert by_messages[0] == names[7]
    assert 'data-messages="9">9</td>' in html(c.get(url, {"q": names[7]}))
    by_partitions = rows_of(html(c.get(url, {"q": prefix, "sort": "partitions", "desc": "1"})))
    assert by_partitions[0] == names[2]  # 3 partitions, first by name among them
    internal = topic_factory("__" + unique("internal"))
    assert internal not in rows_of(html(c.get(url, {"q": internal})))
    assert internal in rows_of(html(c.get(url, {"q": internal, "internal": "1"})))
    assert ">delete<" in html(c.get(url, {"q": names[0]}))


def test_detail_shows_partitions_watermarks_full_and_fragment(
    kafka, topic_factory, produce, client_for
):
    name = topic_factory(partitions=2)
    produce(name, [{"value": b"a", "partition": 1}] * 4)
    c = client_for("viewer")
    url = reverse("topics:detail", args=["local", name])
    page = html(c.get(url))
    assert "<html" in page and 'data-partition="1"' in page
    row = page.split('data-partition="1"')[1].split("</tr>")[0]
    cells = re.findall(r'<td class="num (low|high|count)[^"]*">(\d+)</td>', row)
    assert cells == [("low", "0"), ("high", "4"), ("count", "4")]
    frag = html(c.get(url, HTTP_HX_REQUEST="true"))
    assert "<html" not in frag and 'id="partition-table"' in frag
    assert c.get(reverse("topics:detail", args=["local", "no-such-topic"])).status_code == 404


def test_configs_tab_shows_sources_and_overrides(kafka, topic_factory, client_for):
    name = topic_factory(config={"retention.ms": "123456"})
    c = client_for("viewer")
    page = html(c.get(reverse("topics:configs", args=["local", name])))
    row = page.split('data-config="retention.ms"')[1].split("</tr>")[0]
    assert "123456" in row and "topic override" in row
    row = page.split('data-config="segment.bytes"')[1].split("</tr>")[0]
    assert "broker" in row or "default" in row
    frag = html(c.get(reverse("topics:configs", args=["local", name]), HTTP_HX_REQUEST="true"))
    assert "<html" not in frag and "retention.ms" in frag


def test_skew_finds_the_hot_key_behind_the_hot_partition(kafka, topic_factory, produce, client_for):
    name = topic_factory(partitions=4)
    # one key carries most traffic: all its messages land on one partition
    messages = [{"key": b"hot-user", "value": b'{"n":%d}' % i} for i in range(300)]
    messages += [{"key": f"user-{i}".encode(), "value": b"{}"} for i in range(60)]
    produce(name, messages)
    c = client_for("operator")
    page = html(c.get(reverse("topics:skew", args=["local", name]), {"sample": 100}))
    hot_rows = [r for r in page.split("<tr")[1:] if 'class="hot"' in r]
    assert len(hot_rows) == 1
    top_key = hot_rows[0].split('<code class="key">')[1].split("</code>")[0]
    assert top_key == "hot-user" and "hot key" in hot_rows[0]
    assert "keys hidden" not in page
    frag = html(c.get(reverse("topics:skew", args=["local", name]), HTTP_HX_REQUEST="true"))
    assert "<html" not in frag and 'id="skew-table"' in frag


def test_skew_shows_a_viewer_the_hot_key_but_not_the_key(kafka, topic_factory, produce, client_for):
    name = topic_factory(partitions=4)
    messages = [{"key": b"hot-user", "value": b"{}"} for _ in range(300)]
    messages += [{"key": f"user-{i}".encode(), "value": b"{}"} for i in range(60)]
    produce(name, messages)
    c = client_for("viewer")
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = html(c.get(reverse("topics:skew", args=["local", name]), {"sample": 100}, **headers))
        assert "hot-user" not in page and "user-" not in page
        assert page.count("keys hidden for viewers") == 1
        (hot,) = [r for r in page.split("<tr")[1:] if 'class="hot"' in r]
        # the hot key: its count and share of the sample, not the key
        top = re.search(r'a key</span> <span class="muted small">(\d+) of 100 \((\d+) %\)', hot)
        assert int(top[1]) > 80 and int(top[2]) > 80 and "hot key" in hot


def test_skew_masks_keys_as_the_masking_rules_say(kafka, topic_factory, produce, client_for):
    name = topic_factory(partitions=1)
    produce(name, [{"key": b"ssn-123-45-6789", "value": b"{}"} for _ in range(5)])
    saved = all_clusters()
    rule = MaskRule(topics=re.compile(".*"), regex=re.compile(r"\d{3}-\d{2}-\d{4}"))
    reset_clusters([Cluster("masked", kafka.bootstrap_servers, masking=(rule,))])
    try:
        page = html(client_for("operator").get(reverse("topics:skew", args=["masked", name])))
        assert "123-45-6789" not in page and '<code class="key">ssn-***</code>' in page
    finally:
        reset_clusters(saved)


def test_create_topic_with_configs_and_defaults(kafka, client_for):
    c = client_for("operator")
    form = html(c.get(reverse("topics:create", args=["local"])))
    assert 'name="partitions" value="6"' in form  # the broker's num.partitions
    name = unique("created")
    r = c.post(
        reverse("topics:create", args=["local"]),
        {
            "name": name,
            "partitions": 2,
            "replication": 1,
            "configs": "cleanup.policy=compact\n# comment\nretention.ms=1000",
        },
    )
    assert r.status_code == 302, html(r)
    page = html(c.get(reverse("topics:configs", args=["local", name])))
    assert "compact" in page.split('data-config="cleanup.policy"')[1].split("</tr>")[0]
    entry = AuditEntry.objects.get(action="topic.create")
    assert (entry.target, entry.outcome, entry.params["partitions"]) == (name, "ok", 2)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required"),
        ("bad name", "not &#x27; &#x27;"),
        ("ü-topic", "Only letters, digits"),
        ("a/b", "Only letters, digits"),
        (".", "cannot be named"),
        ("..", "cannot be named"),
        ("x" * 250, "at most 249 characters"),
    ],
)
def test_create_refuses_every_illegal_name(kafka, client_for, name, error):
    r = client_for("operator").post(
        reverse("topics:create", args=["local"]), {"name": name, "partitions": 1, "replication": 1}
    )
    assert r.status_code == 400
    assert error in html(r)


def test_create_refuses_collisions_partitions_replication_and_bad_configs(
    kafka, topic_factory, client_for
):
    base = unique("coll")
    topic_factory(f"{base}.a")
    c = client_for("operator")
    url = reverse("topics:create", args=["local"])
    assert "collides with the existing topic" in html(
        c.post(url, {"name": f"{base}_a", "partitions": 1, "replication": 1})
    )
    assert "already exists" in html(
        c.post(url, {"name": f"{base}.a", "partitions": 1, "replication": 1})
    )
    for partitions in (0, -1, 10**9):
        r = c.post(url, {"name": unique(), "partitions": partitions, "replication": 1})
        assert r.status_code == 400 and "Ensure this value" in html(r)
    r = c.post(url, {"name": unique(), "partitions": 1, "replication": 2})
    assert "needs 2 brokers; 1 are online" in html(r)
    r = c.post(
        url, {"name": unique(), "partitions": 1, "replication": 1, "configs": "retention.ms=soon"}
    )
    assert r.status_code == 400 and "retention.ms" in html(r)
    r = c.post(url, {"name": unique(), "partitions": 1, "replication": 1, "configs": "novalue"})
    assert "write key=value" in html(r)


def test_operations_by_role_and_read_only(kafka, topic_factory, client_for):
    name = topic_factory()
    url = reverse("topics:delete", args=["local", name])
    assert client_for("viewer").post(url, {"confirm": name}).status_code == 403
    assert client_for("operator").post(url, {"confirm": name}).status_code == 403
    assert (
        client_for("viewer")
        .post(reverse("topics:create", args=["local"]), {"name": unique()})
        .status_code
        == 403
    )
    saved = all_clusters()
    ro = Cluster("ro", kafka.bootstrap_servers, read_only=True)
    reset_clusters([*saved, ro])
    try:
        r = client_for("admin").post(
            reverse("topics:delete", args=["ro", name]), {"seen_partitions": 3, "confirm": name}
        )
        assert r.status_code == 403 and "read-only" in html(r)
        r = client_for("admin").post(
            reverse("topics:create", args=["ro"]),
            {"name": unique(), "partitions": 1, "replication": 1},
        )
        assert r.status_code == 403 and "read-only" in html(r)
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied").count() >= 4


@pytest.mark.kafka3
def test_three_brokers_detail_marks_out_of_sync_replicas(kafka3, topic_factory, client_for):
    name = topic_factory(partitions=2, replication=3, bootstrap=kafka3.bootstrap_servers)
    c = client_for("viewer")
    kafka3.stop_node(3)
    import time

    deadline = time.monotonic() + 40
    while True:
        page = html(c.get(reverse("topics:detail", args=["triple", name])))
        if page.count("out of sync: 3") == 2:
            break
        assert time.monotonic() < deadline, page
        time.sleep(1)
