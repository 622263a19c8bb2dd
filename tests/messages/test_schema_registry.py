"""Schema-registry decoding against a real registry (see tools/registry/): values encoded by
confluent-kafka's own serializers (the real wire format) are shown decoded, a JSON path
search works on them, and an unknown schema id or an unreachable registry is a reason
shown next to the binary value, never a broken page."""

from __future__ import annotations

import re

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.urls import reverse

from console.clusters import Cluster, all_clusters, reset_clusters

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

AVRO = """
{"type": "record", "name": "Click", "namespace": "demo",
 "fields": [{"name": "user", "type": "string"}, {"name": "page", "type": "string"},
            {"name": "n", "type": "int"}, {"name": "raw", "type": "bytes"}]}
"""
JSON_SCHEMA = """
{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
 "properties": {"id": {"type": "string"}, "total": {"type": "number"}}}
"""


@pytest.fixture
def registry_cluster(kafka, schema_registry):
    saved = all_clusters()
    reset_clusters(
        [
            *saved,
            Cluster("sr", kafka.bootstrap_servers, schema_registry_url=schema_registry.url),
            Cluster("sr-down", kafka.bootstrap_servers, schema_registry_url="http://127.0.0.1:9"),
        ]
    )
    yield
    reset_clusters(saved)


def test_avro_and_json_schema_values_are_decoded(
    schema_registry, registry_cluster, topic_factory, produce, client_for
):
    t = topic_factory(partitions=1)
    client = SchemaRegistryClient({"url": schema_registry.url})
    avro = AvroSerializer(client, AVRO)
    js = JSONSerializer(JSON_SCHEMA, client)
    ctx = SerializationContext(t, MessageField.VALUE)
    clicks = [
        avro(
            {"user": f"u-{i}", "page": "/checkout" if i == 2 else "/home", "n": i, "raw": b"\x01"},
            ctx,
        )
        for i in range(4)
    ]
    order = js({"id": "o-1", "total": 9.5}, ctx)
    unknown = b"\x00" + (99999).to_bytes(4, "big") + b"\x02\x04"
    produce(t, [*clicks, order, unknown])
    c = client_for("operator")
    page = c.get(reverse("topics:messages", args=["sr", t]), {"mode": "oldest"}).content.decode()
    avro_id = int.from_bytes(clicks[0][1:5], "big")
    assert "&quot;page&quot;: &quot;/checkout&quot;" in page
    assert f"avro · schema id {avro_id}" in page
    assert "json-schema · schema id" in page and "&quot;total&quot;: 9.5" in page
    assert re.search(r"shown as binary: schema id 99999: the registry does not know", page)
    # a JSON path search runs on the decoded Avro value
    r = c.get(
        reverse("topics:messages_search", args=["sr", t]),
        {"q": '$.page == "/checkout"', "kind": "jsonpath"},
    ).content.decode()
    assert re.findall(r'data-offset="(\d+)"', r) == ["2"]
    # registry unreachable: the reason, within a bounded time, and the page still renders
    page = c.get(reverse("topics:messages", args=["sr-down", t]), {"mode": "oldest"})
    assert page.status_code == 200
    assert "schema registry unreachable" in page.content.decode()
