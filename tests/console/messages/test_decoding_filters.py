"""Decoders and the shared filter language (unit tests, no broker)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.kafka.types import Message
from console.messages.decoding import MODES, decode, schema_id_of
from console.messages.filters import Condition, FilterError, MessageFilter, parse_partitions
from console.messages.presenters import present


def msg(value=b"", key=None, headers=(), partition=0, offset=0, ts=1_700_000_000_000):
    return Message("t", partition, offset, ts, "create", key, value, tuple(headers))


def test_auto_detects_json_text_and_binary():
    assert decode(b'{"a": 1}').kind == "json"
    assert decode(b'{"a": 1}').data == {"a": 1}
    assert '"a": 1' in decode(b'{"a": 1}').pretty
    assert decode(b"hello").kind == "text"
    binary = decode(b"\x00\xff\x10")
    assert binary.kind == "binary" and binary.text == "00 ff 10"
    assert decode(None).kind == "null"


def test_requested_decoding_that_fails_says_why():
    d = decode(b"\xff\xfe", "text")
    assert d.kind == "binary" and "not valid UTF-8" in d.error
    d = decode(b"{not json", "json")
    assert d.kind == "text" and d.error == "not valid JSON"
    assert decode(b"\x01\x02", "base64").text == "AQI="


def test_schema_registry_framing_is_recognised():
    framed = b"\x00\x00\x00\x00\x2a" + b"\x02\x06abc"
    assert schema_id_of(framed) == 42
    d = decode(framed)
    assert d.kind == "binary" and d.schema_id == 42 and "schema id 42" in d.error


@pytest.mark.parametrize(
    ("cond", "message", "expected"),
    [
        (("value", "contains", "CHECK"), msg(b'{"page":"/checkout"}'), True),
        (("value", "contains", "nope"), msg(b'{"page":"/checkout"}'), False),
        (("key", "contains", "u-1"), msg(b"x", key=b"u-17"), True),
        (("key", "regex", r"^u-\d{2}$"), msg(b"x", key=b"u-17"), True),
        (("value", "regex", r"^u-\d{3}$"), msg(b"u-17"), False),
        (("value", "jsonpath", '$.page == "/checkout"'), msg(b'{"page":"/checkout"}'), True),
        (("value", "jsonpath", '$.page != "/checkout"'), msg(b'{"page":"/checkout"}'), False),
        (("value", "jsonpath", "$.items[1].qty == 2"), msg(b'{"items":[{},{"qty":2.0}]}'), True),
        (("value", "jsonpath", "$.ok == true"), msg(b'{"ok":1}'), False),
        (("value", "jsonpath", '$["a b"] == null'), msg(b'{"a b":null}'), True),
        (("value", "jsonpath", "$.missing == 1"), msg(b'{"a":1}'), False),
        (("value", "jsonpath", "$.a == 1"), msg(b"not json"), False),
        (("any", "contains", "trace=abc"), msg(b"x", headers=[("trace", b"abc")]), True),
    ],
)
def test_conditions(cond, message, expected):
    assert Condition.build(*cond).matches(message) is expected


def test_header_condition_and_binary_header():
    c = Condition.build("header", "contains", "abc", header="trace")
    assert c.matches(msg(headers=[("trace", b"xabcx")]))
    assert not c.matches(msg(headers=[("other", b"abc")]))
    assert present(msg(headers=[("bin", b"\xff\x00")])).headers == (("bin", "0xff00"),)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("value", "regex", "(unclosed"), "does not compile"),
        (("value", "jsonpath", "$.page = 'x'"), "reads like"),
        (("value", "jsonpath", "$.page == checkout"), "not a JSON literal"),
        (("value", "jsonpath", "$.n == NaN"), "not a JSON literal"),
        (("value", "jsonpath", "$.n != -Infinity"), "not a JSON literal"),
        (("value", "jsonpath", "$.n == " + "[" * 990), "not a JSON literal"),
        (("value", "jsonpath", "$..page == 1"), "cannot read"),
        (("value", "jsonpath", "page == 1"), "reads like"),
        (("value", "contains", ""), "empty"),
        (("colour", "contains", "x"), "unknown field"),
        (("header", "contains", "x"), "name the header"),
    ],
)
def test_bad_filters_say_what_to_fix(args, error):
    with pytest.raises(FilterError, match=error):
        Condition.build(*args)


def test_message_filter_ranges_and_partitions():
    f = MessageFilter(partitions=frozenset({1}), min_offset=5, max_timestamp_ms=2_000)
    assert f.matches(msg(partition=1, offset=5, ts=2_000))
    assert not f.matches(msg(partition=0, offset=5, ts=2_000))
    assert not f.matches(msg(partition=1, offset=4, ts=2_000))
    assert not f.matches(msg(partition=1, offset=5, ts=2_001))
    assert MessageFilter().empty and not f.empty


def test_parse_partitions():
    assert parse_partitions("0, 2,5-7") == {0, 2, 5, 6, 7}
    assert parse_partitions(" ") is None
    with pytest.raises(FilterError, match="has 3 partitions"):
        parse_partitions("1,3", count=3)
    with pytest.raises(FilterError, match="not a number"):
        parse_partitions("a")


def test_presented_message_is_json_ready():
    view = present(msg(b'{"a":1}', key=b"k"))
    assert json.loads(json.dumps(view.as_dict()))["value"] == {"a": 1}
    assert view.timestamp.startswith("2023-11-14T22:13:20")


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.none(), st.binary(max_size=300)), mode=st.sampled_from(MODES))
def test_no_bytes_break_a_decoder(data, mode):
    d = decode(data, mode)
    assert isinstance(d.text, str)


FILTERS = [
    Condition.build("value", "contains", "a"),
    Condition.build("any", "regex", r"(a+)+$"),
    Condition.build("value", "jsonpath", '$.a[0].b == "x"'),
    Condition.build("header", "jsonpath", "$.x != 1", header="h"),
    Condition.build("key", "regex", r"\d+"),
]


@settings(max_examples=300, deadline=None)
@given(
    key=st.one_of(st.none(), st.binary(max_size=64)),
    value=st.one_of(st.none(), st.binary(max_size=300)),
    header=st.one_of(st.none(), st.binary(max_size=32)),
)
def test_no_bytes_break_a_filter(key, value, header):
    m = msg(value, key=key, headers=[("h", header)])
    for c in FILTERS:
        assert c.matches(m) in (True, False)
    assert MessageFilter(conditions=tuple(FILTERS)).matches(m) in (True, False)


PREFILTERED = [
    Condition.build("value", "contains", "page"),
    Condition.build("value", "contains", "Check", ignore_case=False),
    Condition.build("key", "contains", "u-1"),
    Condition.build("value", "jsonpath", '$.page == "checkout"'),
    Condition.build("key", "jsonpath", '$.id == "a b"'),
]
_fragments = st.sampled_from(
    [
        b"page",
        b"PAGE",
        b"Check",
        b"u-1",
        b'{"page": "checkout"}',
        b'{"id": "a b"}',
        b"\xc3\xa9",
        b"\x00",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    key=st.one_of(st.none(), st.lists(st.one_of(_fragments, st.binary(max_size=8))).map(b"".join)),
    value=st.one_of(
        st.none(), st.lists(st.one_of(_fragments, st.binary(max_size=8))).map(b"".join)
    ),
)
def test_a_prefilter_never_rejects_a_match(key, value):
    """The search's byte-level fast path is only ever a necessary condition."""
    m = msg(value, key=key)
    for c in PREFILTERED:
        pf = c.prefilter()
        assert pf is not None
        if c.matches(m):
            assert pf(key, value), (c.expression, key, value)


class _Schemas:
    """A registry whose schemas are known without HTTP."""

    def __init__(self):
        from console.messages.schema_registry import Registry

        self.reg = Registry("http://127.0.0.1:9")
        import fastavro

        avro = {
            "type": "record",
            "name": "R",
            "fields": [{"name": "s", "type": "string"}, {"name": "n", "type": "long"}],
        }
        from console.messages.schema_registry import _proto_file

        proto = _proto_file('syntax = "proto3"; message P { string s = 1; repeated int64 n = 2; }')
        self.reg._schemas = {
            1: ("AVRO", fastavro.parse_schema(avro)),
            2: ("JSON", "{}"),
            3: ("PROTOBUF", proto),
        }


_REG = _Schemas().reg


@settings(max_examples=300, deadline=None)
@given(
    schema_id=st.sampled_from([1, 2, 3]),
    payload=st.binary(max_size=200),
    mode=st.sampled_from(MODES),
)
def test_no_bytes_break_the_schema_registry_decoder(schema_id, payload, mode):
    from console.messages.decoding import decode_with

    data = b"\x00" + schema_id.to_bytes(4, "big") + payload
    d = decode_with(data, mode, _REG)
    assert isinstance(d.text, str)


def test_protobuf_from_proto_text_as_confluents_registry_returns_it():
    """Confluent's registry answers with .proto text (Apicurio with a base64 descriptor,
    covered against the real registry in tests/console/messages/test_schema_registry.py)."""
    from google.protobuf import message_factory

    from console.messages.schema_registry import Registry, _proto_file

    text = 'syntax = "proto3"; package t; message A { string s = 1; message B { int32 n = 1; } B b = 2; }'
    file = _proto_file(text)
    a_cls = message_factory.GetMessageClass(file.message_types_by_name["A"])
    payload = a_cls(s="hi", b=a_cls.B(n=5)).SerializeToString()
    reg = Registry("http://127.0.0.1:9")
    reg._schemas = {7: ("PROTOBUF", file)}
    d = reg.decode(b"\x00\x00\x00\x00\x07\x00" + payload)
    assert d.kind == "protobuf" and d.data == {"s": "hi", "b": {"n": 5}}
    # message indexes [0, 0]: the nested B of the first message
    b = a_cls.B(n=9).SerializeToString()
    assert reg.decode(b"\x00\x00\x00\x00\x07\x04\x00\x00" + b).data == {"n": 9}
