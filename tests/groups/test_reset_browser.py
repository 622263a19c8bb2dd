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
    page.select_option("#reset-form #id_target", "shift")
    page.fill("#reset-form #id_shift", "-4")
    page.click("#reset-form button")
    expect(page.locator(f'#preview-table tr[data-tp="{t}:0"] td.new')).to_have_text("2")
    page.click("#confirm-reset")
    # the job page polls until the task is done, then shows the final offsets
    expect(page.locator("#job-status")).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(page.locator("#job-status")).to_contain_text(f"{t}:1")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/")
    expect(page.locator("#total-lag")).to_contain_text("8")
