"""The JSON read API for messages against the real broker: the page's messages and paging,
roles (a viewer gets a JSON 403), masking as on the page, binary as base64, bad input as
JSON 400s, unknown cluster or topic as JSON 404s."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

T0 = 1_700_000_000_000


def api(cluster: str, topic: str) -> str:
    return reverse("api_topic_messages", args=[cluster, topic])


def positions(page: str) -> list[tuple[int, int]]:
    return [
        (int(p), int(o)) for p, o in re.findall(r'data-partition="(\d+)" data-offset="(\d+)"', page)
    ]


def test_newest_page_as_json_is_the_page_and_pages_back(filled, client_for):
    c = client_for("operator")
    r = c.get(api("local", filled), {"limit": 20})
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    body = r.json()
    page = c.get(reverse("topics:messages", args=["local", filled]), {"limit": 20}).content
    assert [(m["partition"], m["offset"]) for m in body["messages"]] == positions(page.decode())
    first = body["messages"][0]
    assert first["value"] == {"i": 59, "p": 2} and first["value_encoding"] == "json"
    assert first["key"] == "k59" and first["key_encoding"] == "text"
    assert first["timestamp_ms"] == T0 + 59 and first["headers"] == [["h", "v"], ["h", "w"]]
    assert body["order"] == "desc" and body["count"] == 20 and body["newer"] is None
    seen = [m["value"]["i"] for m in body["messages"]]
    url = body["older"]
    while url:
        more = c.get(url).json()
        seen += [m["value"]["i"] for m in more["messages"]]
        url = more["older"]
    assert seen == list(range(59, -1, -1))  # every message once, newest first


def test_seek_modes_and_decoders(filled, client_for):
    c = client_for("operator")
    body = c.get(api("local", filled), {"mode": "offset", "offset": 5, "partitions": "1"}).json()
    assert [m["offset"] for m in body["messages"]] == list(range(5, 20))
    body = c.get(api("local", filled), {"mode": "oldest", "limit": 2, "value_format": "text"})
    msgs = body.json()["messages"]
    assert [m["value_encoding"] for m in msgs] == ["text", "text"]
    assert json.loads(msgs[0]["value"]) == {"i": 0, "p": 0}


def test_binary_is_base64_with_its_encoding(topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    raw = bytes(range(256))
    produce(t, [{"value": raw, "key": b"\xff\x00", "partition": 0}])
    m = client_for("operator").get(api("local", t)).json()["messages"][0]
    assert m["value_encoding"] == "base64" and base64.b64decode(m["value"]) == raw
    assert m["key_encoding"] == "base64" and base64.b64decode(m["key"]) == b"\xff\x00"


def test_viewer_gets_a_json_403_and_anonymous_the_log_in(filled, client_for, client):
    r = client_for("viewer").get(api("local", filled))
    assert r.status_code == 403 and "operator" in r.json()["error"]
    r = client_for(None).get(api("local", filled))
    assert r.status_code == 403 and "error" in r.json()
    r = client.get(api("local", filled))
    assert r.status_code == 302 and "/accounts/login/" in r.url


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "x"}, "limit", "whole number"),
        ({"mode": "offset"}, "offset", "Give the offset"),
        ({"partitions": "7"}, "partitions", ""),
        ({"mode": "timestamp", "timestamp": "yesterday-ish"}, "timestamp", ""),
        ({"cursor": "0:abc", "dir": "older"}, "cursor", "partition:offset"),
        ({"cursor": "0:1"}, "direction", "direction"),
        ({"mode": "offset", "offset": "999999", "partitions": "0"}, "offset", "beyond the end"),
        ({"q": "needle"}, "q", "search"),
    ],
)
def test_bad_input_is_a_json_400(filled, client_for, params, field, text):
    r = client_for("operator").get(api("local", filled), params)
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["field"] == field and text in body["error"]


def test_unknown_cluster_topic_and_method(filled, client_for):
    c = client_for("operator")
    r = c.get(api("nope", filled))
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = c.get(api("local", "no-such-topic-here"))
    assert r.status_code == 404 and r.json()["error"]
    r = c.get(api("local", "bad$name"))
    assert r.status_code == 404 and r.json()["error"]
    r = c.post(api("local", filled), {})
    assert r.status_code in (403, 405)  # CSRF refuses a POST first; never a read


def test_masking_as_on_the_page(masked_cluster, topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(
        t,
        [
            {"value": b'{"user": "u-1", "email": "ann@example.com"}', "key": b"ann@example.com"},
            {"value": b"\x00\x01ann@example.com\xff", "key": None},
        ],
    )
    r = client_for("operator").get(api("masked", t))
    assert r.status_code == 200
    assert b"ann@example.com" not in r.content
    assert base64.b64encode(b"ann@example.com") not in r.content
    msgs = r.json()["messages"]
    assert msgs[1]["value"]["email"] == "***" and msgs[1]["value"]["user"] == "u-1"
    assert msgs[0]["value_encoding"] in ("hex", "text")  # the masked text, never raw
    admin = client_for("admin").get(api("masked", t)).json()["messages"]
    assert admin[1]["value"]["email"] == "ann@example.com"
    assert base64.b64decode(admin[0]["value"]) == b"\x00\x01ann@example.com\xff"
