"""Headless Chromium: an offset reset through preview, confirm, progress and result."""

import pytest
from playwright.sync_api import expect

from tests.conftest import unique

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


def test_reset_preview_confirm_progress_result(
    page, asgi_server, login, celery_worker, topic_factory, produce, commit
):
    t = topic_factory(partitions=2)
    produce(t, [{"value": b"x", "partition": p} for p in (0, 1)] * 6)
    group = unique("ui")
    commit(group, {(t, 0): 6, (t, 1): 6})
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/")
    expect(page.locator("#total-lag")).to_contain_text("0")
    page.fill("#reset-form #id_topic", t)
    page.check("#reset-form #id_all_partitions")
    page.select_option("#reset-form #id_target", "shift")
    page.fill("#reset-form #id_shift", "-4")
    page.click("#reset-form button")
    expect(page.locator(f'#preview-table tr[data-tp="{t}:0"] td.new')).to_have_text("2")
    page.click("#confirm-reset")
    # the job page polls until the task is done, then shows the final offsets
    expect(page.locator("#job-status")).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(page.locator(f'#job-offsets tr[data-key="{t}:1"]')).to_contain_text("6")  # before
    expect(page.locator(f'#job-offsets tr[data-key="{t}:1"]')).to_contain_text("-4")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/")
    expect(page.locator("#total-lag")).to_contain_text("8")


def test_reset_form_errors_swap_in_place_and_then_preview(
    page, asgi_server, login, topic_factory, produce, commit
):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"x", "partition": 0}] * 3)
    group = unique("ui")
    commit(group, {(t, 0): 3})
    login(page, asgi_server, "operator")
    page.goto(
        f"{asgi_server}/clusters/local/groups/{group}/reset/?target=earliest&topic={t}&all_partitions=on"
    )
    page.evaluate("window.marker = 1")  # survives only if htmx swaps instead of navigating
    page.select_option("#reset-form #id_target", "offset")
    with page.expect_response(lambda r: "/reset/" in r.url) as answer:
        page.click("#reset-form button")
    assert answer.value.status == 400
    # htmx swaps the 400 fragment (console.js responseHandling): the error shows in place
    expect(page.locator("#reset-form")).to_contain_text("Give the offset to move to")
    expect(page.locator("#confirm-reset")).to_have_count(0)
    assert page.evaluate("window.marker") == 1
    assert page.locator("html").count() == 1 and page.locator("#reset #reset").count() == 0
    page.fill("#reset-form #id_offset", "1")
    page.click("#reset-form button")
    expect(page.locator(f'#preview-table tr[data-tp="{t}:0"] td.new')).to_have_text("1")
    assert "offset=1" in page.url  # hx-push-url: the preview's address can be shared
