"""Headless Chromium: create a topic from the form, find it in the list, delete it."""

import pytest
from playwright.sync_api import expect

from tests.conftest import unique

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_create_find_and_delete_a_topic(page, asgi_server, login, kafka):
    login(page, asgi_server, "admin")
    name = unique("browser")
    page.goto(f"{asgi_server}/clusters/local/topics/")
    page.click("text=New topic")
    page.fill("#id_name", name)
    page.fill("#id_partitions", "2")
    page.click("button:has-text('Create topic')")
    page.wait_for_url(f"{asgi_server}/clusters/local/topics/{name}/")
    assert page.locator("#partition-table tr[data-partition]").count() == 2
    page.goto(f"{asgi_server}/clusters/local/topics/")
    page.fill("#q", name)  # search as you type (htmx)
    expect(page.locator("tr[data-topic]")).to_have_count(1)
    expect(page.locator(f'tr[data-topic="{name}"]')).to_be_visible()
    page.click(f'tr[data-topic="{name}"] a')
    # deleting: the Operations tab, the preview, then the typed name
    page.click("nav.tabs >> text=Operations")
    page.click("#delete-preview")
    expect(page.locator("#delete-partitions")).to_have_text("2")
    page.fill("#id_confirm", name)
    page.click(f"button:has-text('Delete {name}')")
    page.wait_for_url(f"{asgi_server}/clusters/local/topics/")
    assert f"Topic {name} deleted." in page.content()
    assert page.locator(f'tr[data-topic="{name}"]').count() == 0
