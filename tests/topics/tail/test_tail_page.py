"""The tail page (HTTP) and the pieces of the tail that need no broker."""

import json

import pytest

from console.messages.filters import FilterError
from topics.tail.consumers import RowBuffer, parse_viewer
from topics.tail.frames import meta_text, pack, read_rows_frame, rows_frame
from topics.tail.hub import group_name, summary


def chunk(first: int, n: int) -> tuple[bytes, bytes, int]:
    return (
        pack(meta_text((0, i, 0) for i in range(first, first + n))),
        pack("".join(f"<tr>r{i}</tr>" for i in reversed(range(first, first + n)))),
        n,
    )


def rows_of(metas: list[bytes], rows: list[bytes]) -> tuple[list, list[str]]:
    frame = read_rows_frame(rows_frame(1, 0, 0, metas, rows))
    return frame["meta"], [r.removeprefix("<tr>").removesuffix("</tr>") for r in frame["rows"]]


def test_row_buffer_keeps_the_newest_and_counts_what_it_drops():
    b = RowBuffer(5)
    b.add(*chunk(0, 3))
    b.add(*chunk(3, 2))
    assert len(b) == 5 and b.dropped == 0
    b.add(*chunk(5, 2))  # over capacity: the oldest chunk goes, counted
    assert len(b) == 4 and b.dropped == 3
    metas, rows, n = b.take(3)
    assert n == 2 and rows_of(metas, rows) == ([[0, 3, 0], [0, 4, 0]], ["r3", "r4"])
    b.add(*chunk(7, 9))  # one chunk above capacity: the newest chunk always stays
    assert b.dropped == 3 + 2 and len(b) == 9
    assert b.take(1)[2] == 9 and len(b) == 0 and b.take(10) == ([], [], 0)


def test_row_buffer_accounting_holds_for_any_sequence():
    import random

    rnd = random.Random(7)
    b = RowBuffer(50)
    added = taken = 0
    for _ in range(1000):
        if rnd.random() < 0.6:
            n = rnd.randint(0, 40)
            b.add(*chunk(added, n))
            added += n
        else:
            metas, rows, n = b.take(rnd.randint(1, 60))
            assert len(rows_of(metas, rows)[1]) == n
            taken += n
        assert len(b) <= 50 + 40
        assert added == taken + b.dropped + len(b)


def test_viewer_filter_is_parsed_like_the_browser_search():
    v = parse_viewer("q=red&field=value&kind=contains&partitions=0,2", role="operator")
    assert v.filter is not None and v.filter.partitions == frozenset({0, 2})
    assert json.loads(v.filter_key)[:3] == ["value", "contains", "red"]
    plain = parse_viewer("partitions=all&key_format=auto", role="admin")
    assert plain.filter is None and plain.view.key == "admin|auto|auto"
    assert parse_viewer("q=x&case=on", "operator").filter.conditions[0].ignore_case is False
    for bad in ("q=(&kind=regex", "partitions=3-1", "value_format=rot13", "q=x&kind=nope"):
        with pytest.raises(FilterError):
            parse_viewer(bad, role="operator")


def test_group_names_fit_channels_limits():
    assert group_name("local", "orders").startswith("tail.local.orders.")
    long = group_name("local", "t" * 249)
    assert len(long) < 100 and long.startswith("tail.h")
    odd = group_name("my cluster", "orders")
    assert " " not in odd and len(odd) < 100


def test_summary_answers_whether_each_browser_is_a_consumer():
    assert summary(7, 1) == (
        "7 viewers in this process share 1 Kafka consumer (no consumer group, no committed offsets)"
    )
    assert summary(1, 1).startswith("1 viewer in this process uses 1 Kafka consumer")
    assert "No viewer" in summary(0, 0)


@pytest.mark.kafka
@pytest.mark.django_db
def test_tail_page_for_operator_and_refused_to_viewer(kafka, topic, client_for):
    url = f"/clusters/local/topics/{topic}/tail/"
    r = client_for("operator").get(url)
    assert r.status_code == 200
    body = r.content.decode()
    assert f'data-ws-path="/ws/clusters/local/topics/{topic}/tail/"' in body
    assert "No viewer in this process" in body
    assert 'aria-current="page">Live tail' in body
    assert client_for("viewer").get(url).status_code == 403


@pytest.mark.kafka
@pytest.mark.django_db
def test_tail_page_shows_a_bad_filter_and_404s_for_a_missing_topic(kafka, topic, client_for):
    c = client_for("operator")
    r = c.get(f"/clusters/local/topics/{topic}/tail/?q=%28&kind=regex")
    assert r.status_code == 200 and "regular expression" in r.content.decode()
    assert c.get("/clusters/local/topics/no-such-topic-xyz/tail/").status_code == 404
