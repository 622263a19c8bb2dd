"""The fast paths of the decoders give exactly what the plain ones gave: the indented JSON
of json.dumps(indent=2), and the control-character test on text."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from console.messages.decoding import _text, decode, pretty_json

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=25,
)


@given(JSON)
def test_pretty_json_is_json_dumps_indent_2(value):
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


@given(st.text())
def test_control_characters_but_whitespace_mean_binary(text):
    expected = None if any(ord(c) < 32 and c not in "\t\n\r" for c in text) else text
    assert _text(text.encode()) == expected


def test_json_value_shown_indented_and_deep_nesting_never_breaks_it():
    v = decode(b'{"a": [1, 2.5, {"b": null}], "c": "\\u00e9", "d": 1e400}', "auto")
    assert v.kind == "json"
    assert v.pretty == json.dumps(v.data, indent=2, ensure_ascii=False)
    for depth in (500, 5_000, 50_000):
        deep = b"[" * depth + b"]" * depth
        d = decode(deep, "auto")  # never raises: indented, compact, or shown as text
        assert d.text == deep.decode()
