"""Decoding Confluent wire-format values (magic byte 0, 4-byte schema id) with a
Confluent-compatible schema registry (Confluent's own, or Apicurio's ccompat API).

Schemas are fetched once per (registry, id) over HTTP with a bounded timeout and kept in
memory. Avro is decoded with fastavro; JSON Schema payloads are JSON after the 5-byte
header. Protobuf needs the schema compiled into descriptors, which is not done here: such
values are shown as binary with that reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

import fastavro
import fastavro.validation

from topics.decoding import MAX_PRETTY, Decoded, schema_id_of

TIMEOUT_S = 3.0
_lock = threading.Lock()
_registries: dict[str, Registry] = {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


class RegistryError(Exception):
    pass


def _bytes_of(text: str) -> bytes:
    """A JSON string for an Avro bytes/fixed field: "base64:..." (as the browser shows
    bytes), else each character as one byte (Avro's own JSON encoding)."""
    if text.startswith("base64:"):
        return base64.b64decode(text[7:])
    return text.encode("latin-1")


def _from_json(schema: Any, value: Any) -> Any:
    """`value` parsed from JSON, with strings turned into bytes where the schema wants
    bytes; everything else is left to fastavro (which checks it)."""
    if isinstance(schema, list):  # a union: the first branch the value converts for
        for branch in schema:
            try:
                converted = _from_json(branch, value)
                if fastavro.validation.validate(converted, branch, raise_errors=False):
                    return converted
            except (ValueError, TypeError, UnicodeEncodeError):
                continue
        return value
    if isinstance(schema, str):
        if schema == "bytes" and isinstance(value, str):
            return _bytes_of(value)
        return value
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if isinstance(kind, dict | list):
        return _from_json(kind, value)
    if kind in ("bytes", "fixed") and isinstance(value, str):
        return _bytes_of(value)
    if kind == "record" and isinstance(value, dict):
        fields = {f["name"]: f["type"] for f in schema.get("fields", [])}
        return {k: _from_json(fields[k], v) if k in fields else v for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [_from_json(schema.get("items"), v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(schema.get("values"), v) for k, v in value.items()}
    return value


def _sniff(text: str) -> str:
    """The schema type when the registry leaves it out (Confluent omits AVRO, the default;
    some registries omit the others too)."""
    stripped = text.lstrip()
    if stripped.startswith(("syntax", "package", "message", "import")):
        return "PROTOBUF"
    try:
        doc = json.loads(text)
    except ValueError:
        return "AVRO"
    if isinstance(doc, dict) and (
        "$schema" in doc or "properties" in doc or doc.get("type") == "object"
    ):
        return "JSON"
    return "AVRO"


class Registry:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._schemas: dict[int, tuple[str, Any]] = {}  # id -> (type, parsed schema)

    def _get(self, path: str) -> Any:
        req = urllib.request.Request(
            self.url + path, headers={"Accept": "application/vnd.schemaregistry.v1+json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - configured URL
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise RegistryError("the registry does not know this schema id") from None
            raise RegistryError(f"the registry answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"schema registry unreachable ({reason})") from None

    def schema(self, schema_id: int) -> tuple[str, Any]:
        found = self._schemas.get(schema_id)
        if found is None:
            raw = self._get(f"/schemas/ids/{schema_id}")
            text = raw.get("schema", "")
            kind = (raw.get("schemaType") or _sniff(text)).upper()
            if kind == "AVRO":
                try:
                    parsed: Any = fastavro.parse_schema(json.loads(text))
                except Exception as exc:  # noqa: BLE001 - a bad schema is a reason, not a crash
                    raise RegistryError(
                        f"the Avro schema does not parse: {str(exc)[:200]}"
                    ) from None
            else:
                parsed = text
            found = self._schemas[schema_id] = (kind, parsed)
        return found

    def latest(self, subject: str) -> tuple[int, str, Any]:
        """The id, type and parsed schema of `subject`'s latest version."""
        from urllib.parse import quote

        try:
            raw = self._get(f"/subjects/{quote(subject, safe='')}/versions/latest")
        except RegistryError as exc:
            if "does not know" in str(exc):
                raise RegistryError(f"the registry has no subject {subject!r}") from None
            raise
        sid = int(raw["id"])
        return (sid, *self.schema(sid))

    def encode(self, subject: str, value: Any) -> tuple[bytes, int]:
        """`value` (parsed JSON) in the Confluent wire format under `subject`'s latest
        schema; RegistryError says why it does not fit."""
        sid, kind, schema = self.latest(subject)
        header = b"\x00" + sid.to_bytes(4, "big")
        if kind == "AVRO":
            out = io.BytesIO()
            try:
                fastavro.schemaless_writer(out, schema, _from_json(schema, value))
            except Exception as exc:  # noqa: BLE001 - fastavro raises many kinds
                raise RegistryError(
                    f"the value does not fit {subject!r} (schema id {sid}): {str(exc)[:300]}"
                ) from None
            return header + out.getvalue(), sid
        if kind == "JSON":
            try:
                import jsonschema

                jsonschema.validate(value, json.loads(schema))
            except ImportError:
                pass
            except Exception as exc:  # noqa: BLE001 - ValidationError, SchemaError
                msg = getattr(exc, "message", str(exc))
                raise RegistryError(
                    f"the value does not fit {subject!r} (schema id {sid}): {msg[:300]}"
                ) from None
            return header + json.dumps(value, separators=(",", ":")).encode(), sid
        raise RegistryError(f"{kind.lower()} encoding is not supported by the console")

    def decode(self, data: bytes) -> Decoded:
        sid = schema_id_of(data)
        if sid is None:
            raise RegistryError("not schema-registry framed")
        kind, schema = self.schema(sid)
        if kind == "AVRO":
            value = _jsonable(fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None))
            label = "avro"
        elif kind == "JSON":
            value = json.loads(data[5:])
            label = "json-schema"
        else:
            raise RegistryError(f"{kind.lower()} values are not decoded by the console yet")
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        pretty = (
            json.dumps(value, indent=2, ensure_ascii=False) if len(text) <= MAX_PRETTY else text
        )
        return Decoded(kind=label, text=text, pretty=pretty, data=value, schema_id=sid)


def registry_for(url: str) -> Registry | None:
    """The (cached) registry client for `url`; None when no registry is configured."""
    if not url:
        return None
    with _lock:
        reg = _registries.get(url)
        if reg is None:
            reg = _registries[url] = Registry(url)
        return reg
