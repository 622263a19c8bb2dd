"""Decoding Confluent wire-format values (magic byte 0, 4-byte schema id) with a
Confluent-compatible schema registry (Confluent's own, or Apicurio's ccompat API).

Schemas are fetched once per (registry, id) over HTTP with a bounded timeout and kept in
memory. Avro is decoded with fastavro; JSON Schema payloads are JSON after the 5-byte
header. Protobuf schemas are turned into descriptors, from the registry's text (compiled
with protoc from grpcio-tools) or its base64 FileDescriptorProto (Apicurio stores what
confluent-kafka's serializer registers); the message indexes after the header pick the
message type. Schemas that import other registry subjects (references) are not resolved.
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
from collections.abc import Callable
from typing import Any

import fastavro
import fastavro.validation

from console.messages.decoding import MAX_PRETTY, Decoded, schema_id_of

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
            elif kind == "PROTOBUF":
                parsed = _proto_file(text)
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
        write, sid = self.encoder(subject)
        return write(value), sid

    def encoder(self, subject: str) -> tuple[Callable[[Any], bytes], int]:
        """A function writing values (parsed JSON) under `subject`'s latest schema, asked
        for once, and its id."""
        pinned = self.pinned(subject)
        return writer_for(pinned), pinned["id"]

    def pinned(self, subject: str) -> dict[str, Any]:
        """`subject`'s latest schema as plain data (subject, id, type, schema text): what a
        task needs to encode with exactly this version, with no registry of its own."""
        sid, kind, _parsed = self.latest(subject)
        raw = self._get(f"/schemas/ids/{sid}")
        return {"subject": subject, "id": sid, "type": kind, "schema": raw.get("schema", "")}

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
        elif kind == "PROTOBUF":
            value = _proto_decode(schema, data)
            label = "protobuf"
        else:
            raise RegistryError(f"{kind.lower()} values are not decoded by the console")
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


# --- Protobuf ----------------------------------------------------------------------------


def _proto_file(text: str):
    """The FileDescriptor of a registry's Protobuf schema (text, or base64 descriptor)."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(base64.b64decode(text, validate=True))
        if not proto.name:
            raise ValueError("not a descriptor")
        files = [proto]
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - then it is .proto text
        files = _protoc(text)
        proto = files[-1]
    pool = descriptor_pool.DescriptorPool()
    known = {f.name for f in files}
    for dep in proto.dependency:
        if dep not in known:
            files.insert(0, _well_known(dep))
    for f in files:
        try:
            pool.Add(f)
        except Exception as exc:  # noqa: BLE001 - e.g. a reference to another subject
            raise RegistryError(f"the Protobuf schema does not load: {str(exc)[:200]}") from None
    return pool.FindFileByName(proto.name)


def _well_known(name: str):
    """google/protobuf/*.proto as a FileDescriptorProto (imports of registry schemas)."""
    import importlib

    from google.protobuf import descriptor_pb2, descriptor_pool

    stem = name.rsplit("/", 1)[-1].removesuffix(".proto")
    try:
        importlib.import_module(f"google.protobuf.{stem}_pb2")
        fd = descriptor_pool.Default().FindFileByName(name)
    except (ImportError, KeyError):
        raise RegistryError(
            f"the Protobuf schema imports {name!r} (a schema reference), which the console "
            "does not resolve"
        ) from None
    out = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(out)
    return out


def _protoc(text: str) -> list:
    """.proto text compiled by protoc (grpcio-tools) into FileDescriptorProtos."""
    import importlib.resources
    import tempfile

    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        src = f"{tmp}/schema.proto"
        out = f"{tmp}/schema.pb"
        with open(src, "w") as fh:
            fh.write(text)
        include = str(importlib.resources.files("grpc_tools") / "_proto")
        code = protoc.main(
            [
                "protoc",
                f"-I{tmp}",
                f"-I{include}",
                f"--descriptor_set_out={out}",
                "--include_imports",
                "schema.proto",
            ]
        )
        if code != 0:
            raise RegistryError("the Protobuf schema does not compile")
        files = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as fh:
            files.ParseFromString(fh.read())
    return list(files.file)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise RegistryError("the Protobuf message indexes are cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _proto_decode(file, data: bytes) -> Any:
    """Confluent Protobuf framing: after the 5-byte header, the message indexes (a zigzag
    varint count, then that many zigzag varints; a single 0 means the first message)."""
    from google.protobuf import json_format, message_factory

    count, pos = _varint(data, 5)
    count = _zigzag(count)
    indexes = [0] if count == 0 else []
    for _ in range(count if count > 0 else 0):
        index, pos = _varint(data, pos)
        indexes.append(_zigzag(index))
    types = list(file.message_types_by_name.values())
    try:
        desc = types[indexes[0]]
        for i in indexes[1:]:
            desc = desc.nested_types[i]
    except IndexError:
        raise RegistryError(f"no message type at indexes {indexes} in the schema") from None
    msg = message_factory.GetMessageClass(desc)()
    try:
        msg.ParseFromString(data[pos:])
    except Exception as exc:  # noqa: BLE001 - DecodeError and friends
        raise RegistryError(f"not a valid {desc.full_name} message: {str(exc)[:200]}") from None
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def writer_for(pinned: dict[str, Any]) -> Callable[[Any], bytes]:
    """A function writing values (parsed JSON) in the Confluent wire format under the
    schema `pinned` (from Registry.pinned); RegistryError says why a value does not fit."""
    subject, sid, kind, text = (
        pinned["subject"],
        int(pinned["id"]),
        pinned["type"],
        pinned["schema"],
    )
    header = b"\x00" + sid.to_bytes(4, "big")
    if kind == "AVRO":
        try:
            schema = fastavro.parse_schema(json.loads(text))
        except Exception as exc:  # noqa: BLE001 - a bad schema is a reason, not a crash
            raise RegistryError(f"the Avro schema does not parse: {str(exc)[:200]}") from None

        def write_avro(value: Any) -> bytes:
            out = io.BytesIO()
            try:
                fastavro.schemaless_writer(out, schema, _from_json(schema, value))
            except Exception as exc:  # noqa: BLE001 - fastavro raises many kinds
                raise RegistryError(
                    f"the value does not fit {subject!r} (schema id {sid}): {str(exc)[:300]}"
                ) from None
            return header + out.getvalue()

        return write_avro
    if kind == "JSON":
        parsed = json.loads(text)

        def write_json(value: Any) -> bytes:
            try:
                import jsonschema

                jsonschema.validate(value, parsed)
            except ImportError:
                pass
            except Exception as exc:  # noqa: BLE001 - ValidationError, SchemaError
                msg = getattr(exc, "message", str(exc))
                raise RegistryError(
                    f"the value does not fit {subject!r} (schema id {sid}): {msg[:300]}"
                ) from None
            return header + json.dumps(value, separators=(",", ":")).encode()

        return write_json
    raise RegistryError(f"{kind.lower()} encoding is not supported by the console")
