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
    client = SchemaRegistryClient({"url": schema_registry.url, "timeout": 20})
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


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_produce_form_encodes_with_the_subjects_schema(
    kafka, schema_registry, celery_worker, topic_factory, client_for
):
    """The form encodes (the worker, which knows the cluster without its registry, only
    produces the bytes): here the session's own cluster gets the registry in this process."""
    import time

    from console.models import Job

    saved = all_clusters()
    reset_clusters(
        [
            Cluster("local", kafka.bootstrap_servers, schema_registry_url=schema_registry.url),
            *[c for c in saved if c.name != "local"],
        ]
    )
    try:
        _produce_with_schema(schema_registry, topic_factory, client_for, Job, time)
    finally:
        reset_clusters(saved)


def _produce_with_schema(schema_registry, topic_factory, client_for, Job, time):
    t = topic_factory(partitions=1)
    client = SchemaRegistryClient({"url": schema_registry.url, "timeout": 20})
    from confluent_kafka.schema_registry import Schema

    sid = client.register_schema(f"{t}-value", Schema(AVRO, "AVRO"))
    c = client_for("operator")
    url = reverse("topics:produce_message", args=["local", t])
    form = {"value_format": "json", "compression": "none", "schema_subject": f"{t}-value"}
    bad = c.post(url, {**form, "value": '{"user": "u-1"}'})
    assert bad.status_code == 400 and "does not fit" in bad.content.decode()
    missing = c.post(url, {**form, "schema_subject": "nope-value", "value": "{}"})
    assert missing.status_code == 400 and "no subject" in missing.content.decode()
    ok = c.post(url, {**form, "value": '{"user": "u-9", "page": "/x", "n": 3, "raw": "ab"}'})
    assert ok.status_code == 302, re.findall(r"field-error[^<]*", ok.content.decode())
    job_id = ok.url.rstrip("/").split("/")[-1]
    deadline = time.monotonic() + 30
    while not (job := Job.objects.get(id=job_id)).finished:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job.state == "succeeded", job.error
    page = c.get(reverse("topics:messages", args=["local", t])).content.decode()
    assert f"avro · schema id {sid}" in page and "&quot;user&quot;: &quot;u-9&quot;" in page


PROTO = """
syntax = "proto3";
package demo;
import "google/protobuf/timestamp.proto";
message Click {
  string user = 1;
  string page = 2;
  int32 n = 3;
  message Inner { bool ok = 1; }
  Inner inner = 4;
  google.protobuf.Timestamp at = 5;
}
message Order { string id = 1; double total = 2; }
"""


def _proto_classes():
    """Message classes compiled from PROTO (as protoc-generated code would give them)."""
    from google.protobuf import descriptor_pool, message_factory

    from console.messages.schema_registry import _protoc

    pool = descriptor_pool.DescriptorPool()
    for f in _protoc(PROTO):
        pool.Add(f)
    get = message_factory.GetMessageClass
    return get(pool.FindMessageTypeByName("demo.Click")), get(
        pool.FindMessageTypeByName("demo.Order")
    )


def test_protobuf_values_are_decoded(
    schema_registry, registry_cluster, topic_factory, produce, client_for
):
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    click_cls, order_cls = _proto_classes()
    t = topic_factory(partitions=1)
    client = SchemaRegistryClient({"url": schema_registry.url, "timeout": 20})
    ctx = SerializationContext(t, MessageField.VALUE)
    conf = {"use.deprecated.format": False}
    click = click_cls(user="u-7", page="/checkout", n=7, inner=click_cls.Inner(ok=True))
    click.at.FromSeconds(1_700_000_000)
    first = ProtobufSerializer(click_cls, client, conf)(click, ctx)
    second = ProtobufSerializer(order_cls, client, {**conf, "auto.register.schemas": True})(
        order_cls(id="o-1", total=9.5), SerializationContext(f"{t}-orders", MessageField.VALUE)
    )
    assert second[5:7] == b"\x02\x02"  # message index [1]: the second message type
    produce(t, [first, second, first[:5] + b"\x00\xff\xff\xff"])
    c = client_for("operator")
    page = c.get(reverse("topics:messages", args=["sr", t]), {"mode": "oldest"}).content.decode()
    assert "protobuf · schema id" in page, re.findall(r"decode-error[^<]*", page)
    assert "&quot;page&quot;: &quot;/checkout&quot;" in page and "&quot;ok&quot;: true" in page
    assert "&quot;at&quot;: &quot;2023-11-14T22:13:20Z&quot;" in page
    assert "&quot;total&quot;: 9.5" in page
    assert "not a valid demo.Click message" in page
    r = c.get(
        reverse("topics:messages_search", args=["sr", t]),
        {"q": "$.inner.ok == true", "kind": "jsonpath", "mode": "oldest"},
    ).content.decode()
    assert re.findall(r'data-offset="(\d+)"', r) == ["0"]
