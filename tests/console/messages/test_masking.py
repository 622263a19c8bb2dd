"""Data masking rules (unit tests)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.clusters import load_clusters
from console.kafka.types import Message
from console.messages.decoding import decode
from console.messages.masking import mask_key, mask_view, rules_for
from console.messages.presenters import dumps, present

TOML = """
[[clusters]]
name = "pay"
bootstrap_servers = "h:1"
[[clusters.masking]]
topics = "payments.*"
json_paths = ["$.card.number", "$.email", "$.items[0].sku"]
roles = ["viewer", "operator"]
[[clusters.masking]]
topics = ".*"
regex = "\\\\b\\\\d{3}-\\\\d{2}-\\\\d{4}\\\\b"
roles = ["operator"]
"""


@pytest.fixture
def cluster(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(TOML)
    (c,) = load_clusters(environ={}, file=str(f))
    return c


def msg(value: bytes, key=b"k", headers=()):
    return Message("payments-eu", 0, 1, 0, "create", key, value, tuple(headers))


def test_json_paths_are_masked_for_chosen_roles_only(cluster):
    raw = (
        b'{"card":{"number":"4111111111111111","exp":"12/30"},'
        b'"email":"a@b.c","items":[{"sku":"X"}]}'
    )
    view = present(msg(raw))
    masked = mask_view(view, rules_for(cluster, "payments-eu", "operator"))
    assert "4111111111111111" not in masked.value.text + masked.value.pretty
    assert "a@b.c" not in masked.value.text and '"sku":"***"' in masked.value.text
    assert masked.value.data["card"] == {"number": "***", "exp": "12/30"}
    assert view.value.data["card"]["number"] == "4111111111111111"  # original untouched
    assert rules_for(cluster, "payments-eu", "admin") == ()
    assert rules_for(cluster, "orders", "viewer") == ()


def test_regex_masks_key_value_and_headers(cluster):
    view = present(msg(b"ssn 123-45-6789 ok", key=b"123-45-6789", headers=[("h", b"123-45-6789")]))
    masked = mask_view(view, rules_for(cluster, "orders", "operator"))
    assert masked.value.text == "ssn *** ok"
    assert masked.key.text == "***"
    assert masked.headers == (("h", "***"),)
    assert "123-45-6789" not in str(masked.as_dict())


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ('topics = "x"', "give json_paths, regex or both"),
        ('json_paths = ["email"]', r"starts with \$"),
        ('regex = "("', "bad regular expression"),
        ('regex = "a"\nroles = ["boss"]', "unknown role"),
        ('regex = "a"\ncolour = "red"', "unknown key"),
    ],
)
def test_bad_masking_rules_stop_the_start(tmp_path, rule, error):
    f = tmp_path / "c.toml"
    f.write_text(
        f'[[clusters]]\nname = "a"\nbootstrap_servers = "h:1"\n[[clusters.masking]]\n{rule}\n'
    )
    with pytest.raises(ImproperlyConfigured, match=error):
        load_clusters(environ={}, file=str(f))


@pytest.mark.parametrize("mode", ["hex", "base64", "text"])
def test_a_raw_decoder_cannot_show_a_masked_json_field(cluster, mode):
    raw = b'{"card":{"number":"4111111111111111"},"n":1}'
    view = present(msg(raw), value_mode=mode)
    masked = mask_view(view, rules_for(cluster, "payments-eu", "operator"))
    shown = masked.value.text + masked.value.pretty + str(masked.as_dict())
    for form in ("4111111111111111", b"4111111111111111".hex(), "NDExMTExMTEx"):
        assert form not in shown
    assert masked.value.data == {"card": {"number": "***"}, "n": 1}
    assert f"cannot be shown as {view.value.kind}" in masked.value.error
    # nothing to hide: the chosen decoder is kept
    plain = mask_view(
        present(msg(b'{"n":1}'), value_mode=mode), rules_for(cluster, "payments-eu", "operator")
    )
    assert plain.value.kind == view.value.kind


def test_a_raw_decoder_cannot_show_a_regex_match(cluster):
    rules = rules_for(cluster, "orders", "operator")
    view = present(
        msg(b"\xff ssn 123-45-6789", key=b"123-45-6789", headers=[("h", b"\xfe123-45-6789")]),
        key_mode="hex",
        value_mode="base64",
    )
    masked = mask_view(view, rules)
    shown = str(masked.as_dict()) + masked.key.text + masked.value.text
    assert b"123-45-6789".hex(" ") not in shown and "123-45-6789" not in shown
    assert masked.key.text == "***" and masked.value.text == "***"
    assert masked.headers == (("h", "***"),)
    assert mask_key(b"id 123-45-6789", rules).text == "id ***"
    assert mask_key(b"id", rules) == decode(b"id")


def test_schema_framed_values_in_hex_are_hidden_when_json_paths_apply(cluster):
    raw = b"\x00\x00\x00\x00\x07\x204111111111111111"
    view = present(msg(raw), value_mode="hex")
    masked = mask_view(view, rules_for(cluster, "payments-eu", "operator"))
    assert masked.value.text == "***"


def test_a_regex_sees_through_json_escapes(cluster):
    view = present(msg(b'{"ssn": "\\u0031\\u0032\\u0033-45-6789", "n": 1}'))
    masked = mask_view(view, rules_for(cluster, "orders", "operator"))
    assert "6789" not in masked.value.text + masked.value.pretty + dumps(masked.as_dict())
    assert masked.value.data == {"ssn": "***", "n": 1}
