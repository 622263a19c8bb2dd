"""Headless Chromium: the group page refreshes itself; charts draw; the list sorts in place."""

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from groups.models import LagSample
from tests.conftest import unique

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


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


def test_group_page_refreshes_itself_after_new_records(
    page, asgi_server, login, topic_factory, produce, commit
):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 5)
    group = unique("live")
    commit(group, {(t, 0): 0})
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/")
    total = page.locator("#total-lag")
    expect(total).to_have_text(re.compile(r"^\s*5\s*$"))
    page.evaluate("window.marker = 1")  # survives only if the page is never reloaded
    produce(t, [b"x"] * 7)
    expect(total).to_have_text(re.compile(r"^\s*12\s*$"), timeout=25_000)
    expect(page.locator(f'#lag-table tr[data-tp="{t}:0"] td.lag')).to_contain_text("12")
    # Again: the poller outlived its first swap (it used to stop after one refresh).
    produce(t, [b"x"] * 8)
    expect(total).to_have_text(re.compile(r"^\s*20\s*$"), timeout=25_000)
    assert page.evaluate("window.marker") == 1
    expect(page.locator("#lag .updated")).to_have_text(re.compile(r"updated \d+ s ago"))


def test_history_chart_draws_the_stored_samples(
    page, asgi_server, login, topic_factory, produce, commit
):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 4)
    group = unique("chart")
    commit(group, {(t, 0): 1})
    now = timezone.now()
    LagSample.objects.bulk_create(
        LagSample(
            at=now - dt.timedelta(seconds=30 * i),
            cluster="local",
            group=group,
            topic=t,
            lag=10 + i,
            committed=0,
            end=10 + i,
            time_lag_ms=60_000 * i,
        )
        for i in range(10)
    )
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/")
    chart = page.locator("#history figure.chart").first
    expect(chart.locator("canvas")).to_have_count(1)
    # uPlot's legend names the topic and shows the newest value with its unit
    expect(chart.locator(".u-legend")).to_contain_text(t)
    expect(chart.locator(".u-legend")).to_contain_text("10 messages")
    expect(page.locator("#history figure.chart")).to_have_count(2)  # lag and time lag
    # another range: swapped in place, and the URL says which
    page.click("#history nav.ranges a:text('6 h')")
    expect(page.locator("#history nav.ranges [aria-current]")).to_have_text("6 h")
    assert page.url.endswith("?range=6h")
    expect(page.locator("#history figure.chart canvas")).to_have_count(2)


def test_list_sorts_by_header_in_place_and_keeps_the_url(
    page, asgi_server, login, topic_factory, produce, commit
):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 3)
    prefix = unique("hdr")
    for i, off in enumerate([2, 0, 1]):
        commit(f"{prefix}-{i}", {(t, 0): off})
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/groups/?q={prefix}")
    page.evaluate("window.marker = 1")
    page.click("#group-table th a:text('Lag')")
    expect(page.locator("#group-table th[aria-sort] a")).to_have_text("Lag ↓")
    assert "sort=lag" in page.url and f"q={prefix}" in page.url
    # typing a search now keeps the sort the header chose
    page.fill("#q", f"{prefix}-")
    expect(page.locator("#group-table tbody tr")).to_have_count(3)
    page.wait_for_url(re.compile(r"sort=lag"))
    assert page.evaluate("window.marker") == 1
