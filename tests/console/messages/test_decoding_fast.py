"""The fast paths of the decoders give exactly what the plain ones gave: the indented JSON
of json.dumps(indent=2), and the control-character test on text."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from console.messages.decoding import _text, decode, pretty_json


def _json_values(floats=None):
    """What json.loads gives: scalars (with `floats`, if any) in lists and objects."""
    scalars = st.none() | st.booleans() | st.integers() | st.text()
    return st.recursive(
        scalars | floats if floats is not None else scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=25,
    )


JSON = _json_values(st.floats(allow_nan=True, allow_infinity=True))


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


# orjson where it can, the json module where it cannot: the same values either way.
TEXTS = st.one_of(
    JSON.map(lambda v: json.dumps(v, ensure_ascii=False)),
    JSON.map(lambda v: json.dumps(v, indent=1)),
    st.text(alphabet='{}[]",:0123456789.eE+-tfnaulrsNIiy \\u\t\n', max_size=30),
    st.sampled_from(
        [
            "NaN",
            "[Infinity, -Infinity]",
            str(2**64),
            str(-(2**63) - 1),
            "1e400",
            "-0",
            "-0.0",
            '"\\ud800"',
            '{"a": 1, "a": 2}',
            "[" * 2000 + "]" * 2000,
            " 1 ",
            "1 2",
            "[1,]",
        ]
    ),
)


@given(TEXTS)
def test_orjson_gives_what_json_loads_gives_and_refuses_what_it_refuses(text):
    from console.messages.decoding import _REFUSED, _orjson_loads

    got = _orjson_loads(text)
    try:
        expected = repr(json.loads(text))  # repr: 1 and 1.0, -0.0 and 0.0, nan all differ
    except (ValueError, RecursionError):
        assert got is _REFUSED, f"orjson took {text!r}"
        return
    if got is not _REFUSED:  # what orjson leaves, json.loads parses as before
        assert repr(got) == expected


FINITE = _json_values(st.floats(allow_nan=False, allow_infinity=False))


@given(FINITE)
def test_dumps_writes_the_same_values_compactly(value):
    from console.messages.presenters import dumps

    assert repr(json.loads(dumps(value))) == repr(value)


@given(_json_values())
def test_dumps_without_floats_is_json_dumps_compact(value):
    from console.messages.presenters import dumps

    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_dumps_takes_what_orjson_refuses():
    from console.messages.presenters import dumps

    assert dumps({"big": 2**70, "s": "é"}) == '{"big":1180591620717411303424,"s":"é"}'
    assert json.loads(dumps(["\ud800"])) == ["\ud800"]
    assert dumps({"when": b"\x00"}) == '{"when":"b\'\\\\x00\'"}'


INTEGRAL = _json_values()


@given(INTEGRAL)
def test_a_json_value_without_floats_is_indented_as_json_dumps_does(value):
    text = json.dumps(value, ensure_ascii=False)
    got = decode(text.encode("utf-8", "surrogatepass"), "json")
    if got.kind != "json":  # lone surrogates: not UTF-8, so not text
        return
    assert got.pretty == json.dumps(value, indent=2, ensure_ascii=False)
    assert repr(got.data) == repr(value)


def test_floats_are_indented_in_their_shortest_form():
    v = decode(b'{"a": 1e-05, "b": 2.5, "c": NaN, "d": 1e400}', "json")
    assert v.kind == "json" and v.pretty == json.dumps(v.data, indent=2)  # json's own parse
    v = decode(b'{"a": 1e-05, "b": 2.5, "c": 1e16}', "json")
    assert v.pretty == '{\n  "a": 0.00001,\n  "b": 2.5,\n  "c": 1e+16\n}'
    assert v.data == {"a": 1e-05, "b": 2.5, "c": 1e16}
