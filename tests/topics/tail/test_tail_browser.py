"""Headless Chromium: the live tail shows all 100 messages produced while it is open (a row's
copy button copies its record), and a page too busy to keep up shows how many it skipped."""

import json
import threading

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_the_page_shows_every_message_produced_while_it_is_open(
    page, asgi_server, login, topic_factory, produce
):
    t = topic_factory(partitions=3)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/")
    page.click("nav.tabs >> text=Live tail")
    page.wait_for_url(f"{asgi_server}/clusters/local/topics/{t}/tail/")
    expect(page.locator("#tail-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#tail-summary")).to_contain_text(
        "1 viewer in this process uses 1 Kafka consumer (no consumer group, no committed offsets)"
    )
    produce(t, [{"key": f"k-{i}".encode(), "value": f'{{"n": {i}}}'.encode()} for i in range(100)])
    expect(page.locator("#tail-rows tr.msg")).to_have_count(100)
    expect(page.locator("#tail-received")).to_have_text("100 messages")
    expect(page.locator("#tail-skipped")).to_be_hidden()
    shown = page.locator("#tail-rows tr.msg td.key").all_inner_texts()
    assert sorted(shown) == sorted(f"k-{i}" for i in range(100))
    # A row's copy button puts its record on the clipboard (asked for when clicked).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    row = page.locator("#tail-rows tr.msg").first
    row.locator("button.copy").click()
    expect(row.locator("button.copy")).to_have_text("copied")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert str(copied["partition"]) == row.get_attribute("data-partition")
    assert str(copied["offset"]) == row.get_attribute("data-offset")
    assert copied["key"] == row.locator("td.key").inner_text()
    assert copied["value"] == {"n": int(copied["key"][2:])}

    # Pause closes the socket; the server lets the consumer go.
    page.click("#tail-toggle")
    expect(page.locator("#tail-status")).to_have_attribute("data-state", "paused")
    # A filter applied to the open tail: only matching rows arrive.
    page.fill("#tail-filter input[name=q]", "k-7")
    page.select_option("#tail-filter select[name=field]", "key")
    page.click("#tail-filter button[type=submit]")
    expect(page.locator("#tail-status")).to_have_attribute("data-state", "live")
    produce(
        t,
        [{"key": f"k-{i}".encode(), "value": b"x"} for i in range(100, 120)]
        + [{"key": b"k-7", "value": b"y"}],
    )
    expect(page.locator("#tail-rows tr.msg")).to_have_count(1)
    assert "q=k-7" in page.url


def test_a_page_that_cannot_keep_up_says_how_many_messages_it_skipped(
    page, asgi_server, login, topic_factory, produce
):
    t = topic_factory(partitions=2)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/tail/")
    expect(page.locator("#tail-status")).to_have_attribute("data-state", "live")
    n = 20_000  # more than the frames in flight and the server's buffer hold
    sender = threading.Thread(
        target=produce, args=(t, [{"key": str(i).encode(), "value": b"v" * 100} for i in range(n)])
    )
    sender.start()
    # A busy page: its script neither shows nor acknowledges anything for a while.
    page.evaluate("() => { const end = Date.now() + 5000; while (Date.now() < end) {} }")
    sender.join()
    skipped = page.locator("#tail-skipped")
    expect(skipped).to_be_visible(timeout=20_000)
    expect(skipped).to_contain_text("messages skipped")
    page.wait_for_function(
        f"""() => {{
            const r = +document.getElementById("tail-received").dataset.received;
            const s = +document.getElementById("tail-skipped").dataset.skipped;
            return r + s === {n};
        }}""",
        timeout=20_000,
    )
    assert 0 < int(skipped.get_attribute("data-skipped")) < n
    assert page.locator("#tail-rows tr.msg").count() <= 500  # the page keeps the newest rows
