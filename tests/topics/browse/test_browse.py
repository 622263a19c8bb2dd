"""The message browser against the real broker: every seek mode, paging without skip or
repeat, decoders, filters, bounded scans, roles, masking, escaping and downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from django.urls import reverse

from console.clusters import Cluster, MaskRule, all_clusters, get_cluster, reset_clusters
from console.messages.filters import Condition, MessageFilter
from topics.browse.selectors import (
    Render,
    Seek,
    browse_page,
    parse_cursor,
    search_chunk,
    search_start,
)

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

T0 = 1_700_000_000_000  # timestamps the tests give their messages (ms)


def positions(page: str) -> list[tuple[int, int]]:
    return [
        (int(p), int(o)) for p, o in re.findall(r'data-partition="(\d+)" data-offset="(\d+)"', page)
    ]


def link(page: str, rel_id: str) -> str | None:
    m = re.search(rf'href="([^"]+)" id="{rel_id}"', page)
    return m.group(1).replace("&amp;", "&") if m else None


def fill(produce, topic: str, counts: dict[int, int]) -> set[tuple[int, int]]:
    """counts[p] messages into partition p, timestamps interleaved across partitions."""
    msgs, seq = [], 0
    for i in range(max(counts.values())):
        for p, n in counts.items():
            if i < n:
                msgs.append(
                    {
                        "value": json.dumps({"p": p, "i": i}).encode(),
                        "key": f"k{i}".encode(),
                        "partition": p,
                        "timestamp": T0 + seq,
                    }
                )
                seq += 1
    produce(topic, msgs)
    return {(p, i) for p, n in counts.items() for i in range(n)}


def test_newest_then_older_pages_cover_all_once_then_newer_pages_come_back(
    topic_factory, produce, client_for
):
    t = topic_factory(partitions=3)
    everything = fill(produce, t, {0: 13, 1: 5, 2: 0})
    c = client_for("operator")
    url = reverse("topics:messages", args=["local", t]) + "?mode=newest&limit=4"
    seen: list[tuple[int, int]] = []
    pages = []
    while url:
        page = c.get(url).content.decode()
        got = positions(page)
        assert got, page[-3000:]
        pages.append(got)
        seen += got
        url = link(page, "older")
    assert len(seen) == len(set(seen)) == len(everything)
    assert set(seen) == everything
    # newest first, across partitions: the very first row is the newest message
    assert pages[0][0] == (0, 12)
    # and back again with "Newer": the same pages in reverse order
    page = c.get(
        reverse("topics:messages", args=["local", t]) + "?mode=newest&limit=4"
    ).content.decode()
    url = link(page, "older")
    page = c.get(url).content.decode()
    back = c.get(link(page, "newer")).content.decode()
    assert positions(back) == pages[0]


def test_oldest_forward_paging_and_back(topic_factory, produce, client_for):
    t = topic_factory(partitions=4)
    everything = fill(produce, t, {0: 3, 1: 9, 2: 1, 3: 6})
    c = client_for("operator")
    url = reverse("topics:messages", args=["local", t]) + "?mode=oldest&limit=5"
    seen, pages = [], []
    while url:
        page = c.get(url).content.decode()
        pages.append(positions(page))
        seen += pages[-1]
        url = link(page, "newer")
    assert len(seen) == len(set(seen)) and set(seen) == everything
    # oldest first: timestamps ascending over the whole walk
    assert seen[0] == (0, 0)
    second = c.get(
        reverse("topics:messages", args=["local", t]) + "?mode=oldest&limit=5"
    ).content.decode()
    nxt = c.get(link(second, "newer")).content.decode()
    prev = c.get(link(nxt, "older")).content.decode()
    assert sorted(positions(prev)) == sorted(pages[0])


def test_offset_and_timestamp_seek(topic_factory, produce, client_for):
    t = topic_factory(partitions=2)
    fill(produce, t, {0: 10, 1: 10})
    c = client_for("operator")
    base = reverse("topics:messages", args=["local", t])
    page = c.get(
        base, {"mode": "offset", "partitions": "1", "offset": 7, "limit": 50}
    ).content.decode()
    assert positions(page) == [(1, 7), (1, 8), (1, 9)]
    # message i of partition p has timestamp T0 + 2*i + p
    page = c.get(
        base, {"mode": "timestamp", "timestamp": str(T0 + 2 * 6), "limit": 50}
    ).content.decode()
    got = positions(page)
    assert got[0] == (0, 6) and (1, 5) not in got and (1, 6) in got and len(got) == 8
    iso = "2023-11-14T22:13:20.012Z"  # = T0 + 12 ms
    assert positions(c.get(base, {"mode": "timestamp", "timestamp": iso}).content.decode()) == got


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        (
            {"mode": "offset", "partitions": "0", "offset": 99},
            "offset",
            "beyond the end of partition 0",
        ),
        ({"mode": "offset", "offset": -1}, "offset", "greater than or equal to 0"),
        ({"mode": "offset"}, "offset", "Give the offset"),
        (
            {"mode": "timestamp", "timestamp": "yesterday-ish"},
            "timestamp",
            "is not a date and time",
        ),
        ({"mode": "timestamp", "timestamp": "2999-01-01T00:00:00"}, "timestamp", "in the future"),
        ({"partitions": "7"}, "partitions", "does not exist"),
        ({"partitions": "2-1"}, "partitions", "runs backwards"),
        ({"limit": 100000}, "limit", "less than or equal to 500"),
        ({"q": "(unclosed", "kind": "regex"}, "q", "does not compile"),
        ({"q": "$.page = 'x'", "kind": "jsonpath"}, "q", "JSON path filter reads like"),
        ({"q": "$.page == checkout", "kind": "jsonpath"}, "q", "not a JSON literal"),
        ({"q": "x", "field": "header"}, "q", "name the header"),
        ({"cursor": "0:abc", "dir": "older"}, "cursor", "not a list of partition:offset"),
    ],
)
def test_bad_seek_input_is_a_400_with_the_reason(
    topic_factory, produce, client_for, params, field, text
):
    t = topic_factory(partitions=2)
    fill(produce, t, {0: 3, 1: 3})
    r = client_for("operator").get(reverse("topics:messages", args=["local", t]), params)
    assert r.status_code == 400, r.content.decode()[-2000:]
    assert text in r.content.decode()


def test_oldest_when_the_log_start_is_far_past_zero(kafka, topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [f"m{i}".encode() for i in range(300)])
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    for f in admin.delete_records([TopicPartition(t, 0, 250)]).values():
        f.result(20)
    c = client_for("operator")
    base = reverse("topics:messages", args=["local", t])
    page = c.get(base, {"mode": "oldest", "limit": 5}).content.decode()
    assert positions(page) == [(0, o) for o in range(250, 255)]
    page = c.get(base, {"mode": "offset", "offset": 3, "limit": 2}).content.decode()
    assert positions(page) == [(0, 250), (0, 251)] and "offsets before 250 were deleted" in page
    # paging older from the oldest page: there is nothing older
    assert link(page, "older") is None


def test_transaction_markers_and_empty_partitions_end_at_once(kafka, topic_factory):
    t = topic_factory(partitions=6)
    p = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": f"tx-{t}"})
    p.init_transactions(20)
    p.begin_transaction()
    for i in range(5):
        p.produce(t, value=f"tx{i}".encode(), partition=0)
    p.commit_transaction(20)  # offset 5 of partition 0 is a commit marker, never delivered
    cluster = get_cluster("local")
    t0 = time.monotonic()
    page = browse_page(cluster, t, Seek(mode="newest", limit=50), Render())
    assert [(v.partition, v.offset) for v in page.views] == [(0, o) for o in range(4, -1, -1)]
    assert not page.cut_short and time.monotonic() - t0 < 2.0
    flt = MessageFilter(conditions=(Condition.build("value", "contains", "tx3"),))
    chunk = search_chunk(cluster, t, search_start(cluster, t, Seek(mode="oldest")), flt, Render())
    assert chunk.done and [v.offset for v in chunk.views] == [3]


def test_decoders(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(
        t,
        [
            {"value": b'{"page": "/pricing", "n": 1}', "key": b"u-1"},
            {"value": "plain text ✓".encode(), "key": None},
            {"value": b"\x00\x01\x02\xff", "key": b"\xff\x00"},
            {"value": b"\x00\x00\x00\x00\x07payload"},  # framed, but no registry configured
            {"value": None, "key": b"gone"},  # tombstone
            {"value": b"not json {", "headers": [("bin", b"\xff\xfe"), ("trace", b"abc")]},
        ],
    )
    c = client_for("operator")
    base = reverse("topics:messages", args=["local", t])
    page = c.get(base, {"mode": "oldest"}).content.decode()
    assert "&quot;page&quot;: &quot;/pricing&quot;" in page  # pretty JSON, escaped
    assert "plain text ✓" in page
    assert "00 01 02 ff" in page and "ff 00" in page
    assert "schema-registry framed (schema id 7)" in page
    assert "null (tombstone)" in page
    assert "bin=0xfffe" in page and "trace=abc" in page
    forced = c.get(base, {"mode": "oldest", "value_format": "json"}).content.decode()
    assert "shown as text: not valid JSON" in forced
    assert "shown as binary: not valid UTF-8" in forced
    b64 = c.get(base, {"mode": "oldest", "value_format": "base64"}).content.decode()
    assert "eyJwYWdlIjog" in b64
    # the choice is remembered for this topic: the plain tab opens with it
    again = c.get(base).content.decode()
    assert "eyJwYWdlIjog" in again and '<option value="base64" selected>' in again


def _search(c, t, **params) -> tuple[list[tuple[int, int]], str]:
    """Run a search to its end, following the chunks like the page does."""
    url = (
        reverse("topics:messages_search", args=["local", t])
        + "?"
        + "&".join(f"{k}={v}" for k, v in params.items())
    )
    found, last = [], ""
    for _ in range(100):
        r = c.get(url)
        assert r.status_code == 200, r.content.decode()[-2000:]
        last = r.content.decode()
        found += positions(last)
        m = re.search(r'id="search-next" hx-get="([^"]+)"', last)
        if not m:
            # It ended done or at a bound, never on an error the caller would miss.
            state = re.search(r'data-state="([a-z]+)"', last)
            assert state and state.group(1) in ("done", "stopped"), last[-2000:]
            return found, last
        url = m.group(1).replace("&amp;", "&")
    raise AssertionError("search did not end")


def test_every_filter_kind(topic_factory, produce, client_for):
    t = topic_factory(partitions=3)
    pages = ["/home", "/pricing", "/checkout"]
    produce(
        t,
        [
            {
                "value": json.dumps({"page": pages[i % 3], "n": i}).encode(),
                "key": f"user-{i % 5}".encode(),
                "partition": i % 3,
                "headers": [("source", b"web" if i % 2 else b"app")],
                "timestamp": T0 + i,
            }
            for i in range(60)
        ],
    )
    c = client_for("operator")
    assert len(_search(c, t, q="checkout")[0]) == 20
    assert len(_search(c, t, q="CHECKOUT")[0]) == 20  # case folded by default
    assert len(_search(c, t, q="CHECKOUT", case="on")[0]) == 0
    assert len(_search(c, t, q="%5Euser-%5B12%5D%24", kind="regex", field="key")[0]) == 24
    assert len(_search(c, t, q='%24.page+%3D%3D+"%2Fpricing"', kind="jsonpath")[0]) == 20
    assert len(_search(c, t, q="%24.n+%3D%3D+7", kind="jsonpath")[0]) == 1
    assert len(_search(c, t, q="web", field="header", header="source")[0]) == 30
    got, _ = _search(c, t, q="checkout", partitions="2")
    assert got and all(p == 2 for p, _ in got)
    got, _ = _search(c, t, q="page", until=str(T0 + 9))
    assert len(got) == 10
    got, _ = _search(c, t, q="page", max_offset="4")
    assert len(got) == 15 and all(o <= 4 for _, o in got)
    # a pattern that backtracks catastrophically is cut off and reported, not a hang
    produce(t, [{"value": b"a" * 30 + b"!", "partition": 0}])
    t0 = time.monotonic()
    got, last = _search(c, t, q="(a%7Caa)%2B%24", kind="regex")
    assert got == [] and "ran out of time" in last and time.monotonic() - t0 < 10


def test_bounded_search_stops_says_where_and_continues(
    topic_factory, produce, client_for, settings
):
    settings.CONSOLE_SEARCH_MAX_MESSAGES = 150
    t = topic_factory(partitions=2)
    produce(t, [{"value": f"v{i}".encode(), "partition": i % 2} for i in range(400)])
    c = client_for("operator")
    got, last = _search(c, t, q="nomatch", mode="oldest")
    assert got == []
    assert 'data-state="stopped"' in last and "the scan limit of 150 messages" in last
    assert 'scanned <strong id="scanned">150</strong> of 400' in last
    assert 'this is not "no messages"' in last
    cont = re.search(r'hx-get="([^"]+)" hx-target="#results"', last).group(1).replace("&amp;", "&")
    pos = parse_cursor(
        re.search(r"pos=([0-9%A-F:,]+)", cont).group(1).replace("%3A", ":").replace("%2C", ",")
    )
    assert sum(pos.values()) == 150
    r = c.get(cont).content.decode()
    assert 'scanned <strong id="scanned">150</strong>' in r  # the next 150, counted afresh


def test_empty_topic_and_99_empty_partitions_are_done_at_once(topic_factory, produce, client_for):
    t = topic_factory(partitions=100)
    produce(t, [{"value": b"only one", "partition": 42}])
    c = client_for("operator")
    t0 = time.monotonic()
    got, last = _search(c, t, q="only")
    assert got == [(42, 0)] and 'data-state="done"' in last
    assert time.monotonic() - t0 < 2.0
    empty = topic_factory(partitions=3)
    t0 = time.monotonic()
    got, last = _search(c, empty, q="x")
    assert got == [] and 'data-state="done"' in last and time.monotonic() - t0 < 1.0
    page = c.get(reverse("topics:messages", args=["local", empty])).content.decode()
    assert "This topic holds no messages" in page


def test_contents_need_the_operator_role(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"secret-value-123", "key": b"secret-key"}])
    viewer = client_for("viewer")
    page = viewer.get(reverse("topics:messages", args=["local", t])).content.decode()
    assert positions(page) == [(0, 0)]
    assert "secret-value-123" not in page and "secret-key" not in page
    assert "needs the operator role" in page
    assert (
        viewer.get(reverse("topics:messages", args=["local", t]), {"q": "secret"}).status_code
        == 403
    )
    assert (
        viewer.get(reverse("topics:messages_search", args=["local", t]), {"q": "x"}).status_code
        == 403
    )
    assert viewer.get(reverse("topics:messages_download", args=["local", t])).status_code == 403
    assert (
        "secret-value-123"
        in client_for("operator")
        .get(reverse("topics:messages", args=["local", t]))
        .content.decode()
    )


def test_downloads_and_escaping(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(
        t,
        [
            {"value": b"<script>alert(1)</script>", "key": b"<b>k</b>"},
            {"value": b'{"page": "/x", "formula": "=1+2"}', "key": b"=cmd|' /C calc'!A0"},
        ],
    )
    c = client_for("operator")
    base = reverse("topics:messages", args=["local", t])
    page = c.get(base, {"mode": "oldest"}).content.decode()
    assert (
        "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    )
    assert "<b>k</b>" not in page
    dl = reverse("topics:messages_download", args=["local", t])
    r = c.get(dl, {"mode": "oldest", "format": "jsonl"})
    assert r["Content-Type"] == "application/x-ndjson" and "attachment" in r["Content-Disposition"]
    assert r["X-Content-Type-Options"] == "nosniff"
    lines = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert [x["offset"] for x in lines] == [0, 1] and lines[1]["value"] == {
        "page": "/x",
        "formula": "=1+2",
    }
    r = c.get(dl, {"mode": "oldest", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0][:2] == ["partition", "offset"] and rows[2][4].startswith("'=")  # no formula
    r = c.get(dl, {"mode": "oldest", "format": "jsonl", "q": "script"})
    assert [
        json.loads(x)["offset"] for x in b"".join(r.streaming_content).decode().splitlines()
    ] == [0]
    assert c.get(dl, {"format": "xml"}).status_code == 400


def test_masking_in_browser_search_and_download(kafka, topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b'{"user": "u-1", "email": "ann@example.com", "page": "/x"}'}])
    saved = all_clusters()
    rule = MaskRule(topics=re.compile(".*"), json_paths=("$.email",), roles=("operator",))
    reset_clusters([Cluster("masked", kafka.bootstrap_servers, masking=(rule,))])
    try:
        c = client_for("operator")
        page = c.get(reverse("topics:messages", args=["masked", t])).content.decode()
        assert "ann@example.com" not in page and "***" in page and "/x" in page
        url = reverse("topics:messages_search", args=["masked", t])
        r = c.get(url, {"q": "ann@"}).content.decode()
        assert positions(r) == []  # the masked value cannot be probed by searching
        r = c.get(reverse("topics:messages_download", args=["masked", t]), {"format": "jsonl"})
        assert b"ann@example.com" not in b"".join(r.streaming_content)
        admin = (
            client_for("admin").get(reverse("topics:messages", args=["masked", t])).content.decode()
        )
        assert "ann@example.com" in admin
    finally:
        reset_clusters(saved)


def test_newest_first_search_goes_backward_in_windows_without_skip_or_repeat(
    topic_factory, produce, client_for, monkeypatch, settings
):
    import topics.browse.selectors

    monkeypatch.setattr(topics.browse.selectors, "BACK_WINDOW", 30)  # many small chunks
    t = topic_factory(partitions=3)
    produce(
        t,
        [
            {
                "value": f"v{i} {'hit' if i % 3 == 0 else 'miss'}".encode(),
                "partition": i % 3,
                "timestamp": T0 + i,
            }
            for i in range(300)
        ],
    )
    c = client_for("operator")
    backward, last = _search(c, t, q="hit")
    forward, _ = _search(c, t, q="hit", mode="oldest")
    assert 'data-state="done"' in last
    assert len(backward) == len(set(backward)) == 100 and set(backward) == set(forward)
    # newest first: the first chunk holds the newest matches
    assert backward[0] == (0, 99)
    # a scan limit stops a backward search too, and says so
    settings.CONSOLE_SEARCH_MAX_MESSAGES = 90
    got, last = _search(c, t, q="hit")
    assert "the scan limit of 90 messages" in last and len(got) == 30


def test_a_newest_first_search_starts_with_a_small_window_and_widens_it(
    topic_factory, produce, monkeypatch
):
    """A common word's newest matches come from the first thousand offsets (not a hundred
    thousand read and parsed for a screenful); windows read in time double the next, within
    a chunk (which goes on to the next window while it has shown too few) and across."""
    import topics.browse.selectors as sel

    t = topic_factory(partitions=2)
    n = 16_000  # three windows a partition: 1,000, 2,000, 4,000
    produce(
        t,
        [
            {"value": f"v{i} {'hit' if i % 100 else 'rare'}".encode(), "partition": i % 2}
            for i in range(n)
        ],
    )
    cluster = get_cluster("local")
    common = MessageFilter(conditions=(Condition.build("value", "contains", "hit"),))
    chunk = search_chunk(
        cluster, t, search_start(cluster, t, Seek(mode="newest")), common, Render()
    )
    assert len(chunk.views) == 100  # the first screenful (CONSOLE_SEARCH_CHUNK_RESULTS)
    assert chunk.cursor.scanned <= sel.FIRST_BACK_WINDOW
    # A rare word: every window is read in time, and each is twice the last.
    steps = []
    real = sel._back_step

    def step(*args, **kwargs):
        chunk = real(*args, **kwargs)
        steps.append(chunk.cursor.window)
        return chunk

    monkeypatch.setattr(sel, "_back_step", step)
    rare = MessageFilter(conditions=(Condition.build("value", "contains", "rare"),))
    cursor = search_start(cluster, t, Seek(mode="newest"))
    found = 0
    while True:
        chunk = search_chunk(cluster, t, cursor, rare, Render(), chunk_s=30)
        found += len(chunk.views)
        if chunk.done or chunk.stopped:
            break
        cursor = chunk.cursor
    first = sel.FIRST_BACK_WINDOW // 2
    assert steps[:3] == [2 * first, 4 * first, 8 * first]
    assert found == n // 100  # nothing skipped, nothing twice
