"""Headless Chromium: open a topic's messages, search it (results stream in chunk by chunk),
and read a JSON message opened from its collapsed line."""

import contextlib
import json
import re
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


def test_search_at_the_result_limit_continues_and_marks_the_needle(
    page, login, topic_factory, produce, tmp_path
):
    from tests.conftest import start_asgi_server

    # A server of its own: the result limit is read from the environment at start.
    proc, base = start_asgi_server(tmp_path, CONSOLE_SEARCH_MAX_RESULTS="5")
    try:
        t = topic_factory(partitions=3)
        produce(
            t,
            [
                {
                    "value": f"<i>{'a Needle here' if i % 5 == 2 else 'nothing'}</i> #{i}".encode(),
                    "partition": i % 3,
                    "timestamp": 1_700_000_000_000 + i,
                }
                for i in range(60)
            ],
        )  # 12 matches
        login(page, base, "operator")
        page.goto(f"{base}/clusters/local/topics/{t}/messages/?mode=oldest&q=needle")
        state, rows = page.locator("#search-state"), page.locator("#results tr.msg")
        expect(state).to_have_attribute("data-state", "stopped", timeout=20_000)
        expect(page.locator("#search-stop")).to_have_count(0)
        expect(rows).to_have_count(5)
        expect(page.locator("#search-progress")).to_contain_text("5 matches shown")
        marks = page.locator("#results mark")
        expect(marks).to_have_count(5)
        assert set(marks.all_inner_texts()) == {"Needle"}
        assert page.evaluate("document.querySelectorAll('#results i').length") == 0  # text
        page.get_by_role("button", name="Continue from here").click()
        expect(rows).to_have_count(10)
        expect(state).to_have_attribute("data-state", "stopped")
        page.get_by_role("button", name="Continue from here").click()
        expect(state).to_have_attribute("data-state", "done")
        expect(rows).to_have_count(12)
        expect(page.locator("#search-stop")).to_have_count(0)
        expect(page.get_by_role("button", name="Continue from here")).to_have_count(0)
        shown = [
            (r.get_attribute("data-partition"), r.get_attribute("data-offset")) for r in rows.all()
        ]
        assert len(set(shown)) == 12
        # Newest first: the same twelve, newest first, five at a time.
        page.goto(f"{base}/clusters/local/topics/{t}/messages/?mode=newest&q=needle")
        expect(state).to_have_attribute("data-state", "stopped", timeout=20_000)
        expect(rows.first).to_contain_text("#57")
        for n in (10, 12):
            page.get_by_role("button", name="Continue from here").click()
            expect(rows).to_have_count(n)
        expect(state).to_have_attribute("data-state", "done")
        expect(page.locator("#search-stop")).to_have_count(0)
        again = [
            (r.get_attribute("data-partition"), r.get_attribute("data-offset")) for r in rows.all()
        ]
        assert sorted(again) == sorted(shown)
    finally:
        proc.stop()


def test_stop_takes_the_button_away_and_continue_goes_on_from_there(
    page, login, topic_factory, produce, tmp_path
):
    from tests.conftest import start_asgi_server

    # A server of its own with short chunks, so the records take several chunks on any
    # machine; once a chunk has scanned something and asked for the next, the browser holds
    # that next request back, so Stop is pressed while a chunk is on its way.
    proc, base = start_asgi_server(tmp_path, CONSOLE_SEARCH_CHUNK_S="0.05")
    held, passed = [], []

    def chunk(route):
        try:
            if passed and not held:
                held.append(route)
                return
            response = route.fetch()
            body = response.text()
            scanned = re.search(r'id="scanned"[^>]*>([\d,]+)<', body)
            if 'id="search-next"' in body and scanned and scanned.group(1) not in ("0", ""):
                passed.append(route.request.url)
            route.fulfill(response=response)
        except Exception:  # noqa: BLE001 - the page went on (Stop, or the test ended)
            with contextlib.suppress(Exception):
                route.abort()

    page.route("**/messages/search/**", chunk)
    try:
        _stop_and_continue(page, base, login, topic_factory, produce, held)
    finally:
        page.unroute_all(behavior="ignoreErrors")
        proc.stop()


def _stop_and_continue(page, asgi_server, login, topic_factory, produce, held):
    t = topic_factory(partitions=2)
    slow = b"a" * 14 + b"!"  # the regex backtracks on these
    n = 8_000
    produce(
        t,
        [{"value": b"a needle" if i % 101 == 0 else slow, "partition": i % 2} for i in range(n)],
    )
    matches = len(range(0, n, 101))  # 80
    login(page, asgi_server, "operator")
    page.goto(
        f"{asgi_server}/clusters/local/topics/{t}/messages/"
        "?mode=oldest&kind=regex&q=needle%7C(a%7Caa)%2B%24"
    )
    state, rows = page.locator("#search-state"), page.locator("#results tr.msg")
    expect(page.locator("#search-stop")).to_be_visible()
    page.wait_for_function("Number(document.getElementById('scanned')?.textContent) > 0")
    expect(page.locator("#search-continue")).to_be_hidden()
    page.wait_for_function("document.getElementById('search-next') !== null")
    page.wait_for_timeout(300)  # the next chunk's request reaches the route and is held
    page.click("#search-stop")
    expect(state).to_have_attribute("data-state", "stopped")
    expect(page.locator("#search-stop")).to_have_count(0)
    assert held, "the second chunk was never asked for: the first one ended the search"
    with contextlib.suppress(Exception):
        held[0].continue_()  # the page has dropped it: its answer goes nowhere
    page.unroute_all(behavior="ignoreErrors")  # the continued search goes straight through
    assert rows.count() < matches
    page.get_by_role("button", name="Continue from here").click()
    expect(state).to_have_attribute("data-state", "done", timeout=90_000)
    expect(page.locator("#search-stop")).to_have_count(0)
    shown = [
        (r.get_attribute("data-partition"), r.get_attribute("data-offset")) for r in rows.all()
    ]
    assert len(shown) == len(set(shown)) == matches
    expect(page.locator("#results mark")).to_have_count(matches)


def test_copy_puts_the_rows_record_on_the_clipboard(
    page, asgi_server, login, topic_factory, produce
):
    t = topic_factory(partitions=2)
    produce(
        t,
        [
            {"key": f"u-{i}".encode(), "value": json.dumps({"n": i}).encode(), "partition": i % 2}
            for i in range(6)
        ],
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/?mode=oldest&partitions=1")
    row = page.locator("#messages tr.msg").nth(1)  # partition 1, offset 1: the 4th produced
    expect(row).to_have_attribute("data-offset", "1")
    button = row.locator("button.copy")
    button.click()
    expect(button).to_have_text("copied")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert (copied["partition"], copied["offset"]) == (1, 1)
    assert copied["key"] == "u-3" and copied["value"] == {"n": 3}
    # the same record as text when the page shows values as text
    page.goto(
        f"{asgi_server}/clusters/local/topics/{t}/messages/?mode=oldest&partitions=1"
        "&value_format=text"
    )
    page.locator("#messages tr.msg").nth(1).locator("button.copy").click()
    expect(page.locator("#messages tr.msg").nth(1).locator("button.copy")).to_have_text("copied")
    assert json.loads(page.evaluate("navigator.clipboard.readText()"))["value"] == '{"n": 3}'
