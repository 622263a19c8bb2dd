"""Data masking rules (unit tests)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.clusters import load_clusters
from console.kafka.types import Message
from console.messages.masking import mask_view, rules_for
from console.messages.presenters import present

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
