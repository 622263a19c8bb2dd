"""Headless Chromium: the topic list and a topic's partitions refresh themselves (no
reload), and keep refreshing after the first refresh; the list's sort and page live in the
URL, so reload and back keep them."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import unique

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

# The pages poll every 10 s: two refreshes and some slack.
REFRESH_WAIT_MS = 25_000


def mark_document(page) -> None:
    """A flag on the window that a reload (or any navigation) would lose."""
    page.evaluate("window.__noReload = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_topic_list_shows_new_topics_by_itself(page, asgi_server, login, topic_factory):
    login(page, asgi_server, "viewer")
    prefix = unique("live")
    first = topic_factory(f"{prefix}-a", partitions=1)
    page.goto(f"{asgi_server}/clusters/local/topics/?q={prefix}")
    expect(page.locator("tr[data-topic]")).to_have_count(1)
    expect(page.locator("#rows .updated")).to_contain_text("updated")
    mark_document(page)
    # a topic created elsewhere shows up without a reload...
    second = topic_factory(f"{prefix}-b", partitions=2)
    expect(page.locator(f'tr[data-topic="{second}"]')).to_be_visible(timeout=REFRESH_WAIT_MS)
    # ...and so does the next one: the refreshed rows keep refreshing.
    third = topic_factory(f"{prefix}-c", partitions=1)
    expect(page.locator(f'tr[data-topic="{third}"]')).to_be_visible(timeout=REFRESH_WAIT_MS)
    assert still_same_document(page)
    assert [
        page.locator("tr[data-topic]").nth(i).get_attribute("data-topic") for i in range(3)
    ] == [
        first,
        second,
        third,
    ]
    assert page.url.endswith(f"?q={prefix}")  # polling pushes no URL


def test_partitions_high_watermark_updates_by_itself(
    page, asgi_server, login, topic_factory, produce
):
    name = topic_factory(partitions=2)
    produce(name, [{"value": b"x", "partition": 1}] * 3)
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/topics/{name}/")
    high = page.locator('#partition-table tr[data-partition="1"] td.high')
    expect(high).to_have_text("3")
    mark_document(page)
    produce(name, [{"value": b"y", "partition": 1}] * 4)
    expect(high).to_have_text("7", timeout=REFRESH_WAIT_MS)
    # the refreshed partial polls again (the wrapper came back with it)
    produce(name, [{"value": b"z", "partition": 1}] * 1000)
    expect(high).to_have_text("1,007", timeout=REFRESH_WAIT_MS)
    expect(page.locator('[data-figure="messages"]')).to_have_text("1,007")
    assert still_same_document(page)


def test_partitions_wait_while_a_form_on_the_page_has_focus(
    page, asgi_server, login, topic_factory, produce
):
    name = topic_factory(partitions=1)
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/topics/{name}/")
    high = page.locator('#partition-table tr[data-partition="0"] td.high')
    expect(high).to_have_text("0")
    # a form with focus (e.g. someone typing) holds the refresh back
    page.evaluate(
        """() => { const f = document.createElement('form'); f.id = 'probe-form';
        f.innerHTML = '<input id="probe">'; document.querySelector('main').append(f);
        document.getElementById('probe').focus(); }"""
    )
    produce(name, [b"x"] * 2)
    page.wait_for_timeout(12_000)
    expect(high).to_have_text("0")
    page.evaluate("document.getElementById('probe').blur()")
    expect(high).to_have_text("2", timeout=REFRESH_WAIT_MS)


def test_list_sort_and_page_live_in_the_url(page, asgi_server, login, topic_factory, produce):
    prefix = unique("url")
    names = [topic_factory(f"{prefix}-{i:02d}", partitions=1) for i in range(52)]
    produce(names[5], [b"m"] * 5)
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/topics/?q={prefix}")
    expect(page.locator("nav.pager")).to_have_count(2)  # above and below the table
    # sort by messages, largest first: two clicks on the header
    page.click('#topic-table th >> a:has-text("Messages")')
    expect(page).to_have_url(re.compile(r"sort=messages"))
    page.click('#topic-table th >> a:has-text("Messages")')
    expect(page).to_have_url(re.compile(r"sort=messages&desc=1|desc=1.*sort=messages"))
    expect(page.locator("tr[data-topic]").first).to_have_attribute("data-topic", names[5])
    # the next page, then reload: the page, the sort and the search stay
    page.locator("nav.pager a.next").first.click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("tr[data-topic]")).to_have_count(2)
    page.reload()
    expect(page.locator("tr[data-topic]")).to_have_count(2)
    expect(page.locator('#topic-table th[aria-sort="descending"]')).to_contain_text("Messages")
    expect(page.locator("#q")).to_have_value(prefix)
    # back: page 1 of the same sort
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))
    expect(page.locator("tr[data-topic]").first).to_have_attribute("data-topic", names[5])
    expect(page.locator("tr[data-topic]")).to_have_count(50)
