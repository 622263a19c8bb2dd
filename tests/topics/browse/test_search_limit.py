"""A search stopped at the result limit continues exactly after the last match shown: over
the continues, forward and newest-first, every match is shown once; the positions shown say
where each partition goes on; matched text is marked; Stop goes with the end."""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import topics.browse.selectors
import topics.browse.views
from console.clusters import get_cluster
from console.kafka.errors import ClusterUnavailable
from console.kafka.messages import scan
from console.messages.filters import Condition, MessageFilter
from topics.browse.selectors import Render, Seek, parse_cursor, search_chunk, search_start

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

T0 = 1_700_000_000_000
LIMIT = 7


def positions(html: str) -> list[tuple[int, int]]:
    return [
        (int(p), int(o)) for p, o in re.findall(r'data-partition="(\d+)" data-offset="(\d+)"', html)
    ]


def fill(produce, topic: str, counts: dict[int, int], hit) -> tuple[set, dict]:
    """counts[p] messages into partition p, timestamps interleaved across partitions; a
    message is a match ("HIT") when hit(p, i). Returns the matches and every timestamp."""
    msgs, stamps, matches, seq = [], {}, set(), 0
    for i in range(max(counts.values())):
        for p, n in counts.items():
            if i < n:
                word = "HIT" if hit(p, i) else "miss"
                msgs.append(
                    {"value": f"{word} p{p} i{i}".encode(), "partition": p, "timestamp": T0 + seq}
                )
                stamps[(p, i)] = T0 + seq
                if word == "HIT":
                    matches.add((p, i))
                seq += 1
    produce(topic, msgs)
    return matches, stamps


def _url(html: str, pattern: str) -> str | None:
    m = re.search(pattern, html)
    return m.group(1).replace("&amp;", "&") if m else None


def next_url(html: str) -> str | None:
    return _url(html, r'id="search-next" hx-get="([^"]+)"')


def continue_url(html: str) -> str | None:
    return _url(html, r'<p id="search-continue"[^>]*>\s*<button type="button" hx-get="([^"]+)"')


def reported(html: str) -> dict[int, int]:
    return parse_cursor(re.search(r'data-positions="([0-9:,]*)"', html).group(1))


def run_segment(c, url: str) -> tuple[list[tuple[int, int]], str]:
    """Follow one search (or one continue) chunk by chunk, like the page, until it ends."""
    shown: list[tuple[int, int]] = []
    for _ in range(200):
        r = c.get(url)
        assert r.status_code == 200, r.content.decode()[-2000:]
        html = r.content.decode()
        shown += positions(html)
        url = next_url(html)
        if url is None:
            return shown, html
        assert 'id="search-stop"' in html  # running: Stop is there
    raise AssertionError("the search did not end")


def check_continues(c, first_url: str, matches: set, stamps: dict, *, backward: bool, start):
    """Run the search and every continue; each segment shows LIMIT matches (but the last)
    in time order, reports per partition where it goes on, and nothing repeats or is lost."""
    seen: list[tuple[int, int]] = []
    url, start, segments = first_url, dict(start), 0
    while True:
        segments += 1
        assert segments <= len(matches) // LIMIT + 3
        shown, html = run_segment(c, url)
        stamp = [stamps[x] for x in shown]
        assert stamp == sorted(stamp, reverse=backward)
        seen += shown
        assert 'id="search-stop"' not in html  # ended: no Stop
        if 'data-state="done"' in html:
            assert continue_url(html) is None
            break
        assert 'data-state="stopped"' in html and f"{LIMIT} matches shown" in html, html[-1500:]
        assert len(shown) == LIMIT
        pos = reported(html)
        unseen = matches - set(seen)
        for p in start:
            mine = [o for q, o in shown if q == p]
            rest = sorted(o for q, o in unseen if q == p)
            # Each partition goes on from its last shown match (or from further on, past
            # offsets read without a match), never past one not shown.
            if backward:  # positions are exclusive upper bounds
                top = min(mine) if mine else start[p]
                assert (rest[-1] + 1 if rest else 0) <= pos[p] <= top, (p, pos, mine, rest)
            else:
                low = max(mine) + 1 if mine else start[p]
                assert low <= pos[p] <= (rest[0] if rest else pos[p]), (p, pos, mine, rest)
        url = continue_url(html)
        query = parse_qs(urlsplit(url).query)
        assert parse_cursor(query["pos"][0]) == pos and query["matched"] == ["0"]
        start = pos
    assert len(seen) == len(set(seen)), "a match was shown twice"
    assert set(seen) == matches
    return segments


def _hit(p: int, i: int) -> bool:
    return (i * 7 + p * 3) % 5 == 0 or (p == 1 and 40 <= i < 55)  # a dense run in partition 1


# Chunks of the default second, and chunks so short (a busy machine) that one ends before
# it has read every partition's first answer: the order and the continues hold for both.
CHUNKS = [None, 0.001, 0.003]


@pytest.mark.parametrize("chunk_s", CHUNKS)
@pytest.mark.parametrize("window", [None, 40])
def test_newest_first_search_continues_after_the_last_match_shown(
    topic_factory, produce, client_for, settings, monkeypatch, window, chunk_s
):
    settings.CONSOLE_SEARCH_MAX_RESULTS = LIMIT
    if chunk_s:
        settings.CONSOLE_SEARCH_CHUNK_S = chunk_s
    if window:  # several backward windows per segment, cut inside one
        monkeypatch.setattr(topics.browse.selectors, "BACK_WINDOW", window)
    t = topic_factory(partitions=3)
    counts = {0: 120, 1: 80, 2: 100}
    matches, stamps = fill(produce, t, counts, _hit)
    assert len(matches) > 5 * LIMIT
    url = reverse("topics:messages_search", args=["local", t]) + "?q=hit"
    segments = check_continues(
        client_for("operator"), url, matches, stamps, backward=True, start=counts
    )
    assert segments >= len(matches) // LIMIT


@pytest.mark.parametrize("chunk_s", CHUNKS)
def test_forward_search_continues_after_the_last_match_shown(
    topic_factory, produce, client_for, settings, chunk_s
):
    settings.CONSOLE_SEARCH_MAX_RESULTS = LIMIT
    if chunk_s:
        settings.CONSOLE_SEARCH_CHUNK_S = chunk_s
    t = topic_factory(partitions=3)
    matches, stamps = fill(produce, t, {0: 120, 1: 80, 2: 100}, _hit)
    url = reverse("topics:messages_search", args=["local", t]) + "?q=hit&mode=oldest"
    check_continues(
        client_for("operator"), url, matches, stamps, backward=False, start={0: 0, 1: 0, 2: 0}
    )
    # from an offset: only the matches from there on, each once
    url = reverse("topics:messages_search", args=["local", t]) + "?q=hit&mode=offset&offset=50"
    later = {(p, o) for p, o in matches if o >= 50}
    check_continues(
        client_for("operator"), url, later, stamps, backward=False, start={0: 50, 1: 50, 2: 50}
    )


def test_a_limit_reached_with_the_last_match_is_done(topic_factory, produce, client_for, settings):
    settings.CONSOLE_SEARCH_MAX_RESULTS = 4
    t = topic_factory(partitions=2)
    fill(produce, t, {0: 10, 1: 10}, lambda p, i: i in (2, 7))  # exactly 4 matches
    c = client_for("operator")
    for mode in ("oldest", "newest"):
        url = reverse("topics:messages_search", args=["local", t]) + f"?q=hit&mode={mode}"
        shown, html = run_segment(c, url)
        assert len(shown) == 4 and 'data-state="done"' in html and continue_url(html) is None


def test_matches_are_marked_and_contents_stay_escaped(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(
        t,
        [
            {
                "value": b"<b>Needle</b> and needle",
                "key": b"k<needle>",
                "headers": [("h", b"x-needle")],
            },
            {"value": b'{"page": "/needle"}', "key": b"k2"},
        ],
    )
    c = client_for("operator")
    url = reverse("topics:messages_search", args=["local", t])
    html = c.get(url, {"q": "needle", "mode": "oldest"}).content.decode()
    assert "&lt;b&gt;<mark>Needle</mark>&lt;/b&gt; and <mark>needle</mark>" in html
    assert "<b>" not in html
    assert "k&lt;needle&gt;" in html  # the key was not searched: not marked
    assert (
        "<summary><code>{&quot;page&quot;: &quot;/<mark>needle</mark>&quot;}</code></summary>"
        in html
    )
    html = c.get(
        url, {"q": "n[e]+dle", "kind": "regex", "field": "any", "mode": "oldest"}
    ).content.decode()
    assert "k&lt;<mark>needle</mark>&gt;" in html and "h=x-<mark>needle</mark>" in html
    html = c.get(
        url, {"q": "NEEDLE", "field": "header", "header": "h", "mode": "oldest"}
    ).content.decode()
    assert "h=x-<mark>needle</mark>" in html and "<mark>Needle</mark>" not in html
    # a JSON-path equality marks nothing, and a plain page has no marks
    html = c.get(
        url, {"q": '$.page == "/needle"', "kind": "jsonpath", "mode": "oldest"}
    ).content.decode()
    assert positions(html) == [(0, 1)] and "<mark>" not in html
    page = c.get(reverse("topics:messages", args=["local", t])).content.decode()
    assert "<mark>" not in page and "&lt;b&gt;Needle&lt;/b&gt;" in page


def test_stop_is_there_only_while_the_search_runs(topic_factory, produce, client_for, settings):
    t = topic_factory(partitions=1)
    produce(t, [f"v{i}".encode() for i in range(50)])
    c = client_for("operator")
    page = c.get(reverse("topics:messages", args=["local", t]), {"q": "v1"}).content.decode()
    assert 'id="search-stop"' in page  # the page opens running
    url = reverse("topics:messages_search", args=["local", t])
    settings.CONSOLE_SEARCH_CHUNK_S = 0.0  # each chunk ends at once: the search runs on
    html = c.get(url, {"q": "v1"}).content.decode()
    assert 'data-state="running"' in html and 'id="search-stop"' in html
    assert '<p id="search-continue" hidden>' in html  # shown by Stop, not before
    settings.CONSOLE_SEARCH_CHUNK_S = 5.0
    html = c.get(url, {"q": "v1"}).content.decode()
    assert 'data-state="done"' in html and 'id="search-stop"' not in html


def test_an_error_ends_the_search_with_its_reason(topic_factory, produce, client_for, monkeypatch):
    t = topic_factory(partitions=1)
    produce(t, [b"v"])
    c = client_for("operator")
    url = reverse("topics:messages_search", args=["local", t])
    r = c.get(url, {"q": "v", "pos": "0:x", "ends": "0:1"})
    html = r.content.decode()
    assert r.status_code == 400 and 'data-state="error"' in html and 'id="search-stop"' not in html
    assert "not a list of partition:offset" in html and 'class="search-error"' in html

    def down(*args, **kwargs):
        raise ClusterUnavailable("no broker answered within 5 s")

    monkeypatch.setattr(topics.browse.views, "search_chunk", down)
    r = c.get(url, {"q": "v", "pos": "0:0", "ends": "0:1", "elapsed": "0.5", "scanned": "3"})
    html = r.content.decode()
    assert r.status_code == 503, html[:600]
    assert 'data-state="error"' in html and "no broker answered" in html
    retry = continue_url(html)
    assert "Try again from here" in html and parse_qs(urlsplit(retry).query)["pos"] == ["0:0"]


# --- property: any limit, any spread of matches, chunks and windows --------------------


def search_to_the_end(cluster, topic: str, mode: str, limit: int, most: int) -> list:
    """A "HIT" search chunk by chunk, continued after each stop at the result limit (each
    such stop shows exactly the limit); the (partition, offset) of every match shown."""
    flt = MessageFilter(conditions=(Condition.build("value", "contains", "HIT"),))
    cursor = search_start(cluster, topic, Seek(mode=mode))
    seen: list[tuple[int, int]] = []
    for _ in range(most):
        chunk = search_chunk(cluster, topic, cursor, flt, Render())
        got = [(v.partition, v.offset) for v in chunk.views]
        seen += got
        if chunk.done:
            return seen
        if chunk.stopped:
            assert "matches shown" in chunk.stopped and cursor.matched + len(got) == limit
            chunk.cursor.matched = chunk.cursor.scanned = 0  # "Continue from here"
            chunk.cursor.elapsed_s = 0.0
        cursor = chunk.cursor
    raise AssertionError("the search did not end")


def property_test(examples: int):
    return hsettings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


LIMITS = st.integers(1, 9)
WINDOWS = st.sampled_from([3, 25, 100_000])
BATCHES = st.sampled_from([1, 7, 2000])


def counts_of(least: int):
    """Messages per partition, for `least` to 4 partitions."""
    return st.lists(st.integers(0, 60), min_size=least, max_size=4)


@property_test(25)
@given(data=st.data(), limit=LIMITS, counts=counts_of(1), batch=BATCHES, window=WINDOWS)
def test_every_match_once_over_the_continues_whatever_the_limit(
    topic_factory, produce, monkeypatch, data, limit, counts, batch, window
):
    per = dict(enumerate(counts))
    hits = {
        p: data.draw(st.sets(st.integers(0, n - 1), max_size=n), label=f"hits in {p}")
        if n
        else set()
        for p, n in per.items()
    }
    t = topic_factory(partitions=len(per))
    matches, _ = fill(produce, t, per, lambda p, i: i in hits[p])
    cluster = get_cluster("local")
    # small reads: a limit cut inside a batch, a chunk cut inside a partition
    monkeypatch.setattr(topics.browse.selectors, "scan", functools.partial(scan, batch=batch))
    monkeypatch.setattr(topics.browse.selectors, "BACK_WINDOW", window)
    with override_settings(CONSOLE_SEARCH_MAX_RESULTS=limit):
        for mode in ("oldest", "newest"):
            seen = search_to_the_end(cluster, t, mode, limit, 10 + 4 * len(matches) + 50)
            assert len(seen) == len(set(seen)), (mode, seen)
            assert set(seen) == matches, (mode, sorted(matches - set(seen)))


@pytest.mark.parametrize("mode", ["newest", "oldest"])
def test_chunks_show_a_screenful_each_and_the_search_goes_on_by_itself(
    topic_factory, produce, client_for, settings, mode
):
    """CONSOLE_SEARCH_CHUNK_RESULTS: the first chunk shows at most that many matches and is
    not the end: the next chunks go on from where it stopped, until every match was shown
    once."""
    settings.CONSOLE_SEARCH_MAX_RESULTS = 1000
    settings.CONSOLE_SEARCH_CHUNK_RESULTS = LIMIT
    t = topic_factory(partitions=3)
    matches, stamps = fill(produce, t, {0: 120, 1: 80, 2: 100}, _hit)
    c = client_for("operator")
    url = reverse("topics:messages_search", args=["local", t]) + f"?q=hit&mode={mode}"
    seen, chunks = [], 0
    while url:
        chunks += 1
        assert chunks < 200
        html = c.get(url).content.decode()
        shown = positions(html)
        if chunks == 1:
            assert len(shown) == LIMIT
        stamp = [stamps[x] for x in shown]
        assert stamp == sorted(stamp, reverse=mode == "newest")
        seen += shown
        url = next_url(html)
    assert 'data-state="done"' in html and "matches shown" not in html
    assert len(seen) == len(set(seen)) and set(seen) == matches
    assert chunks >= 2
    # Read again after each cut, counted once: every message scanned exactly once.
    assert int(re.search(r'id="scanned">([\d,]+)<', html).group(1).replace(",", "")) == 300


@property_test(20)
@given(data=st.data(), limit=LIMITS, counts=counts_of(2), window=WINDOWS)
def test_matches_come_in_time_order_over_chunks_when_partitions_differ_in_pace(
    topic_factory, produce, monkeypatch, data, limit, counts, window
):
    """Partitions whose offsets cover different stretches of time (a hot partition and a
    slow one): over every chunk and continue, newest-first matches come newest first and
    oldest-first ones oldest first, each once. A chunk shows no match that a partition
    not yet read that far could still precede."""
    stamps, matches, msgs = {}, set(), []
    for p, n in enumerate(counts):
        step = data.draw(st.sampled_from([1, 4, 15]), label=f"ms between messages of {p}")
        shift = data.draw(st.integers(0, 300), label=f"first timestamp of {p}")
        hits = data.draw(st.sets(st.integers(0, n - 1), max_size=n) if n else st.just(set()))
        for i in range(n):
            ts = T0 + shift + i * step
            word = "HIT" if i in hits else "miss"
            msgs.append({"value": f"{word} p{p} i{i}".encode(), "partition": p, "timestamp": ts})
            stamps[(p, i)] = ts
            if i in hits:
                matches.add((p, i))
    t = topic_factory(partitions=len(counts))
    produce(t, msgs)
    cluster = get_cluster("local")
    monkeypatch.setattr(topics.browse.selectors, "BACK_WINDOW", window)
    monkeypatch.setattr(topics.browse.selectors, "FIRST_BACK_WINDOW", min(window, 1000))
    with override_settings(CONSOLE_SEARCH_MAX_RESULTS=limit, CONSOLE_SEARCH_CHUNK_RESULTS=0):
        for mode in ("oldest", "newest"):
            seen = search_to_the_end(cluster, t, mode, limit, 20 + 6 * len(matches) + 50)
            assert len(seen) == len(set(seen)) and set(seen) == matches, mode
            times = [stamps[x] for x in seen]
            assert times == sorted(times, reverse=mode == "newest"), (mode, seen)
