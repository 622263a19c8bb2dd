"""The group list and group page: sort by time lag, lag history charts, live partials."""

import datetime as dt
import json
import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.models import LagSample
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


def _json_script(page: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert found, f"no {element_id} in the page"
    return json.loads(found.group(1))


def test_list_sorted_by_time_lag_puts_the_most_behind_group_first(
    kafka, topic_factory, produce, commit, client_for
):
    from groups.tasks import lag_sample

    t = topic_factory(partitions=2)
    base = _now_ms()
    # p0: one record 1,000 s old, then nine 10 s old; p1: 100 records 5 s old.
    produce(
        t,
        [{"value": b"x", "partition": 0, "timestamp": base - 1_000_000}]
        + [{"value": b"x", "partition": 0, "timestamp": base - 10_000}] * 9
        + [{"value": b"x", "partition": 1, "timestamp": base - 5_000}] * 100,
    )
    prefix = unique("tls")
    behind, middle, most_lag = f"{prefix}-a", f"{prefix}-c", f"{prefix}-b"
    commit(behind, {(t, 0): 0})  # lag 10, 1,000 s behind
    commit(middle, {(t, 0): 5})  # lag 5, 10 s behind
    commit(most_lag, {(t, 1): 0})  # lag 100, 5 s behind
    assert lag_sample() > 0
    assert LagSample.objects.get(group=behind).time_lag_ms > 999_000

    c = client_for("viewer")
    url = reverse("groups:list", args=["local"])

    def order(**params) -> list[str]:
        page = c.get(url, {"q": prefix, **params}).content.decode()
        return re.findall(rf'<tr data-group="({prefix}-\w)"', page)

    assert order(sort="time_lag") == [behind, middle, most_lag]
    assert order(sort="time_lag", desc="1") == [most_lag, middle, behind]
    assert order(sort="lag") == [most_lag, behind, middle]  # not the same order
    page = c.get(url, {"q": prefix, "sort": "time_lag"}).content.decode()
    assert "Sorted by the lag sampler's time lag" in page
    # the header links keep the search and turn the current sort round
    assert f'href="?q={prefix}&amp;sort=time_lag&amp;desc=1"' in page
    assert f'href="?q={prefix}&amp;sort=lag"' in page
    # topic names link to the topic pages; lag figures are right-aligned numbers
    row = page.split(f'data-group="{behind}"')[1].split("</tr>")[0]
    assert f'href="{reverse("topics:detail", args=["local", t])}"' in row
    assert re.search(r'class="lag">10\b', row)


def test_list_numbers_have_thousands_separators(kafka, topic_factory, produce, commit, client_for):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 1500)
    group = unique("big")
    commit(group, {(t, 0): 0})
    c = client_for("viewer")
    page = c.get(reverse("groups:list", args=["local"]), {"q": group}).content.decode()
    row = page.split(f'data-group="{group}"')[1].split("</tr>")[0]
    assert 'class="lag">1,500' in row
    detail = c.get(reverse("groups:detail", args=["local", group])).content.decode()
    assert 'class="end">1,500<' in detail and 'class="lag">1,500' in detail
    assert '<dd id="total-lag" data-figure="lag">1,500' in detail


def test_list_fragment_keeps_its_poller(kafka, topic_factory, produce, commit, client_for):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 3)
    group = unique("poll")
    commit(group, {(t, 0): 1})
    c = client_for("viewer")
    url = reverse("groups:list", args=["local"])
    page = c.get(url, {"q": group}).content.decode()
    assert "<html" in page
    frag = c.get(url, {"q": group, "sort": "lag"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in frag
    # The fragment is the polling wrapper itself (swapped outerHTML): polling goes on after
    # the first refresh, for the URL the fragment was rendered for.
    wrapper = re.search(r'<div id="rows"[^>]*>', frag).group(0)
    assert 'hx-swap="outerHTML"' in wrapper
    assert "every 10s [document.visibilityState === 'visible'" in wrapper
    assert "!document.querySelector('form:focus-within')" in wrapper
    assert f'hx-get="{url}?q={group}&amp;sort=lag"' in wrapper
    assert 'class="updated"' in frag and "data-updated-at=" in frag
    # the search form's sort follows a header click (out of band)
    assert (
        '<span id="sort-fields" hx-swap-oob="true"><input type="hidden" name="sort" value="lag">'
        in (frag)
    )


def test_detail_partials_keep_their_pollers(kafka, topic_factory, produce, commit, client_for):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 3)
    group = unique("poll")
    commit(group, {(t, 0): 1})
    c = client_for("viewer")
    url = reverse("groups:detail", args=["local", group])
    page = c.get(url).content.decode()
    assert "<html" in page and page.count('id="lag"') == 1 and page.count('id="history"') == 1
    frag = c.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lag").content.decode()
    assert "<html" not in frag and 'id="lag-table"' in frag
    wrapper = re.search(r'<div id="lag"[^>]*>', frag).group(0)
    assert 'hx-swap="outerHTML"' in wrapper and "every 10s [document.visibilityState" in wrapper
    assert 'id="history"' not in frag
    history = c.get(
        url, {"range": "6h"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history"
    ).content.decode()
    assert "<html" not in history and 'id="lag-table"' not in history
    wrapper = re.search(r'<section id="history"[^>]*>', history).group(0)
    assert f'hx-get="{url}?range=6h"' in wrapper and 'hx-swap="outerHTML"' in wrapper
    # no sample yet: an honest empty state, no chart
    assert "No samples in this range yet" in history and "lag-chart-data" not in history


def test_chart_data_points_equal_the_stored_lag_samples(
    kafka, topic_factory, produce, commit, client_for, settings
):
    t1, t2 = topic_factory(partitions=1), topic_factory(partitions=1)
    produce(t1, [b"x"] * 5)
    produce(t2, [b"x"] * 5)
    group = unique("hist")
    commit(group, {(t1, 0): 1, (t2, 0): 2})
    now = timezone.now().replace(microsecond=0)
    ats = [now - dt.timedelta(seconds=30 * i) for i in range(6, 0, -1)]
    rows = []
    for i, at in enumerate(ats):
        rows.append(
            LagSample(
                at=at,
                cluster="local",
                group=group,
                topic=t1,
                lag=100 + 7 * i,
                committed=10 * i,
                end=100 + 17 * i,
                time_lag_ms=1000 * (i + 1),
            )
        )
        if i != 2:  # t2 missed one run
            rows.append(
                LagSample(
                    at=at,
                    cluster="local",
                    group=group,
                    topic=t2,
                    lag=3 * i,
                    committed=i,
                    end=4 * i,
                    time_lag_ms=None if i < 2 else 500 * i,
                )
            )
    LagSample.objects.bulk_create(rows)
    # a sample outside the range, and another group's, are not drawn
    LagSample.objects.create(
        at=now - dt.timedelta(hours=2),
        cluster="local",
        group=group,
        topic=t1,
        lag=9,
        committed=0,
        end=9,
    )
    LagSample.objects.create(
        at=ats[0], cluster="local", group=unique("other"), topic=t1, lag=1, committed=0, end=1
    )

    page = client_for("viewer").get(reverse("groups:detail", args=["local", group])).content
    page = page.decode()
    chart = _json_script(page, "lag-chart-data")
    assert chart["unit"] == "messages"
    assert chart["x"] == [int(at.timestamp()) for at in ats]
    # the time range: from the first sample (younger than the hour asked) to now
    assert chart["from"] == chart["x"][0] and chart["to"] >= int(now.timestamp())
    stored = {
        topic: {
            (int(s.at.timestamp()), s.lag)
            for s in LagSample.objects.filter(group=group, topic=topic, at__gte=ats[0])
        }
        for topic in (t1, t2)
    }
    assert [s["label"] for s in chart["series"]] == [t1, t2]  # largest lag first
    for series in chart["series"]:
        drawn = {(x, v) for x, v in zip(chart["x"], series["values"], strict=True) if v is not None}
        assert drawn == stored[series["label"]]
    assert chart["series"][1]["values"][2] is None  # the missed run is a gap, not a 0

    time_chart = _json_script(page, "time-lag-chart-data")
    assert time_chart["unit"] == "s"
    by_label = {s["label"]: s["values"] for s in time_chart["series"]}
    assert by_label[t1] == [i + 1 for i in range(6)]
    assert by_label[t2] == [None, None, None, 1.5, 2.0, 2.5]

    # the same numbers in a table, for readers without JavaScript
    table = page.split('id="history-table"')[1].split("</table>")[0]
    newest = table.split(f'data-at="{int(ats[-1].timestamp())}"')[1].split("</tr>")[0]
    assert re.findall(r'data-lag="(\d*)"', newest) == ["135", "15"]
    assert re.findall(r'data-time-lag-ms="(\d*)"', newest) == ["6000", "2500"]
    assert len(re.findall(r"<tr data-at=", table)) == 6


def test_chart_breaks_the_line_where_the_sampler_stopped(
    kafka, topic_factory, produce, commit, client_for
):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 2)
    group = unique("gap")
    commit(group, {(t, 0): 0})
    now = timezone.now().replace(microsecond=0)
    ats = [now - dt.timedelta(minutes=m) for m in (30, 29, 5, 4)]  # 24 min without samples
    LagSample.objects.bulk_create(
        LagSample(at=at, cluster="local", group=group, topic=t, lag=i, committed=0, end=i)
        for i, at in enumerate(ats)
    )
    page = client_for("viewer").get(reverse("groups:detail", args=["local", group])).content
    chart = _json_script(page.decode(), "lag-chart-data")
    assert chart["series"][0]["values"] == [0, 1, None, 2, 3]
    assert len(chart["x"]) == 5
