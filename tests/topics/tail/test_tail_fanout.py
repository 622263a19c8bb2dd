"""The hub's in-process fan-out: one batch object for every viewer, rows joined once per
view; identical viewers get identical rows, filtered and masked viewers their own."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from console.clusters import Cluster
from console.kafka.types import Message
from topics.tail.consumers import RowBuffer
from topics.tail.frames import inflate, meta_text, pack, read_rows_frame, rows_frame
from topics.tail.hub import TailHub, TopicTail, View, Viewer, render_batch_async


class Sink:
    """What the hub delivers to (the WebSocket consumer's three entry points)."""

    def __init__(self) -> None:
        self.batches: list[dict] = []
        self.statuses: list[dict] = []
        self.buffer = RowBuffer(100)

    def on_batch(self, event: dict) -> None:
        self.batches.append(event)
        self.buffer.add(event["meta"], event["rows"]["operator|auto|auto"], event["count"])

    async def tail_status(self, event: dict) -> None:
        self.statuses.append(event)

    async def tail_error(self, event: dict) -> None:
        raise AssertionError(event)


class Broken(Sink):
    def on_batch(self, event: dict) -> None:
        raise RuntimeError("a viewer that fails must not stop the others")


def _messages(n: int) -> tuple[Message, ...]:
    return tuple(
        Message(
            topic="orders",
            partition=0,
            offset=i,
            timestamp_ms=1_700_000_000_000 + i,
            timestamp_type="create",
            key=f"k-{i}".encode(),
            value=json.dumps({"n": i}).encode(),
            headers=(),
        )
        for i in range(n)
    )


@pytest.mark.django_db
def test_every_viewer_gets_the_same_batch_object_and_the_same_row_strings():
    cluster = Cluster(name="local", bootstrap_servers="127.0.0.1:1")
    view = View(role="operator")

    async def go():
        tail = TopicTail(cluster=cluster, topic="orders", hub=TailHub())
        sinks = [Sink(), Broken(), Sink(), Sink()]
        for i, sink in enumerate(sinks):
            tail.viewers[f"c{i}"] = Viewer(view=view, serial=1, sink=sink)
        batch = await render_batch_async(cluster, "orders", _messages(60), {view.key: view}, {})
        batch.update(type="tail.batch", first=0, count=60, serial=1)
        tail._deliver_batch(batch)
        await tail.deliver(tail.status_event())
        tail._executor.shutdown(wait=False)
        return sinks

    sinks = [s for s in asyncio.run(go()) if not isinstance(s, Broken)]
    assert all(len(s.batches) == 1 and len(s.statuses) == 1 for s in sinks)
    first = sinks[0].batches[0]
    assert all(s.batches[0] is first for s in sinks)  # one object, never copied
    # The rows of a view are one packed string, shared by every viewer's buffer (no
    # per-viewer copy), and a frame from them reads back as the 60 rows, oldest first.
    chunks = [s.buffer.take(500) for s in sinks]
    assert all(c[1][0] is chunks[0][1][0] for c in chunks)
    metas, rows, count = chunks[0]
    frame = read_rows_frame(rows_frame(1, 0, count, metas, rows))
    assert count == 60 and len(frame["rows"]) == 60 and frame["count"] == 60
    assert [m[1] for m in frame["meta"]] == list(range(60))
    assert [re.search(r'data-offset="(\d+)"', r)[1] for r in frame["rows"]] == [
        str(i) for i in range(60)
    ]


@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_identical_viewers_get_identical_rows_and_a_filtered_one_its_own(
    topic_factory, produce, tail_client
):
    t = topic_factory(partitions=2)
    same = [tail_client(t) for _ in range(3)]
    picky = tail_client(t, query="q=blue")
    for c in [*same, picky]:
        c.wait_live()
    same[0].wait(lambda c: c.status.get("viewers") == 4, 10, "four viewers")
    n = 120
    produce(
        t,
        [
            {
                "key": f"k-{i}".encode(),
                "value": json.dumps({"n": i, "color": "blue" if i % 3 == 0 else "red"}).encode(),
            }
            for i in range(n)
        ],
    )
    for c in same:
        c.wait_rows(n)
    picky.wait_rows(n // 3)
    time.sleep(0.5)  # nothing more arrives
    with same[0].lock:
        rows, meta = list(same[0].rows), list(same[0].meta)
    assert len(rows) == n
    for c in same[1:]:
        with c.lock:
            assert c.rows == rows and c.meta == meta and c.skipped == 0
    with picky.lock:
        picked = list(picky.rows)
    assert len(picked) == n // 3
    assert picked == [r for r in rows if "blue" in r]  # the very same row markup


@pytest.mark.django_db
def test_a_masked_role_gets_its_own_masked_rows_in_the_same_batch():
    import re

    from console.clusters import MaskRule

    cluster = Cluster(
        name="local",
        bootstrap_servers="127.0.0.1:1",
        masking=(MaskRule(topics=re.compile(".*"), json_paths=("$.n",), roles=("operator",)),),
    )
    operator, admin = View(role="operator"), View(role="admin")
    messages = tuple(
        Message(
            topic="orders",
            partition=0,
            offset=i,
            timestamp_ms=1_700_000_000_000 + i,
            timestamp_type="create",
            key=b"k",
            value=json.dumps({"n": 424242 + i}).encode(),
        )
        for i in range(3)
    )
    batch = asyncio.run(
        render_batch_async(
            cluster, "orders", messages, {operator.key: operator, admin.key: admin}, {}
        )
    )
    masked, clear = (inflate(batch["rows"][v.key]) for v in (operator, admin))
    assert "424242" not in masked and "***" in masked
    assert all(str(424242 + i) in clear for i in range(3))


def test_viewers_in_step_send_one_frame_and_others_their_own():
    from topics.tail.consumers import FrameCache

    cache = FrameCache(size=2)
    meta, rows = pack(meta_text([(0, 1, 2)])), pack('<tr data-offset="1">a</tr>')
    first = cache.frame(3, 0, 1, [meta], [rows])
    assert cache.frame(3, 0, 1, [meta], [rows]) is first and cache.hits == 1
    assert read_rows_frame(first) == {
        "type": "rows",
        "seq": 3,
        "skipped": 0,
        "count": 1,
        "meta": [[0, 1, 2]],
        "rows": ['<tr data-offset="1">a</tr>'],
    }
    # Anything that differs (sequence, skipped count, rows) is a frame of its own.
    assert read_rows_frame(cache.frame(4, 0, 1, [meta], [rows]))["seq"] == 4
    assert read_rows_frame(cache.frame(3, 7, 1, [meta], [rows]))["skipped"] == 7
    other = cache.frame(3, 0, 1, [meta], [pack("<tr>b</tr>")])
    assert read_rows_frame(other)["rows"] == ["<tr>b</tr>"]
    assert rows_frame(3, 0, 1, [meta], [rows]) == first
    assert len(cache._frames) == 2  # bounded


def test_packed_parts_laid_end_to_end_read_as_one_stream():
    """Chunks compressed apart (each batch once) make one frame: the rows newest first for
    the page, the positions oldest first; an empty frame (a skipped count only) too."""
    batches = [
        [(p, o, 1_700_000_000_000 + o) for o in range(o0, o0 + n)]
        for p, o0, n in ((0, 0, 3), (1, 10, 1), (0, 3, 40))
    ]
    metas = [pack(meta_text(b)) for b in batches]
    rows = [
        pack("".join(f'<tr data-offset="{o}">{"x" * o}</tr>' for _p, o, _t in reversed(b)))
        for b in batches
    ]
    frame = read_rows_frame(rows_frame(9, 2, 44, metas, rows))
    flat = [m for b in batches for m in b]
    assert frame["meta"] == [list(m) for m in flat]
    assert frame["rows"] == [f'<tr data-offset="{o}">{"x" * o}</tr>' for _p, o, _t in flat]
    # What the page inserts (tail.js): what follows the header and the meta, in one piece.
    data = rows_frame(9, 2, 44, metas, rows)
    newline = data.index(b"\n")
    head = json.loads(data[:newline])
    html = inflate(data[newline + 1 + head["meta"] :])
    assert html == "".join(reversed(frame["rows"]))
    empty = read_rows_frame(rows_frame(10, 5, 0, [], []))
    assert empty["rows"] == [] and empty["meta"] == [] and empty["skipped"] == 5
