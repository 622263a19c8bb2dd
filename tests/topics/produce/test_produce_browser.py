"""Headless Chromium: the partition preview while typing a key, then one message produced
from the form and its delivery report on the job page."""

import pytest
from playwright.sync_api import expect

from console.kafka.produce import partition_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


def test_produce_from_form_shows_delivery_report(
    page, asgi_server, login, celery_worker, topic_factory
):
    t = topic_factory(partitions=6)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/produce/")
    expected = partition_for(b"user-42", 6)
    page.fill("#id_key", "user-42")
    expect(page.locator("#preview")).to_contain_text(f"partition {expected}")
    page.fill("#id_value", '{"page": "/pricing", "element": "toggle"}')
    page.select_option("#id_value_format", "json")
    page.fill('input[name="header_name_0"]', "trace-id")
    page.fill('input[name="header_value_0"]', "abc")
    page.click("#produce-form button[type=submit]")
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(status).to_contain_text("offset")
    expect(status).to_contain_text(str(expected))


def test_invalid_json_is_refused_next_to_the_field(page, asgi_server, login, topic_factory):
    t = topic_factory(partitions=1)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/produce/")
    page.fill("#id_value", '{"page": ')
    page.select_option("#id_value_format", "json")
    page.click("#produce-form button[type=submit]")
    expect(page.locator("#produce-form .field-error")).to_contain_text("JSON")
