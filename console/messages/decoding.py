"""Decoders for message keys, values and headers: text, JSON, hex, base64 (auto-detected).

A decoder never raises: bytes that do not decode as asked come back as binary (hex) with
the reason, so one odd message can never break a page. Schema-registry framed data (magic
byte 0 + 4-byte schema id) is recognised here; turning it into a value needs the registry
and is done by the schema-registry decoder, which falls back to this one.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from json.encoder import encode_basestring  # json.dumps' own string writer (ensure_ascii off)
from typing import Any

import orjson

MODES = ("auto", "text", "json", "hex", "base64", "schema")
MAX_PRETTY = 256 * 1024  # pretty-print JSON up to this size; larger stays compact


@dataclass(frozen=True, slots=True)
class Decoded:
    kind: str  # "null", "text", "json", "binary", "avro", "protobuf", "json-schema"
    text: str  # what the page shows (compact)
    pretty: str = ""  # indented JSON for display, when kind is JSON-like
    data: Any = None  # parsed JSON (for JSON-path filters), None otherwise
    error: str = ""  # why the requested decoding failed ("" when it did not)
    schema_id: int | None = None

    @property
    def is_json(self) -> bool:
        return self.data is not None or self.kind in {"json", "avro", "json-schema", "protobuf"}


NULL = Decoded(kind="null", text="")


def schema_id_of(data: bytes | None) -> int | None:
    """The schema id of Confluent wire-format data (magic byte 0, 4-byte big-endian id)."""
    if data and len(data) >= 5 and data[0] == 0:
        return int.from_bytes(data[1:5], "big")
    return None


def _hex(data: bytes, error: str = "") -> Decoded:
    return Decoded(
        kind="binary",
        text=data.hex(" ")
        if len(data) <= 4096
        else data[:4096].hex(" ") + f" … ({len(data)} bytes)",
        error=error,
    )


def _text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Control characters other than whitespace mean binary that happens to be valid UTF-8.
    if _CONTROL.search(text):
        return None
    return text


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # below 32, but tab, LF, CR


def _float(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "Infinity" if f > 0 else "-Infinity"
    return float.__repr__(f)


def pretty_json(o: Any, indent: str = "\n") -> str:
    """`json.dumps(o, indent=2, ensure_ascii=False)` for what `json.loads` returns, to the
    character, about three times faster (json.dumps with an indent runs in pure Python)."""
    t = type(o)
    if t is str:
        return encode_basestring(o)
    if t is dict:
        if not o:
            return "{}"
        inner = indent + "  "
        items = [encode_basestring(k) + ": " + pretty_json(v, inner) for k, v in o.items()]
        return "{" + inner + ("," + inner).join(items) + indent + "}"
    if t is list:
        if not o:
            return "[]"
        inner = indent + "  "
        return "[" + inner + ("," + inner).join([pretty_json(v, inner) for v in o]) + indent + "]"
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    if t is float:
        return _float(o)
    return json.dumps(o, indent=2, ensure_ascii=False)


# 19 digits in a row: maybe an integer beyond 64 bits, which orjson reads as a float.
_LONG_DIGITS = re.compile(r"\d{19}")
_REFUSED = object()  # what `_orjson_loads` gives for a text it leaves to json.loads


def _orjson_loads(text: str) -> Any:
    """orjson's parse of `text`, or `_REFUSED`. orjson takes a subset of what json.loads
    takes (no NaN or Infinity, no lone surrogates, nesting to 1,024) and gives the same
    values for it, but for integers beyond 64 bits, which it reads as floats: a text with
    19 digits in a row is left to json.loads."""
    if _LONG_DIGITS.search(text) is not None:
        return _REFUSED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _REFUSED


def _json(text: str) -> Decoded | None:
    stripped = text.lstrip()
    if not stripped or stripped[0] not in '{["-0123456789tfn':
        return None
    data = _orjson_loads(text)
    if data is not _REFUSED:
        # What orjson read it writes back indented as json.dumps(indent=2) does, but for
        # floats, which it writes in their shortest form (0.00001, 2.5e-7; json.dumps: 1e-05,
        # 2.5e-07), about six times faster.
        if len(text) > MAX_PRETTY:
            return Decoded(kind="json", text=text, pretty=text, data=data)
        try:
            pretty = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
            return Decoded(kind="json", text=text, pretty=pretty, data=data)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes (254 levels)
            pass
    else:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
    try:
        pretty = pretty_json(data) if len(text) <= MAX_PRETTY else text
    except RecursionError:  # nested deeper than Python recurses: shown compact
        pretty = text
    return Decoded(kind="json", text=text, pretty=pretty, data=data)


def decode(data: bytes | None, mode: str = "auto") -> Decoded:
    """Decode `data` as `mode` (one of MODES); never raises."""
    if data is None:
        return NULL
    try:
        if mode == "hex":
            return _hex(data)
        if mode == "base64":
            return Decoded(kind="binary", text=base64.b64encode(data).decode("ascii"))
        text = _text(data)
        if mode == "text":
            return (
                Decoded(kind="text", text=text)
                if text is not None
                else _hex(data, "not valid UTF-8 text")
            )
        if mode == "json":
            if text is None:
                return _hex(data, "not valid UTF-8, so not JSON")
            return _json(text) or Decoded(kind="text", text=text, error="not valid JSON")
        # auto
        if text is None:
            sid = schema_id_of(data)
            reason = (
                f"schema-registry framed (schema id {sid}); no registry decoded it" if sid else ""
            )
            return Decoded(kind="binary", text=_hex(data).text, error=reason, schema_id=sid)
        return _json(text) or Decoded(kind="text", text=text)
    except Exception as exc:  # noqa: BLE001 - a decoder must never break the page
        return _hex(data, f"could not decode: {exc}")


def header_text(value: bytes | None) -> str:
    """A header value for display: text when it is UTF-8, hex otherwise."""
    if value is None:
        return ""
    text = _text(value)
    return text if text is not None else "0x" + value.hex()


def decode_with(data: bytes | None, mode: str = "auto", registry=None) -> Decoded:
    """`decode`, but schema-registry framed data goes to `registry` (an object with
    ``decode(data) -> Decoded``) when one is configured and the mode allows it."""
    if registry is not None and mode in ("auto", "schema") and schema_id_of(data) is not None:
        try:
            return registry.decode(data)
        except Exception as exc:  # noqa: BLE001 - a decoder must never break the page
            sid = schema_id_of(data)
            return Decoded(
                kind="binary", text=_hex(data).text, error=f"schema id {sid}: {exc}", schema_id=sid
            )
    return decode(data, "auto" if mode == "schema" else mode)
