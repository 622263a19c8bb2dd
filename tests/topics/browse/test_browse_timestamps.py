"""Message timestamps read like the form inputs: ISO, 24-hour, UTC, to the millisecond
(`2023-11-14 22:13:20.123 UTC`), with the epoch milliseconds on hover — in the browser's
rows, a search's rows and the live tail's rows (one row template), against the real broker."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from console.templatetags.console import utc_ms
from tests.topics.tail.conftest import session_for, tail_client  # noqa: F401 - fixtures

T = 1_700_000_000_123  # 2023-11-14 22:13:20.123 UTC
SHOWN = "2023-11-14 22:13:20.123 UTC"
# The cell as a person sees it and hovers it: the time's text, the raw value in its title.
CELL = re.compile(
    r'<td class="ts small" title="timestamp type: create">'
    r'<time datetime="([^"]+)" title="(\d+) ms since the epoch">([^<]+)</time></td>'
)


def cells(html: str) -> list[tuple[str, str, str]]:
    return CELL.findall(html)


def test_the_filter_formats_epoch_ms_to_the_millisecond():
    assert str(utc_ms(T)) == (
        f'<time datetime="2023-11-14T22:13:20.123Z" title="{T} ms since the epoch">{SHOWN}</time>'
    )
    assert str(utc_ms(1_700_000_000_007)).endswith(">2023-11-14 22:13:20.007 UTC</time>")
    # no timestamp (librdkafka's -1, None): nothing, so the row shows its dash
    assert utc_ms(-1) == "" and utc_ms(None) == ""


@pytest.mark.kafka
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_browser_rows_show_iso_utc_with_epoch_ms_on_hover(topic_factory, produce, client_for, role):
    t = topic_factory(partitions=1)
    produce(t, [{"value": f"v{i}".encode(), "timestamp": T + i, "partition": 0} for i in range(3)])
    page = client_for(role).get(reverse("topics:messages", args=["local", t])).content.decode()
    assert cells(page) == [
        (f"2023-11-14T22:13:20.12{5 - i}Z", str(T + 2 - i), f"2023-11-14 22:13:20.12{5 - i} UTC")
        for i in range(3)
    ]
    # every row's cell is in this form (the old one was Python's isoformat, with a T and
    # "+00:00"); the copy button's JSON keeps the machine form
    assert page.count('<td class="ts small"') == 3
    # a time as shown, pasted into the "a time" seek, finds that very message
    url = reverse("topics:messages", args=["local", t])
    seek = client_for(role).get(url, {"mode": "timestamp", "timestamp": SHOWN}).content.decode()
    assert re.findall(r'data-partition="0" data-offset="(\d+)"', seek) == ["0", "1", "2"]


@pytest.mark.kafka
@pytest.mark.django_db
def test_search_rows_show_the_same_format(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"needle", "timestamp": T, "partition": 0}])
    c = client_for("operator")
    url = reverse("topics:messages_search", args=["local", t]) + "?mode=oldest&q=needle"
    rows = []
    for _ in range(20):  # chunk by chunk, as the page runs it, until done
        body = c.get(url).content.decode()
        rows += cells(body)
        more = re.search(r'id="search-next" hx-get="([^"]+)"', body)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
    assert rows == [("2023-11-14T22:13:20.123Z", str(T), SHOWN)]


@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_tail_rows_show_the_same_format(topic_factory, produce, tail_client):  # noqa: F811
    t = topic_factory(partitions=1)
    c = tail_client(t)
    c.wait_live()
    produce(t, [{"value": b"live", "timestamp": T, "partition": 0}])
    c.wait_rows(1)
    with c.lock:
        row, meta = c.rows[0], c.meta[0]
    assert meta[2] == T
    assert cells(row) == [("2023-11-14T22:13:20.123Z", str(T), SHOWN)]


@pytest.mark.kafka
def test_a_timestamp_past_the_year_9999_never_breaks_a_page(topic_factory, produce, client_for):
    """A producer may set any 64-bit timestamp: the page, the JSON download and the API
    show such a record (without a date), never a 500."""
    # Brokers refuse timestamps far ahead of their clock unless the topic allows them.
    t = topic_factory(partitions=1, config={"message.timestamp.after.max.ms": str(2**63 - 1)})
    produce(t, [{"value": b'{"far": "future"}', "timestamp": 10**17}, {"value": b"now"}])
    c = client_for("operator")
    page = c.get(reverse("topics:messages", args=["local", t]), {"mode": "oldest"})
    assert page.status_code == 200 and b"future" in page.content
    dl = c.get(
        reverse("topics:messages_download", args=["local", t]),
        {"mode": "oldest", "format": "jsonl"},
    )
    assert dl.status_code == 200
    lines = b"".join(dl.streaming_content).decode().splitlines()
    assert len(lines) == 2 and any('"timestamp": ""' in line for line in lines)
    api = c.get(reverse("api_topic_messages", args=["local", t]), {"mode": "oldest"})
    assert api.status_code == 200, api.content[:500]
