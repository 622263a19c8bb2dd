"""Lag against the real broker: exact, honest about missing commits, agrees with Kafka's tool."""

import re

import pytest
from confluent_kafka import Producer
from django.urls import reverse

from console.clusters import get_cluster
from groups.selectors import group_lag_get
from tests.conftest import group_describe, unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def test_lag_is_end_minus_committed_and_no_commit_is_not_zero(
    kafka, topic_factory, produce, commit, live_members
):
    t = topic_factory(partitions=3)
    produce(t, [{"value": b"x", "partition": p} for p in (0, 0, 0, 0, 1, 1, 2)])
    group = unique("g")
    commit(group, {(t, 0): 1, (t, 1): 2})
    lag = group_lag_get(cluster=get_cluster("local"), group_id=group)
    by_p = {r.partition: r for r in lag.rows}
    assert (by_p[0].committed, by_p[0].end, by_p[0].lag) == (1, 4, 3)
    assert (by_p[0].readable, by_p[0].skipped, by_p[0].pending) == (3, "", 0)  # plain records
    assert (by_p[1].committed, by_p[1].end, by_p[1].lag) == (2, 2, 0)
    assert 2 not in by_p  # never committed, not assigned: not part of the group
    assert lag.total == 3 and lag.no_commit == 0
    # a live member owning partition 2 (no commit there) shows "no commit", not lag 0
    live_members(group + "-live", t, 1)
    live = group_lag_get(cluster=get_cluster("local"), group_id=group + "-live")
    assert {r.partition: r.committed for r in live.rows} == {0: None, 1: None, 2: None}
    assert live.no_commit == 3 and all(r.lag is None for r in live.rows)


def test_lag_table_agrees_with_kafka_consumer_groups_tool(
    kafka, topic_factory, produce, commit, client_for
):
    t = topic_factory(partitions=3)
    produce(t, [{"value": b"v", "partition": p} for p in (0, 1, 1, 2, 2, 2)] * 5)
    group = unique("cmp")
    commit(group, {(t, 0): 2, (t, 1): 10, (t, 2): 0})
    tool = group_describe(kafka, group, t)
    assert len(tool) == 3, tool
    page = (
        client_for("viewer").get(reverse("groups:detail", args=["local", group])).content.decode()
    )
    for p, (current, end, lag) in tool.items():
        row = page.split(f'data-tp="{t}:{p}"')[1].split("</tr>")[0]
        assert re.search(rf'class="committed">{current}<', row), row
        assert re.search(rf'class="end">{end}<', row), row
        assert re.search(rf'class="lag">{lag}\b', row), row


def test_transactional_topic_caught_up_consumer_shows_markers(
    kafka, topic_factory, commit, client_for
):
    t = topic_factory(partitions=1)
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": unique("tx")})
    p.init_transactions(10)
    for _ in range(2):
        p.begin_transaction()
        for i in range(3):
            p.produce(t, value=b"m%d" % i, partition=0)
        p.commit_transaction(10)
    # offsets: 0-2 data, 3 marker, 4-6 data, 7 marker; end = 8
    group = unique("tx")
    commit(group, {(t, 0): 7})  # what librdkafka commits after reading everything
    lag = group_lag_get(cluster=get_cluster("local"), group_id=group)
    (row,) = lag.rows
    assert (row.end, row.lag, row.markers_only) == (8, 1, True)
    assert lag.markers == 1
    page = (
        client_for("viewer").get(reverse("groups:detail", args=["local", group])).content.decode()
    )
    assert "caught up: 1 transaction marker" in page
    assert "transaction markers, not records" in page


def test_diagnoses_more_members_than_partitions_and_empty_group_with_lag(
    kafka, topic_factory, produce, commit, live_members, client_for
):
    t = topic_factory(partitions=2)
    group = unique("crowd")
    live_members(group, t, 4)
    page = (
        client_for("viewer").get(reverse("groups:detail", args=["local", group])).content.decode()
    )
    assert "2 of 4 consumers have no partition" in page
    assert f"{t} has 2 partitions; members of one group never share a partition" in page
    idle = unique("idle")
    produce(t, [b"x"] * 5)
    commit(idle, {(t, 0): 0, (t, 1): 0})
    page = client_for("viewer").get(reverse("groups:detail", args=["local", idle])).content.decode()
    assert "The group is Empty (no consumer is running) and has lag 5" in page


def test_committed_below_log_start_is_explained(kafka, topic_factory, produce, commit, client_for):
    from console.kafka.topics import records_delete

    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 10)
    group = unique("old")
    commit(group, {(t, 0): 2})
    records_delete(get_cluster("local"), name=t, before={0: 6})
    page = (
        client_for("viewer").get(reverse("groups:detail", args=["local", group])).content.decode()
    )
    assert "committed offset 2 is below the log start 6: records 2–5 were deleted" in page


def test_list_page_search_state_filter_fragment_and_lag_sort(
    kafka, topic_factory, produce, commit, client_for
):
    from groups.tasks import lag_sample

    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 30)
    prefix = unique("lst")
    for i, off in enumerate([25, 5, 15]):
        commit(f"{prefix}-{i}", {(t, 0): off})
    assert lag_sample() > 0
    c = client_for("viewer")
    url = reverse("groups:list", args=["local"])
    page = c.get(url, {"q": prefix, "sort": "lag"}).content.decode()
    assert "<html" in page
    order = re.findall(rf'data-group="({prefix}-\d)"', page)
    assert order == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-0"]
    assert "Sorted by the lag sampler" in page
    frag = c.get(url, {"q": prefix, "state": "Empty"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in frag and len(re.findall(r'data-group="', frag)) == 3
    assert 'data-group="' not in c.get(url, {"q": prefix, "state": "Stable"}).content.decode()
    row = page.split(f'data-group="{prefix}-1"')[1].split("</tr>")[0]
    assert re.search(r'class="lag">25\b', row)
    # consumers tab of the topic
    tab = c.get(reverse("groups:for_topic", args=["local", t])).content.decode()
    assert all(f'data-group="{prefix}-{i}"' in tab for i in range(3))
    detail = c.get(
        reverse("groups:detail", args=["local", f"{prefix}-1"]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in detail and 'id="lag-table"' in detail
