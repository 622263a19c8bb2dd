"""The message rows' copy button asks for its record (topics.api.topic_message_record): the
download's record, decoded with the page's decoders and masked for the role as the rows
are; a viewer gets a JSON 403, bad input a JSON 400, a missing record a JSON 404. The rows
themselves carry no copy of the record."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def record_url(cluster: str, topic: str) -> str:
    return reverse("topics:message_record", args=[cluster, topic])


def test_the_record_at_a_position_as_the_download_writes_it(filled, client_for):
    r = client_for("operator").get(record_url("local", filled), {"partition": 1, "offset": 5})
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert r["Cache-Control"] == "no-store"
    assert r.json() == {
        "topic": filled,
        "partition": 1,
        "offset": 5,
        "timestamp": "2023-11-14T22:13:20.016+00:00",
        "timestamp_type": "create",
        "key": "k16",
        "value": {"i": 16, "p": 1},
        "value_encoding": "json",
        "headers": {"h": "w"},  # the last of the name (the API keeps both, in order)
        "size": len(b"k16") + len(b'{"i": 16, "p": 1}') + len(b"hv") + len(b"hw"),
    }


def test_the_pages_decoders_apply(filled, client_for):
    c = client_for("operator")
    got = c.get(
        record_url("local", filled),
        {"partition": 0, "offset": 0, "value_format": "text", "key_format": "hex"},
    ).json()
    assert got["value"] == '{"i": 0, "p": 0}' and got["value_encoding"] == "text"
    assert got["key"].replace(" ", "").lower() == b"k0".hex()
    # the page hands its decoders to the buttons through its table
    page = c.get(
        reverse("topics:messages", args=["local", filled]), {"value_format": "text"}
    ).content.decode()
    copy_url = re.search(r'<table[^>]* id="messages" data-copy-url="([^"]+)"', page).group(1)
    assert copy_url == record_url("local", filled) + "?key_format=auto&amp;value_format=text"
    assert page.count('class="copy small"') == 50 and "data-copy=" not in page
    assert '"i": 16' not in page.split("<tbody")[0]  # no record outside the rows either


@pytest.mark.parametrize(
    ("params", "status", "field", "text"),
    [
        ({"offset": "1"}, 400, "partition", "whole number"),
        ({"partition": "x", "offset": "1"}, 400, "partition", "whole number"),
        ({"partition": "0"}, 400, "offset", "whole number"),
        ({"partition": "0", "offset": "-1"}, 400, "offset", "whole number"),
        ({"partition": "0", "offset": "1" * 20}, 400, "offset", "whole number"),
        ({"partition": "0", "offset": "1", "value_format": "xml"}, 400, "value_format", "one of"),
        ({"partition": "3", "offset": "1"}, 404, "partition", "3 partitions"),
        ({"partition": "0", "offset": "20"}, 404, None, "no message at partition 0, offset 20"),
    ],
)
def test_bad_positions_are_json_errors(filled, client_for, params, status, field, text):
    c = client_for("operator")
    started = time.monotonic()
    r = c.get(record_url("local", filled), params)
    # past the end: told by the watermarks, not after the read's whole time bound (5 s here)
    assert time.monotonic() - started < 3
    assert r.status_code == status, r.content
    body = r.json()
    assert body.get("field") == field and text in body["error"]


def test_roles_unknown_names_and_methods(filled, client_for, client):
    at = {"partition": 0, "offset": 0}
    r = client_for("viewer").get(record_url("local", filled), at)
    assert r.status_code == 403 and "operator" in r.json()["error"]
    assert b"k0" not in r.content
    r = client.get(record_url("local", filled), at)
    assert r.status_code == 302 and "/accounts/login/" in r.url
    c = client_for("operator")
    assert c.get(record_url("nope", filled), at).status_code == 404
    r = c.get(record_url("local", "no-such-topic-here"), at)
    assert r.status_code == 404 and r.json()["error"]
    assert c.post(record_url("local", filled), at).status_code in (403, 405)


def test_masked_as_the_rows_are(masked_cluster, topic_factory, produce, client_for):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b'{"user": "u-1", "email": "ann@example.com"}', "key": b"ann@x.com"}])
    at = {"partition": 0, "offset": 0}
    r = client_for("operator").get(record_url("masked", t), at)
    assert r.status_code == 200 and b"ann@" not in r.content
    assert r.json()["value"] == {"user": "u-1", "email": "***"}
    admin = client_for("admin").get(record_url("masked", t), at).json()
    assert admin["value"]["email"] == "ann@example.com" and admin["key"] == "ann@x.com"


def test_the_tail_page_gives_its_rows_the_address(filled, client_for):
    page = client_for("operator").get(reverse("topics:tail", args=["local", filled])).content
    assert f'data-copy-url="{record_url("local", filled)}"'.encode() in page
