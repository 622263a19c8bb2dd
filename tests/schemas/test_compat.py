"""The console's reading of Avro's resolution rules, used to explain a registry's bare "not
compatible" (Apicurio gives no reasons). Pure functions: no registry needed."""

from __future__ import annotations

import json

from console.schemas.compat import avro_problems, explain
from console.schemas.selectors import schema_diff, topic_of


def rec(*fields, name="User"):
    return json.dumps({"type": "record", "name": name, "namespace": "demo", "fields": list(fields)})


V1 = rec({"name": "id", "type": "string"})


def test_a_new_field_needs_a_default_for_old_data():
    new = rec({"name": "id", "type": "string"}, {"name": "age", "type": "int"})
    assert avro_problems(new, V1) == [
        "/fields/1: field 'age' (int) is not in the data and has no default"
    ]
    ok = rec({"name": "id", "type": "string"}, {"name": "age", "type": "int", "default": 0})
    assert avro_problems(ok, V1) == []


def test_promotions_are_allowed_and_narrowing_is_not():
    as_long = rec({"name": "n", "type": "long"})
    as_int = rec({"name": "n", "type": "int"})
    assert avro_problems(as_long, as_int) == []  # int data read as long
    assert avro_problems(as_int, as_long) == ["/fields/0: long data cannot be read as int"]


def test_unions_enums_and_renames():
    opt = rec({"name": "x", "type": ["null", "string"], "default": None})
    plain = rec({"name": "x", "type": "string"})
    assert avro_problems(opt, plain) == []  # string data fits the union
    assert avro_problems(plain, opt)[0].startswith("/fields/0: null data cannot be read")
    e2 = rec({"name": "c", "type": {"type": "enum", "name": "C", "symbols": ["A", "B"]}})
    e1 = rec({"name": "c", "type": {"type": "enum", "name": "C", "symbols": ["A"]}})
    assert "lost symbol B" in avro_problems(e1, e2)[0]
    assert avro_problems(rec({"name": "id", "type": "string"}, name="Person"), V1) == [
        "/: the name changed from demo.User to demo.Person"
    ]


def test_explain_follows_the_level_and_transitivity():
    v2 = rec({"name": "id", "type": "string"}, {"name": "age", "type": "int", "default": 0})
    dropped = rec({"name": "age", "type": "int", "default": 0})  # drops id
    versions = [(1, V1), (2, v2)]
    assert explain("BACKWARD", dropped, versions) == []  # a reader may ignore fields
    forward = explain("FORWARD", dropped, versions)
    assert forward and "Readers on version 2" in forward[0] and "'id'" in forward[0]
    assert len(explain("FULL_TRANSITIVE", dropped, versions)) == 2  # versions 2 and 1
    assert explain("NONE", dropped, versions) == []


def test_topic_name_strategy_and_diff_rows():
    assert topic_of("orders-value") == ("orders", "value")
    assert topic_of("orders-key") == ("orders", "key")
    assert topic_of("demo.User") is None and topic_of("-value") is None
    rows = schema_diff("a\nb\nc", "a\nB\nc")
    assert [(r.kind, r.old, r.new) for r in rows] == [
        ("hunk", None, None),
        ("same", 1, 1),
        ("del", 2, None),
        ("add", None, 2),
        ("same", 3, 3),
    ]
    assert schema_diff("same", "same") == []
