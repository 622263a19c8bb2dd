"""Forms a person can read: sentence-case labels (never a field's name), help under the field,
and only the fields the chosen mode needs (a few lines of script; without script every part
shows under its heading). Date-time inputs take and show 24-hour UTC."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from django import forms
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import unique

FORM_MODULES = (
    "topics.forms",
    "topics.produce.forms",
    "topics.browse.forms",
    "groups.forms",
    "console.forms",
)


def all_forms():
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == name:
                yield cls


def test_every_visible_field_has_a_written_label():
    """Django's made-up labels ("Source group", "Key template") come from the field's name;
    each field says what it is in words chosen for it."""
    missing = [
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in all_forms()
        for name, field in cls.base_fields.items()
        if field.label is None and not isinstance(field.widget, forms.HiddenInput)
    ]
    assert not missing, missing
    labels = [f.label for cls in all_forms() for f in cls.base_fields.values() if f.label]
    assert all(label[0].isupper() and "_" not in label for label in labels), labels


def test_no_date_time_input_is_a_local_time_picker():
    for cls in all_forms():
        for name, field in cls.base_fields.items():
            assert field.widget.attrs.get("type") != "datetime-local", (cls, name)


@pytest.mark.kafka
@pytest.mark.django_db
def test_produce_page_labels_help_and_modes_without_script(topic_factory, client_for):
    t = topic_factory(partitions=2)
    page = client_for("operator").get(reverse("topics:produce", args=["local", t])).content
    page = page.decode()
    for raw in ("Key_template", "key_template<", ">null_key", "Value_template", ">count<"):
        assert raw not in page, raw
    for label in ("Key template", "Value template", "Number of events", "Events per second"):
        assert f">{label}</label>" in page, label
    # The template fields are a part of their own, under a heading, shown by script only
    # for "my own templates"; the page without script shows it too.
    assert re.search(
        r'<fieldset class="mode-fields" data-mode-for="template" data-modes="custom">\s*'
        r"<legend>For “my own templates”</legend>",
        page,
    )
    assert 'data-mode-select="template"' in page
    # Help sits under its field.
    block = re.search(r'data-field="partition">(.*?)</div>', page, re.S).group(1)
    assert block.index("<input") < block.index('class="help"')


@pytest.mark.kafka
@pytest.mark.django_db
def test_produce_errors_show_next_to_their_field(topic_factory, client_for):
    t = topic_factory(partitions=2)
    r = client_for("operator").post(
        reverse("topics:produce_generate", args=["local", t]),
        {"template": "custom", "value_template": "", "count": "5"},
    )
    assert r.status_code == 400
    block = re.search(r'data-field="value_template">(.*?)</div>', r.content.decode(), re.S)
    assert "Write a value template." in block.group(1)


@pytest.mark.kafka
@pytest.mark.django_db
def test_the_browser_takes_and_shows_times_as_pages_do(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [b"x"])
    url = reverse("topics:messages", args=["local", t])
    c = client_for("operator")
    for typed in ("2020-11-25 19:55:14", "2020-11-25T19:55:14Z", "2020-11-25 19:55:14 UTC"):
        r = c.get(url, {"mode": "timestamp", "timestamp": typed})
        page = r.content.decode()
        assert r.status_code == 200, (typed, page[-1500:])
        assert 'value="2020-11-25 19:55:14"' in page and 'data-offset="0"' in page
    page = c.get(url).content.decode()
    assert 'placeholder="2026-11-25 19:55:14"' in page and "datetime-local" not in page
    for label in ("Start from", "Messages per page", "Show values as", "Until (UTC)"):
        assert f">{label}</label>" in page, label


# --- in a browser: the few lines of script that show only what the mode needs ----------

in_browser = pytest.mark.browser


def visible(page, selector: str) -> bool:
    return page.locator(selector).is_visible()


@in_browser
@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_produce_shows_template_fields_only_for_my_own_templates(
    page, asgi_server, login, topic_factory
):
    t = topic_factory(partitions=1)
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/produce/")
    expect(page.locator("#id_value_template")).to_be_hidden()
    page.select_option("#id_template", "custom")
    expect(page.locator("#id_value_template")).to_be_visible()
    expect(page.locator("#id_key_template")).to_be_visible()
    page.select_option("#id_template", "clickstream")
    expect(page.locator("#id_key_template")).to_be_hidden()


@in_browser
@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_reset_and_browser_forms_show_the_chosen_modes_field(
    page, asgi_server, login, topic_factory, produce
):
    t = topic_factory(partitions=1)
    produce(t, [b"x"] * 3)
    group = unique("modes")
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/groups/{group}/reset/")
    for target, field in (("offset", "offset"), ("shift", "shift"), ("timestamp", "timestamp")):
        page.select_option("#id_target", target)
        for other in ("offset", "shift", "timestamp", "source_group"):
            assert visible(page, f"#id_{other}") is (other == field), (target, other)
    page.select_option("#id_target", "earliest")
    assert not any(visible(page, f"#id_{f}") for f in ("offset", "shift", "timestamp"))
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/")
    expect(page.locator("#id_offset")).to_be_hidden()
    page.select_option("#id_mode", "offset")
    expect(page.locator("#id_offset")).to_be_visible()
    expect(page.locator("#id_timestamp")).to_be_hidden()
    page.fill("#id_offset", "1")
    page.click("#seek-form button[type=submit]")
    expect(page.locator("tr.msg").first).to_have_attribute("data-offset", "1")
    assert "timestamp=" not in page.url  # a hidden mode's field is not sent


@in_browser
@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_without_script_every_part_shows_under_its_heading(
    browser, asgi_server, make_user, topic_factory
):
    from tests.conftest import PASSWORD

    t = topic_factory(partitions=1)
    user = make_user("operator")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{asgi_server}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{asgi_server}/clusters/local/groups/{unique('g')}/reset/")
        for f in ("offset", "shift", "timestamp", "source_group"):
            expect(page.locator(f"#id_{f}")).to_be_visible()
        expect(page.locator("legend", has_text="For “a point in time”")).to_be_visible()
        page.goto(f"{asgi_server}/clusters/local/topics/{t}/produce/")
        expect(page.locator("#id_value_template")).to_be_visible()
        page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/")
        expect(page.locator("#id_offset")).to_be_visible()
        expect(page.locator("#id_timestamp")).to_be_visible()
    finally:
        context.close()
