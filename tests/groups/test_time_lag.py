"""Time lag against the real broker: the age of the first unread record, read boundedly."""

import re
import time

import pytest
from confluent_kafka import Producer
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.groups import first_unread
from console.templatetags.console import human_duration_ms
from groups.models import LagSample
from groups.selectors import group_lag_get, with_time_lag
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


@pytest.fixture
def commit(commit):
    """The group conftest's commit, retried while the broker still loads the group
    coordinator (the first commit of a fresh broker can meet that)."""
    from confluent_kafka import KafkaError, KafkaException

    def do(group: str, offsets: dict) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                return commit(group, offsets)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.COORDINATOR_LOAD_IN_PROGRESS:
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    return do


def _now_ms() -> int:
    return int(time.time() * 1000)


def _title_ms(cell: str) -> int:
    """The raw milliseconds a time-lag cell keeps in its title."""
    found = re.search(r'title="([\d,]+) ms', cell)
    assert found, cell
    return int(found.group(1).replace(",", ""))


def test_time_lag_is_the_age_of_the_first_unread_record(
    kafka, topic_factory, produce, commit, client_for
):
    t = topic_factory(partitions=2)
    base = _now_ms()
    # p0: offsets 0-2 written 300, 200 and 100 s ago; p1: two records 50 s ago.
    ages = {0: [300_000, 200_000, 100_000], 1: [50_000, 50_000]}
    produce(
        t,
        [
            {"value": b"x", "partition": p, "timestamp": base - age}
            for p, list_ in ages.items()
            for age in list_
        ],
    )
    group = unique("tl")
    commit(group, {(t, 0): 1, (t, 1): 2})  # p0: offset 1 unread (200 s old); p1 caught up

    lag = group_lag_get(cluster=get_cluster("local"), group_id=group)
    by_p = {r.partition: r for r in lag.rows}
    expected = _now_ms() - (base - 200_000)
    assert abs(by_p[0].time_lag_ms - expected) < 1000
    assert by_p[0].unread_offset == 1
    assert (by_p[1].lag, by_p[1].time_lag_ms, by_p[1].time_lag_note) == (0, 0, "caught up")
    assert lag.time_lag_ms == by_p[0].time_lag_ms and lag.topics[t].time_lag_ms == lag.time_lag_ms

    c = client_for("viewer")
    page = c.get(reverse("groups:detail", args=["local", group])).content.decode()
    expected = _now_ms() - (base - 200_000)
    row = page.split(f'data-tp="{t}:0"')[1].split("</tr>")[0]
    cell = row.split('class="num time-lag-cell">')[1].split("</td>")[0]
    assert abs(_title_ms(cell) - expected) < 1000
    shown = re.search(r">([^<]+)</span>", cell).group(1)  # humanised: "3 min 24 s"
    assert shown in {human_duration_ms(expected + d) for d in range(-1000, 1001, 500)}, cell
    assert shown.startswith("3 min ")
    assert "offset 1" in cell
    row1 = page.split(f'data-tp="{t}:1"')[1].split("</tr>")[0]
    assert ">0 s<" in row1
    figure = page.split('id="time-lag"')[1].split("</dd>")[0]
    assert abs(_title_ms(figure) - expected) < 1000

    # the group list: the group's time lag (max) and the topic's
    listing = c.get(reverse("groups:list", args=["local"]), {"q": group}).content.decode()
    row = listing.split(f'data-group="{group}"')[1].split("</tr>")[0]
    expected = _now_ms() - (base - 200_000)
    spans = re.findall(r'<span class="num time-lag" title="[^"]*">[^<]*</span>', row)
    assert len(spans) == 2, row  # the topic's, then the group's
    assert all(abs(_title_ms(s) - expected) < 1000 for s in spans)


def test_no_commit_has_no_time_lag_and_markers_only_is_caught_up(kafka, topic_factory, commit):
    t = topic_factory(partitions=1)
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": unique("tx")})
    p.init_transactions(10)
    p.begin_transaction()
    for i in range(3):
        p.produce(t, value=b"m%d" % i, partition=0)
    p.commit_transaction(10)
    # offsets 0-2 records, 3 the commit marker: end 4
    cluster = get_cluster("local")
    got = first_unread(cluster, [((t, 0), 3), ((t, 0), 1)], max_seconds=5)
    assert got[((t, 0), 3)].offset is None  # nothing but the marker up to the end
    assert got[((t, 0), 1)].offset == 1
    group = unique("tx")
    commit(group, {(t, 0): 3})
    (row,) = group_lag_get(cluster=cluster, group_id=group).rows
    assert (row.lag, row.time_lag_ms) == (1, 0)
    # without the marker check (the sampler's way) the read reaches the end: 0 as well
    (row,) = group_lag_get(cluster=cluster, group_id=group, check_markers=False).rows
    assert (row.time_lag_ms, row.time_lag_note) == (0, "caught up: only transaction markers left")


def test_reads_are_capped_and_unread_partitions_say_why(kafka, topic_factory, produce, commit):
    t = topic_factory(partitions=3)
    produce(t, [{"value": b"x", "partition": p} for p in (0, 1, 1, 2, 2, 2)])
    group = unique("cap")
    commit(group, {(t, 0): 0, (t, 1): 0, (t, 2): 0})
    cluster = get_cluster("local")
    rows = group_lag_get(cluster=cluster, group_id=group, time_lag=False).rows
    (capped,) = with_time_lag(cluster, {group: rows}, max_reads=1).values()
    read = [r for r in capped if r.time_lag_ms is not None]
    assert [r.partition for r in read] == [2]  # the most lagging partition goes first
    for r in capped:
        if r.partition != 2:
            assert r.time_lag_ms is None
            assert "at most 1 partitions" in r.time_lag_note


def test_sampler_stores_the_time_lag_per_topic(kafka, topic_factory, produce, commit):
    from groups.tasks import lag_sample

    t = topic_factory(partitions=2)
    base = _now_ms()
    produce(
        t,
        [
            {"value": b"x", "partition": 0, "timestamp": base - 90_000},
            {"value": b"x", "partition": 1, "timestamp": base - 40_000},
            {"value": b"x", "partition": 1, "timestamp": base - 30_000},
        ],
    )
    group, caught_up = unique("smp"), unique("smp")
    commit(group, {(t, 0): 0, (t, 1): 0})
    commit(caught_up, {(t, 0): 1, (t, 1): 2})
    assert lag_sample() > 0
    sample = LagSample.objects.get(group=group, topic=t)
    assert sample.lag == 3
    assert abs(sample.time_lag_ms - (_now_ms() - (base - 90_000))) < 10_000  # the worst one
    assert LagSample.objects.get(group=caught_up, topic=t).time_lag_ms == 0
