"""The produce form's JSON mode accepts standard JSON only (RFC 8259), and says why not."""

import json
import re

import pytest
from django.urls import reverse

from console.models import Job
from topics.produce.forms import ProduceForm, json_strict


def form(value: str, value_format: str = "json") -> ProduceForm:
    data = {"value": value, "value_format": value_format, "compression": "none"}
    return ProduceForm(data, partitions=3)


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ('{"reading": NaN}', "NaN"),
        ('{"a": [1, 2, {"b": -Infinity}]}', "-Infinity"),
        ("[Infinity]", "Infinity"),
    ],
)
def test_nan_and_infinity_are_refused_next_to_the_value(value, token):
    f = form(value)
    assert not f.is_valid()
    (message,) = f.errors["value"]
    assert f"{token} is not a JSON value" in message
    assert "JSON has no NaN or Infinity" in message
    assert f'the string "{token}"' in message  # what to write instead


@pytest.mark.parametrize(
    "value",
    [
        "{'single': 'quotes'}",
        '{"trailing": 1,}',
        "[1, 2",
        "nan",
        "undefined",
        "0x10",
        '{"a": 1} {"b": 2}',
        '"raw\tcontrol character in a string"',
    ],
)
def test_other_non_standard_json_is_refused(value):
    f = form(value)
    assert not f.is_valid()
    assert f.errors["value"][0].startswith("Not valid JSON: ")


def test_deeply_nested_json_is_refused_not_a_crash():
    f = form("[" * 100_000 + "]" * 100_000)
    assert not f.is_valid()
    assert "nested too deeply" in f.errors["value"][0]


@pytest.mark.parametrize(
    "value",
    [
        '{"reading": "NaN", "limit": null, "big": 1.5e308, "tiny": -5e-324}',
        "[]",
        '"Infinity"',
        "-0",
        '{"tab": "a\\tb", "unicode": "\\u00e9\\ud83d\\ude00"}',
        '\n  {"pretty": [1,\n 2]}\n',
    ],
)
def test_standard_json_is_accepted(value):
    f = form(value)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["value_bytes"] == value.encode()


def test_text_mode_sends_nan_as_it_is():
    f = form("NaN", value_format="text")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["value_bytes"] == b"NaN"


def test_json_strict_matches_json_loads_on_standard_json():
    doc = {"a": [1, 2.5, None, True, "x"], "b": {"c": -1e-7}}
    assert json_strict(json.dumps(doc)) == doc


@pytest.mark.kafka
@pytest.mark.django_db
def test_produce_page_shows_the_reason_by_the_value_field(kafka, topic, client_for):
    c = client_for("operator")
    response = c.post(
        reverse("topics:produce_message", args=["local", topic]),
        {
            "key": "k",
            "value": '{"temperature": NaN}',
            "value_format": "json",
            "compression": "none",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    field = re.search(r'<label for="id_value">.*?</p>', html, re.S).group(0)
    assert "NaN is not a JSON value" in field and "field-error" in field
    assert not Job.objects.filter(target=topic).exists()  # nothing was queued
