"""tools/registry: the real schema registry that the message-browser tests decode against.

Serializes with the Confluent serializers (which register the schema), then decodes with a
fresh client, so every schema comes back from the registry over HTTP.
"""

from __future__ import annotations

import json
import struct
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tools.registry.local import LocalRegistry

pytestmark = pytest.mark.kafka

USER_AVSC = json.dumps(
    {
        "type": "record",
        "name": "User",
        "namespace": "test.registry",
        "fields": [
            {"name": "name", "type": "string"},
            {"name": "age", "type": "int"},
            {"name": "email", "type": ["null", "string"], "default": None},
        ],
    }
)
ORDER_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Order",
        "type": "object",
        "properties": {"id": {"type": "integer"}, "items": {"type": "array"}},
        "required": ["id"],
    }
)


def _client(registry: LocalRegistry) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry.url, "timeout": 20})


def _schema_id(payload: bytes) -> int:
    """Confluent wire format: magic byte 0, then the schema id as a big-endian int32."""
    magic, schema_id = struct.unpack(">bI", payload[:5])
    assert magic == 0
    return schema_id


def test_registry_is_local_and_answers(schema_registry: LocalRegistry) -> None:
    assert schema_registry.kind == "apicurio"
    assert schema_registry.url.startswith("http://127.0.0.1:")
    assert schema_registry.url.endswith("/apis/ccompat/v7")
    assert isinstance(schema_registry.subjects(), list)


def test_avro_round_trip(schema_registry: LocalRegistry) -> None:
    topic = f"users-{uuid.uuid4().hex[:8]}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    record = {"name": "Ada", "age": 36, "email": None}

    payload = AvroSerializer(_client(schema_registry), USER_AVSC)(record, ctx)
    schema_id = _schema_id(payload)

    # A fresh client has no cache: the schema comes from GET /schemas/ids/{id}.
    assert AvroDeserializer(_client(schema_registry))(payload, ctx) == record
    # The same schema again gets the same id, and the subject holds one version.
    again = AvroSerializer(_client(schema_registry), USER_AVSC)({**record, "age": 37}, ctx)
    assert _schema_id(again) == schema_id
    client = _client(schema_registry)
    assert f"{topic}-value" in client.get_subjects()
    latest = client.get_latest_version(f"{topic}-value")
    assert (latest.version, latest.schema_id) == (1, schema_id)
    assert latest.schema.schema_type == "AVRO"
    assert json.loads(client.get_schema(schema_id).schema_str)["name"] == "User"


def test_json_schema_round_trip(schema_registry: LocalRegistry) -> None:
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    order = {"id": 7, "items": ["a", "b"]}

    payload = JSONSerializer(ORDER_JSON_SCHEMA, _client(schema_registry))(order, ctx)
    schema_id = _schema_id(payload)
    assert json.loads(payload[5:]) == order

    decoded = JSONDeserializer(None, schema_registry_client=_client(schema_registry))(payload, ctx)
    assert decoded == order
    latest = _client(schema_registry).get_latest_version(f"{topic}-value")
    assert (latest.schema_id, latest.schema.schema_type) == (schema_id, "JSON")


def test_unknown_subject_and_id_are_confluent_404s(schema_registry: LocalRegistry) -> None:
    client = _client(schema_registry)
    with pytest.raises(SchemaRegistryError) as subject_err:
        client.get_latest_version(f"missing-{uuid.uuid4().hex}")
    assert (subject_err.value.http_status_code, subject_err.value.error_code) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as id_err:
        client.get_schema(987654)
    assert (id_err.value.http_status_code, id_err.value.error_code) == (404, 40403)
