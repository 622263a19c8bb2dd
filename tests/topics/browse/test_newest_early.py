"""The newest page's early read: its first read begins at the ends the last page saw, while
the fresh watermarks are asked for (topics.browse.selectors.prefetch_marks,
console.kafka.messages.EarlyRead). Whatever happened to the topic since (records added, a
few or many; records deleted; the topic made again, shorter), the page is the one a read
from the fresh watermarks gives, and the early read's consumer always goes back to the pool.
"""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from django.urls import reverse

import topics.browse.selectors as sel
from console.clusters import get_cluster
from console.kafka import client, messages
from topics.browse.views import newest_first

T0 = 1_700_000_000_000


def _idle() -> int:
    with client._pool_lock:
        return sum(len(v) for v in client._pool.values())


def _rows(body: str) -> list[tuple[int, int]]:
    return [
        (int(p), int(o)) for p, o in re.findall(r'data-partition="(\d+)" data-offset="(\d+)"', body)
    ]


def _expected(topic: str, ends: dict[int, tuple[int, int]], n: int = 50) -> list[tuple[int, int]]:
    """The newest page, from a read of the fresh watermarks without any guess."""
    cluster = get_cluster("local")
    by_p = {}
    for p, (low, high) in ends.items():
        got = []
        for batch, _s in messages.scan(
            cluster, topic, {p: (max(low, high - n), high)}, deadline=time.monotonic() + 10
        ):
            got.extend(batch)
        by_p[p] = got
    chosen = sel.merge(by_p, n, backward=True)
    chosen.sort(key=lambda m: (m.timestamp_ms, m.partition, m.offset), reverse=True)
    return [(m.partition, m.offset) for m in chosen]


def _ends(kafka, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "early-ends"})
    try:
        return {
            p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in range(partitions)
        }
    finally:
        c.close()


def _produce_burst(produce, topic: str, partitions: int, count: int, ts: int) -> None:
    produce(
        topic,
        [
            {"value": f"{ts}-{i}".encode(), "partition": i % partitions, "timestamp": ts + i}
            for i in range(count)
        ],
    )


@pytest.mark.kafka
@pytest.mark.django_db
def test_the_newest_page_read_early_is_the_page_of_the_fresh_ends(
    kafka, topic_factory, produce, client_for, monkeypatch
):
    t = topic_factory(partitions=3)
    url = reverse("topics:messages", args=["local", t])
    c = client_for("operator")
    _produce_burst(produce, t, 3, 300, T0)
    assert len(_rows(c.get(url).content.decode())) == 50  # learns the partitions
    began = []
    real = messages.begin_read

    def spy(cluster, topic, starts):
        began.append(dict(starts))
        return real(cluster, topic, starts)

    monkeypatch.setattr(sel, "begin_read", spy)
    client.close_pooled_consumers()
    steps = [
        ("unchanged", lambda: None),
        ("a few added", lambda: _produce_burst(produce, t, 3, 7, T0 + 1000)),
        ("many added", lambda: _produce_burst(produce, t, 3, 4000, T0 + 2000)),
    ]
    for what, change in steps:
        change()
        before = len(began)
        body = c.get(url).content.decode()
        assert len(began) == before + 1, what  # the read began before the ends came
        assert _rows(body) == _expected(t, _ends(kafka, t, 3)), what
        assert _idle() == 1, what  # one consumer, back in the pool
    # the guess is the last ends seen, less the first read's step (35 for 50 over 3)
    assert sel.first_step(50, 3) == 35
    assert began[0] == {0: 65, 1: 65, 2: 65}  # 100 records each
    assert began[2] == {0: 68, 1: 67, 2: 67}  # 7 more: 3, 2 and 2


@pytest.mark.kafka
@pytest.mark.django_db
def test_deleted_records_and_a_shorter_topic_made_again(kafka, topic_factory, produce, client_for):
    t = topic_factory(partitions=2)
    url = reverse("topics:messages", args=["local", t])
    c = client_for("operator")
    _produce_burst(produce, t, 2, 200, T0)
    c.get(url)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    # Records deleted past where the early read starts (the ends last seen, 100 per partition).
    fs = admin.delete_records([TopicPartition(t, p, 98) for p in range(2)])
    for f in fs.values():
        f.result(30)
    body = c.get(url).content.decode()
    assert _rows(body) == _expected(t, _ends(kafka, t, 2))
    assert {o for _p, o in _rows(body)} == {98, 99}
    # The topic deleted and made again with fewer records: the old ends are past the new ones.
    from confluent_kafka.admin import NewTopic

    admin.delete_topics([t])[t].result(30)
    for _ in range(100):
        if t not in admin.list_topics(timeout=10).topics:
            break
        time.sleep(0.1)
    for _ in range(100):
        try:
            admin.create_topics([NewTopic(t, 2, 1)])[t].result(30)
            break
        except Exception:  # noqa: BLE001 - the deletion is still going on
            time.sleep(0.2)
    _produce_burst(produce, t, 2, 6, T0 + 5000)
    rows: list = []
    for _ in range(50):  # until the console's metadata shows the new topic
        rows = _rows(c.get(url).content.decode())
        if len(rows) == 6:
            break
        time.sleep(0.1)
    assert sorted(rows) == [(p, o) for p in range(2) for o in range(3)]
    assert _idle() >= 1


@pytest.mark.kafka
@pytest.mark.django_db
def test_a_page_that_fails_gives_the_early_consumer_back(
    topic_factory, produce, client_for, monkeypatch
):
    t = topic_factory(partitions=2)
    url = reverse("topics:messages", args=["local", t])
    c = client_for("operator")
    _produce_burst(produce, t, 2, 20, T0)
    c.get(url)
    client.close_pooled_consumers()

    def broken(*args, **kwargs):
        raise sel.SeekError("broken on purpose", "mode")

    monkeypatch.setattr(sel, "_read_page", broken)
    r = c.get(url)
    assert r.status_code == 400 and "broken on purpose" in r.content.decode()
    assert _idle() == 1  # begun, never read, given back
    api = reverse("api_topic_messages", args=["local", t])
    assert c.get(api).status_code == 400
    assert _idle() == 1


def test_only_a_newest_first_page_reads_early():
    assert newest_first({}) == 50
    assert newest_first({}, {"mode": "newest", "value_format": "json"}) == 50
    assert newest_first({"limit": "7"}) == 7
    assert newest_first({"mode": "newest", "limit": "500"}) == 500
    assert newest_first({"mode": "oldest"}) is None
    assert newest_first({"cursor": "0:5", "dir": "older"}) is None
    assert newest_first({"limit": "x"}) is None
    assert newest_first({"limit": "0"}) is None
    assert newest_first({"limit": "501"}) is None


class _FakeConsumer:
    def __init__(self) -> None:
        self.assigned: dict[int, int] = {}

    def assign(self, tps) -> None:
        self.assigned = {tp.partition: tp.offset for tp in tps}

    def incremental_unassign(self, tps) -> None:
        for tp in tps:
            del self.assigned[tp.partition]

    def incremental_assign(self, tps) -> None:
        for tp in tps:
            self.assigned[tp.partition] = tp.offset


def test_fit_keeps_guesses_at_or_a_little_before_the_start_and_moves_the_rest(monkeypatch):
    import contextlib

    fake = _FakeConsumer()

    @contextlib.contextmanager
    def pooled(cluster, **overrides):
        yield fake

    monkeypatch.setattr(messages, "pooled_consumer", pooled)
    early = messages.EarlyRead(None, "t", {0: 100, 1: 100, 2: 100, 3: 100, 4: 100})
    assert early.take("other") is None
    assert early.take("t") is early and early.take("t") is None  # one scan takes it
    early.fit({0: 100, 1: 100 + messages.EARLY_SLACK, 2: 101 + messages.EARLY_SLACK, 3: 99, 5: 7})
    # 0 and 1 read on (1 skips what lies before its start); 2 is too far behind, 3 ahead of
    # its start: moved; 4 is not wanted: dropped; 5 was not guessed: added
    assert fake.assigned == {0: 100, 1: 100, 2: 101 + messages.EARLY_SLACK, 3: 99, 5: 7}


@pytest.mark.kafka
@pytest.mark.django_db
def test_the_page_head_renders_before_its_messages_are_read(
    topic_factory, produce, client_for, monkeypatch
):
    """The navigation, tabs and seek form are rendered while the watermarks and the early
    read are on their way (topics.browse.views.PageResults); the messages are read once,
    when the template reaches them. A seek error that only the read finds still gives the
    form again with its reason, and a 400."""
    from topics.browse import views

    t = topic_factory(partitions=2)
    _produce_burst(produce, t, 2, 20, T0)
    url = reverse("topics:messages", args=["local", t])
    c = client_for("operator")
    c.get(url)  # learns the partitions: the page below reads early too
    events = []
    real_fields, real_read = views.SeekFields.__html__, views.browse_page

    def fields(self):
        events.append("seek form")
        return real_fields(self)

    def read(*args, **kwargs):
        events.append("read")
        return real_read(*args, **kwargs)

    monkeypatch.setattr(views.SeekFields, "__html__", fields)
    monkeypatch.setattr(views.SeekFields, "__str__", fields)
    monkeypatch.setattr(views, "browse_page", read)
    body = c.get(url).content.decode()
    assert events == ["seek form", "read"]
    assert len(_rows(body)) == 20
    events.clear()
    bad = c.get(url, {"mode": "offset", "offset": "999", "partitions": "1"})
    assert bad.status_code == 400
    assert events == ["seek form", "read", "seek form"]  # rendered again with the error
    text = bad.content.decode()
    assert "offset 999 is beyond the end of partition 1" in text
    assert 'id="browse"' not in text and not _rows(text)
