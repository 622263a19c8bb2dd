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
