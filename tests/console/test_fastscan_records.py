"""The batch reader of the fast search path finds exactly the matches a record-by-record
read finds: record batches built and read back by kafka-python's own record classes (the
reference), every codec, offset gaps, starts and ends inside batches, a scan budget, and
needles with quotes, backslashes, non-ASCII and case folding (no broker needed)."""

from __future__ import annotations

import contextlib
import json
import struct

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from console.kafka import fetch
from console.kafka.types import Message
from console.messages.filters import Condition, FilterError, MessageFilter
from console.messages.needles import needles_for

CODECS = [0, 1, 2, 3, 4]  # none, gzip, snappy, lz4, zstd
T0 = 1_700_000_000_000

FRAGMENTS = [
    "needle",
    "NeEdLe",
    'say "hi"',
    "back\\slash",
    "café",
    "CAFÉ",
    "\u212aelvin",  # Kelvin sign: lower() gives "kelvin"
    "kelvin",
    "İzmir",  # lower() gives "i̇zmir"
    "ſtop",  # long s: matches "s" in a case-insensitive regex
    "stop",
    "/checkout",
    "de ad",
    "x=1",
    " ",
]
EXPRESSIONS = [
    *FRAGMENTS,
    "needle",
    "eedl",
    "kelvin",
    "izmir",
    '"hi"',
    "\\slash",
    "café",
    "stop",
]
REGEXES = [r"ne+dle", r"(needle|stop)", r"caf.", r"say \"hi", r"back\\slash", r"k\w+vin", r"[ab]c"]


def _json(text: str, ensure_ascii: bool) -> bytes:
    return json.dumps({"a": text, "b": 1}, ensure_ascii=ensure_ascii).encode()


payloads = st.one_of(
    st.none(),
    st.builds(_json, st.sampled_from(FRAGMENTS), st.booleans()),
    st.lists(st.sampled_from(FRAGMENTS), max_size=3).map(lambda x: "".join(x).encode()),
    st.binary(max_size=12),
    st.sampled_from([b"\xff\xfeneedle", b"\x00needle", b"needle\x01"]),
)
headers = st.lists(
    st.tuples(st.sampled_from(["h", "trace"]), st.one_of(st.none(), payloads.filter(bool))),
    max_size=2,
)
records = st.lists(
    st.tuples(st.integers(1, 3), payloads, payloads, headers),  # offset step, key, value
    min_size=1,
    max_size=6,
)
batches = st.lists(st.tuples(st.sampled_from(CODECS), records, st.integers(0, 3)), max_size=5)


def build(layout) -> tuple[bytes, list[Message]]:
    """Concatenated batches (a fetch response's record bytes) and what they hold."""
    blob = b""
    offset = 0
    for codec, recs, gap in layout:
        offset += gap
        base = offset
        b = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=codec,
            is_transactional=False,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=1 << 30,
        )
        for step, key, value, hdrs in recs:
            b.append(offset - base, timestamp=T0 + offset, key=key, value=value, headers=hdrs)
            offset += step
        raw = bytearray(b.build())
        struct.pack_into(">q", raw, 0, base)  # the broker assigns base offsets
        blob += bytes(raw)
    expected = []
    mr = MemoryRecords(blob)
    while (batch := mr.next_batch()) is not None:
        for r in batch:
            expected.append(
                Message(
                    topic="t",
                    partition=0,
                    offset=r.offset,
                    timestamp_ms=r.timestamp,
                    timestamp_type="create",
                    key=r.key,
                    value=r.value,
                    headers=tuple((k, v) for k, v in r.headers),
                )
            )
    return blob, expected


conditions = st.one_of(
    st.builds(
        lambda f, e, ic: ("contains", f, e, ic),
        st.sampled_from(["value", "key", "header", "any"]),
        st.sampled_from(EXPRESSIONS),
        st.booleans(),
    ),
    st.builds(
        lambda f, e, ic: ("regex", f, e, ic),
        st.sampled_from(["value", "key", "any"]),
        st.sampled_from(REGEXES),
        st.booleans(),
    ),
    st.builds(
        lambda f, e: ("jsonpath", f, f"$.a == {json.dumps(e)}", True),
        st.sampled_from(["value", "key"]),
        st.sampled_from(FRAGMENTS),
    ),
)


def make_filter(specs) -> MessageFilter:
    conds = []
    for kind, field, expr, ic in specs:
        with contextlib.suppress(FilterError):
            conds.append(Condition.build(field, kind, expr, header="h", ignore_case=ic))
    return MessageFilter(conditions=tuple(conds))


def _needle_from(data, records: list[Message]):
    """A condition spec whose needle is cut from a record's own key, value or header (so it
    matches often), its case changed or its text escaped as a regular expression."""
    import re

    texts = [
        b.decode("utf-8", "replace")
        for m in records
        for b in (m.key, m.value, *(v for _k, v in m.headers))
        if b
    ]
    if not texts:
        return data.draw(conditions)
    text = data.draw(st.sampled_from(texts))
    i = data.draw(st.integers(0, max(0, len(text) - 1)))
    needle = text[i : i + data.draw(st.integers(1, 8))] or "x"
    needle = data.draw(st.sampled_from([needle, needle.upper(), needle.lower(), needle.swapcase()]))
    kind = data.draw(st.sampled_from(["contains", "contains", "regex"]))
    if kind == "regex":
        needle = re.escape(needle)
    field = data.draw(st.sampled_from(["value", "key", "header", "any"]))
    return (kind, field, needle, data.draw(st.booleans()))


@hsettings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    layout=batches,
    data=st.data(),
    cut=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    budget=st.one_of(st.none(), st.integers(0, 30)),
)
def test_batch_reader_finds_what_a_record_by_record_read_finds(layout, data, cut, budget):
    blob, records = build(layout)
    specs = [_needle_from(data, records)]
    if data.draw(st.booleans()):
        specs.append(data.draw(conditions))
    flt = make_filter(specs)
    needles = needles_for(flt)
    if needles is None:
        return  # no probe: such searches read record by record (the consumer scan)
    start, end = min(cut), max(cut)
    in_range = [m for m in records if start <= m.offset < end]
    read = in_range if budget is None else in_range[:budget]
    reader = fetch._Reader("t", needles, None)
    part = reader.read(0, blob, start, end, [], float("inf") if budget is None else budget)
    assert [m for m in part.out if flt.matches(m)] == [m for m in read if flt.matches(m)]
    assert part.scanned == len(read)
    # The position: past every record read, at or before the first one not read.
    if read:
        assert part.position > read[-1].offset
    unread = in_range[len(read) :]
    if unread:
        assert part.position <= unread[0].offset
    else:
        assert part.position <= end
    # Candidates are never outside the range read.
    assert all(start <= m.offset < end for m in part.out)


@pytest.mark.parametrize(
    ("text", "kind", "expression"),
    [
        ("\u212aelvin", "contains", "kelvin"),
        ("\u212aELVIN", "regex", "kelvin"),
        ("AB\u0130", "contains", "abi"),  # lower(): "abi" and a combining dot
        ("\u0130ZMIR", "regex", "izmir"),
        ("\u017ftop", "regex", "stop"),
        ("caf\u00e9 noir", "contains", "CAFÉ NOIR"),
        ('say "hi" now', "contains", 'SAY "HI"'),
        ("back\\slash", "contains", "K\\SLASH"),
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_case_folding_onto_ascii_still_finds_the_record(text, kind, expression, as_json):
    value = json.dumps({"a": text}, ensure_ascii=False).encode() if as_json else text.encode()
    blob, records = build([(3, [(1, None, value, [])], 0)])
    flt = MessageFilter((Condition.build("value", kind, expression),))
    # The filter matches JSON as written: escaped quotes and backslashes do not match.
    assert flt.matches(records[0]) or (as_json and "\\" in value.decode())
    part = fetch._Reader("t", needles_for(flt), None).read(0, blob, 0, 9, [], float("inf"))
    assert [m for m in part.out if flt.matches(m)] == [m for m in records if flt.matches(m)]


@pytest.mark.parametrize("codec", CODECS)
def test_every_codec_round_trips_through_the_reader(codec):
    layout = [(codec, [(1, b"k", _json("needle", True), [("h", b"v")])] * 50, 0)]
    blob, records = build(layout)
    flt = MessageFilter((Condition.build("value", "contains", "NEEDLE"),))
    part = fetch._Reader("t", needles_for(flt), None).read(0, blob, 0, 10**9, [], float("inf"))
    assert part.out == records
    assert part.scanned == 50


def test_json_string_with_escapes_is_a_candidate():
    """ "/checkout" written as "\\/checkout" or with \\u escapes is still found."""
    flt = MessageFilter((Condition.build("value", "jsonpath", '$.page == "/checkout"'),))
    values = [b'{"page": "\\/checkout"}', b'{"page": "\\u002fcheckout"}', b'{"page": "/home"}']
    layout = [(0, [(1, None, v, []) for v in values], 0)]
    blob, _records = build(layout)
    part = fetch._Reader("t", needles_for(flt), None).read(0, blob, 0, 10, [], float("inf"))
    assert [m.offset for m in part.out if flt.matches(m)] == [0, 1]


@pytest.mark.parametrize(
    ("kind", "field", "expression", "ignore_case"),
    [
        ("contains", "value", "dead", True),  # could be the hex of a binary value
        ("contains", "value", "ab", True),  # too short to be worth a batch test
        ("contains", "any", "user=bob", True),  # may span a header's name and value
        ("regex", "value", "a{e<=1}bcdef", True),  # fuzzy matching in the regex module
        ("regex", "value", ".*", True),
        ("jsonpath", "value", "$.n == 2", True),  # numbers have many spellings
        ("jsonpath", "value", '$.page != "/x"', True),
    ],
)
def test_filters_without_a_safe_probe_read_record_by_record(kind, field, expression, ignore_case):
    flt = MessageFilter((Condition.build(field, kind, expression, ignore_case=ignore_case),))
    assert needles_for(flt) is None


def test_values_not_shown_as_their_bytes_get_no_value_probe():
    flt = MessageFilter((Condition.build("value", "contains", "needle"),))
    assert needles_for(flt, value_mode="hex") is None
    assert needles_for(flt, registry=object()) is None
    key = MessageFilter((Condition.build("key", "contains", "needle"),))
    assert needles_for(key, registry=object()) is not None
