"""Headless Chromium: open a topic's messages, search it (results stream in chunk by chunk),
and read a JSON message opened from its collapsed line."""

import json
import time

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_open_search_and_read_a_json_message(page, asgi_server, login, topic_factory, produce):
    t = topic_factory(partitions=3)
    pages = ["/home", "/pricing", "/checkout"]
    produce(
        t,
        [
            {
                "key": f"u-{i % 7}".encode(),
                "value": json.dumps({"user": f"u-{i % 7}", "page": pages[i % 3], "n": i}).encode(),
            }
            for i in range(300)
        ],
    )
    time.sleep(0.05)
    produce(t, [{"key": b"x", "value": b"<script>window.pwned = 1</script>"}])
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/")
    expect(page.locator("#messages tbody tr.msg")).to_have_count(50)
    # contents are text, never markup
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/?mode=newest&limit=5")
    expect(page.locator("#messages")).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned === undefined")
    # search: a JSON path equality, streamed in chunks until done
    page.fill("#id_q", '$.page == "/checkout"')
    page.select_option("#id_kind", "jsonpath")
    page.select_option("#id_mode", "oldest")
    page.click("#seek-form button[type=submit]")
    expect(page.locator("#search-state")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(page.locator("#matched")).to_have_text("100")
    expect(page.locator("#results tr.msg")).to_have_count(100)
    row = page.locator("#results tr.msg").first
    row.locator("details summary").click()
    pretty = row.locator("details pre").inner_text()
    assert json.loads(pretty)["page"] == "/checkout"
