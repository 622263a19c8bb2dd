"""Lag on transactional topics: the figures stay Kafka's, the words say what the lag is made of
(records pending in an open transaction, commit/abort markers, aborted records)."""

import datetime as dt
import re
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from django.urls import reverse
from django.utils import dateformat, timezone

from console.clusters import get_cluster
from console.kafka.offsets import last_stable_offsets, watermarks
from groups.selectors import group_lag_get
from tests.conftest import group_describe, unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def _tx_producer(kafka) -> Producer:
    p = Producer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "transactional.id": unique("txp"),
            # Outlives the test: the broker must not abort the open transactions itself.
            "transaction.timeout.ms": 300_000,
        }
    )
    p.init_transactions(30)
    return p


def _read_committed_and_commit(kafka, topic: str, group: str, partitions: int, records: int):
    """A read_committed consumer of `group` reads all it can and commits after each record,
    as confluent-kafka's commit(message=...) does (the offset after the record)."""
    c = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    got = 0
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + 30
        while got < records and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None or msg.error():
                assert msg is None or msg.error().code() == KafkaError._PARTITION_EOF
                continue
            c.commit(message=msg, asynchronous=False)
            got += 1
    finally:
        c.close()
    assert got == records


def _tool_lag(kafka, topic: str, group: str) -> dict[int, tuple[int, int, int]]:
    """CURRENT-OFFSET, LOG-END-OFFSET and LAG per partition, from Kafka's own tool."""
    return group_describe(kafka, group, topic)


def _page(client, group: str, **headers) -> str:
    return client.get(reverse("groups:detail", args=["local", group]), **headers).content.decode()


def _cell(page: str, topic: str, partition: int) -> str:
    row = page.split(f'data-tp="{topic}:{partition}"')[1].split("</tr>")[0]
    return re.sub(r"\s+", " ", row.split('class="lag">')[1].split("</td>")[0])


def _agrees_with_tool(kafka, topic: str, group: str, page: str, lag) -> None:
    tool = _tool_lag(kafka, topic, group)
    assert len(tool) == len(lag.rows), tool
    for r in lag.rows:
        assert (r.committed, r.end, r.lag) == tool[r.partition]
        assert re.match(rf"{tool[r.partition][2]}\b", _cell(page, topic, r.partition))


def _wait_stable(topic: str, partitions: list[int]) -> None:
    """Until the transaction markers are written: the last stable offset reaches the end."""
    cluster, tps = get_cluster("local"), [(topic, p) for p in partitions]
    deadline = time.monotonic() + 30
    while True:
        stable, ends = last_stable_offsets(cluster, tps), watermarks(cluster, tps)
        if all(stable[tp] == ends[tp].high for tp in tps):
            return
        assert time.monotonic() < deadline, (stable, ends)
        time.sleep(0.2)


def test_open_transaction_is_pending_not_caught_up_and_markers_aborted_are_named(
    kafka, topic_factory, client_for
):
    t = topic_factory(partitions=4)
    main, other = _tx_producer(kafka), _tx_producer(kafka)
    # One committed transaction on every partition: p0 gets 3 records, p1-p3 one each.
    main.begin_transaction()
    for p in (0, 0, 0, 1, 2, 3):
        main.produce(t, value=b"committed", partition=p)
    main.commit_transaction(30)
    # p1: an aborted transaction (flushed first, or librdkafka drops unsent records).
    main.begin_transaction()
    main.produce(t, value=b"aborted", partition=1)
    main.produce(t, value=b"aborted", partition=1)
    main.flush(30)
    main.abort_transaction(30)
    _wait_stable(t, [0, 1])
    # p2 and p3: a transaction each, left open with records written.
    before = timezone.now() - dt.timedelta(seconds=1)
    main.begin_transaction()
    for _ in range(3):
        main.produce(t, value=b"open", partition=2)
    other.begin_transaction()
    for _ in range(2):
        other.produce(t, value=b"open", partition=3)
    assert main.flush(30) == 0 and other.flush(30) == 0
    after = timezone.now() + dt.timedelta(seconds=1)
    # offsets  p0: 0-2 records, 3 commit marker                       end 4
    #          p1: 0 record, 1 commit marker, 2-3 aborted, 4 abort marker   end 5
    #          p2: 0 record, 1 commit marker, 2-4 open transaction    end 5, stable 2
    #          p3: 0 record, 1 commit marker, 2-3 open transaction    end 4, stable 2
    group = unique("txg")
    _read_committed_and_commit(kafka, t, group, partitions=4, records=6)
    cluster, viewer = get_cluster("local"), client_for("viewer")

    lag = group_lag_get(cluster=cluster, group_id=group)
    by_p = {r.partition: r for r in lag.rows}
    assert {p: (r.committed, r.end, r.lag) for p, r in by_p.items()} == {
        0: (3, 4, 1),
        1: (1, 5, 4),
        2: (1, 5, 4),
        3: (1, 4, 3),
    }
    assert {p: (r.stable, r.pending, r.markers, r.aborted) for p, r in by_p.items()} == {
        0: (4, 0, 1, 0),
        1: (5, 0, 2, 2),
        2: (2, 3, 1, 0),
        3: (2, 2, 1, 0),
    }
    assert [p for p, r in by_p.items() if r.caught_up] == [0, 1]
    assert before <= by_p[2].open_since <= after and before <= by_p[3].open_since <= after
    assert (lag.total, lag.pending, lag.markers, lag.aborted) == (12, 5, 5, 2)

    page = _page(viewer, group)
    _agrees_with_tool(kafka, t, group, page, lag)
    cells = {p: _cell(page, t, p) for p in range(4)}
    since = dateformat.format(timezone.localtime(by_p[2].open_since), "Y-m-d H:i:s T")
    assert f"3 pending in an open transaction since {since}" in cells[2]
    assert "2 pending in an open transaction since" in cells[3]
    assert "of which 1 transaction marker" in cells[2]
    assert "caught up" not in cells[2] and "caught up" not in cells[3]
    assert "caught up: 1 transaction marker" in cells[0]
    assert "caught up (read_committed): 2 aborted records, 2 transaction markers" in cells[1]
    assert "pending" not in cells[0] + cells[1]
    assert "5 offset(s) of lag are pending in an open transaction" in page
    assert f"{t}[2]: 3 from offset 2, open since" in page
    assert "5 offset(s) of lag are transaction markers, not records" in page
    assert "2 offset(s) of lag are records of aborted transactions" in page
    fragment = _page(viewer, group, HTTP_HX_REQUEST="true")
    assert "<html" not in fragment
    assert "3 pending in an open transaction since" in _cell(fragment, t, 2)

    # The open transactions end: p2's records become readable, p3's are skipped.
    main.commit_transaction(30)
    other.abort_transaction(30)
    _wait_stable(t, [2, 3])
    lag = group_lag_get(cluster=cluster, group_id=group)
    by_p = {r.partition: r for r in lag.rows}
    assert {p: (r.end, r.lag, r.pending) for p, r in by_p.items() if p >= 2} == {
        2: (6, 5, 0),  # 2-4 records, 5 commit marker
        3: (5, 4, 0),  # 2-3 aborted, 4 abort marker
    }
    assert (by_p[2].readable, by_p[2].markers, by_p[2].aborted) == (3, 2, 0)
    assert (by_p[3].readable, by_p[3].markers, by_p[3].aborted) == (0, 2, 2)
    page = _page(viewer, group)
    _agrees_with_tool(kafka, t, group, page, lag)
    cells = {p: _cell(page, t, p) for p in range(4)}
    assert "pending in an open transaction" not in page
    assert "caught up" not in cells[2] and "of which 2 transaction markers" in cells[2]
    assert "caught up (read_committed): 2 aborted records, 2 transaction markers" in cells[3]
    assert "4 offset(s) of lag are records of aborted transactions" in page
