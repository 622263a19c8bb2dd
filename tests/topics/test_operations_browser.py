"""Headless Chromium: a purge from the Operations tab, through its preview and typed name."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_purge_preview_typed_name_confirm_new_low_watermarks(
    page, asgi_server, login, topic_factory, produce
):
    name = topic_factory(partitions=2)
    produce(name, [{"value": b"x", "partition": p} for p in (0, 1) for _ in range(6)])
    login(page, asgi_server, "admin")
    page.goto(f"{asgi_server}/clusters/local/topics/{name}/")
    page.click("nav.tabs >> text=Operations")
    page.fill("#purge-form #id_partitions", "0")
    page.fill("#purge-form #id_offset", "4")
    page.click("#purge-form button")
    row = page.locator('#purge-table tr[data-partition="0"]')
    expect(row).to_have_attribute("data-deleted", "4")
    expect(page.locator("#purge-table tbody tr")).to_have_count(1)  # only the chosen one
    # confirming without the name is refused, by the field, and deletes nothing
    page.click("#confirm-purge")
    expect(page.locator("#purge-confirm .field-error")).to_contain_text(f"{name}, to confirm")
    page.fill("#id_confirm", name)
    page.click("#confirm-purge")
    page.wait_for_url(re.compile(rf"/topics/{name}/$"))
    expect(page.locator(".messages")).to_contain_text("partitions now start at 0:4")
    cells = page.locator('#partition-table tr[data-partition="0"] td')
    expect(cells.nth(4)).to_have_text("4")  # low watermark
    expect(cells.nth(6)).to_have_text("2")  # messages left
    expect(page.locator('#partition-table tr[data-partition="1"] td').nth(4)).to_have_text("0")
