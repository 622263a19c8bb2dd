"""Producing against the real broker and a real Celery worker."""

import random
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.urls import reverse

from console.clusters import Cluster, all_clusters, get_cluster, reset_clusters
from console.jobs import job_cancel
from console.kafka.client import producer
from console.kafka.errors import InvalidRequest, NotFound
from console.kafka.offsets import watermarks
from console.kafka.produce import murmur2, partition_for, produce_one
from console.models import AuditEntry, Job
from tests.conftest import wait_job
from tools.kafka.local import LIBS

HERE = Path(__file__).parent


def job_id_of(response) -> str:
    assert response.status_code == 302, response.content.decode()[-3000:]
    return response.url.rstrip("/").split("/")[-1]


@pytest.mark.kafka
def test_murmur2_matches_javas_partitioner():
    """Vectors from Kafka's own Utils.murmur2 (kafka-clients jar), run by Java here."""
    rng = random.Random(11)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"u-17", "ünïcødé".encode()]
    keys += [rng.randbytes(rng.randint(1, 40)) for _ in range(500)]
    result = subprocess.run(
        ["java", "-cp", f"{LIBS}/*", str(HERE / "Murmur.java"), "12"],
        input="\n".join(k.hex() for k in keys) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    java = [tuple(int(x) for x in line.split()) for line in result.stdout.splitlines()]
    assert len(java) == len(keys)
    for key, (hash_, part) in zip(keys, java, strict=True):
        assert murmur2(key) == hash_, key
        assert partition_for(key, 12) == part, key
    assert partition_for(None, 12) is None


@pytest.mark.kafka
def test_preview_matches_actual_delivery_for_1000_random_keys(kafka, topic_factory):
    t = topic_factory(partitions=7)
    p = producer(get_cluster("local"))
    rng = random.Random(3)
    keys = [rng.randbytes(rng.randint(1, 24)) for _ in range(1000)]
    delivered = {}
    for k in keys:
        p.produce(
            t,
            key=k,
            value=b"v",
            on_delivery=lambda err, msg, k=k: delivered.__setitem__(k, msg.partition()),
        )
        p.poll(0)
    assert p.flush(30) == 0
    assert len(delivered) == len(set(keys))
    assert all(delivered[k] == partition_for(k, 7) for k in keys)


@pytest.mark.kafka
def test_preview_view_says_which_partition(kafka, topic_factory, client_for):
    t = topic_factory(partitions=6)
    c = client_for("viewer")
    html = c.get(
        reverse("topics:produce_preview", args=["local", t]), {"key": "u-17"}
    ).content.decode()
    assert f'data-partition="{partition_for(b"u-17", 6)}"' in html and "of 6" in html
    html = c.get(
        reverse("topics:produce_preview", args=["local", t]), {"null_key": "on"}
    ).content.decode()
    assert "spread across the 6 partitions" in html


@pytest.mark.kafka
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_produced_message_reads_back_byte_for_byte(celery_worker, kafka, topic_factory, client_for):
    t = topic_factory(partitions=3)
    c = client_for("operator")
    value = '{"page": "/pricing", "element": "toggle", "note": "ünï <b>"}'
    r = c.post(
        reverse("topics:produce_message", args=["local", t]),
        {
            "key": "u-17",
            "value": value,
            "value_format": "json",
            "compression": "lz4",
            "header_name_0": "trace-id",
            "header_value_0": "abc-123",
            "header_name_1": "source",
            "header_value_1": "console",
        },
    )
    job = wait_job(job_id_of(r))
    assert job.state == "succeeded", job.error
    assert job.result["partition"] == partition_for(b"u-17", 3)
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "readback"})
    consumer.assign([TopicPartition(t, job.result["partition"], job.result["offset"])])
    msg = consumer.poll(10)
    consumer.close()
    assert msg is not None and msg.error() is None
    assert msg.key() == b"u-17" and msg.value() == value.encode()
    assert msg.headers() == [("trace-id", b"abc-123"), ("source", b"console")]
    page = c.get(reverse("console:job", args=[job.id])).content.decode()
    assert "succeeded" in page and "offset" in page
    entry = AuditEntry.objects.get(action="produce.message")
    assert entry.outcome == "ok" and entry.target == t and entry.params["key"] == "u-17"


@pytest.mark.kafka
@pytest.mark.celery
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_generator_delivers_exactly_100000_with_per_partition_counts(
    celery_worker, kafka, topic_factory, client_for
):
    t = topic_factory(partitions=6)
    r = client_for("operator").post(
        reverse("topics:produce_generate", args=["local", t]),
        {"template": "clickstream", "count": 100000},
    )
    job = wait_job(job_id_of(r), timeout=240)
    assert job.state == "succeeded", (job.error, job.progress)
    assert job.result["delivered"] == 100000 and job.result["failed"] == 0
    marks = watermarks(get_cluster("local"), [(t, p) for p in range(6)])
    assert {str(p): m.high for (_, p), m in marks.items() if m.high} == job.result["per_partition"]
    assert sum(m.high for m in marks.values()) == 100000
    entry = AuditEntry.objects.get(action="produce.generate")
    assert entry.params["delivered"] == 100000 and entry.params["partitions"] == list(range(6))


@pytest.mark.kafka
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_paced_generator(celery_worker, kafka, topic_factory, client_for):
    t = topic_factory(partitions=2)
    r = client_for("operator").post(
        reverse("topics:produce_generate", args=["local", t]),
        {
            "template": "custom",
            "key_template": "{{choice:a|b}}",
            "value_template": '{"n": {{int:1:9}}, "seq": {{seq}}}',
            "seconds": 60,
            "rate": 200,
        },
    )
    job_id = job_id_of(r)
    deadline = time.monotonic() + 30
    while (job := Job.objects.get(id=job_id)).progress.get("delivered", 0) < 50:
        assert time.monotonic() < deadline, (job.state, job.progress, job.error)
        time.sleep(0.2)
    job_cancel(job_id)
    job = wait_job(job_id, timeout=30)
    assert job.state == "cancelled"
    delivered = job.result["delivered"]
    assert 50 <= delivered < 12000
    marks = watermarks(get_cluster("local"), [(t, 0), (t, 1)])
    assert sum(m.high for m in marks.values()) == delivered


@pytest.mark.kafka
@pytest.mark.django_db
def test_bad_input_gives_clear_messages(kafka, topic_factory, client_for, settings):
    t = topic_factory(partitions=2)
    c = client_for("operator")
    url = reverse("topics:produce_message", args=["local", t])
    r = c.post(url, {"value": "{not json", "value_format": "json", "compression": "none"})
    assert r.status_code == 400 and "Not valid JSON" in r.content.decode()
    r = c.post(url, {"value": "x", "value_format": "text", "compression": "none", "partition": 5})
    assert "The topic has 2 partitions" in r.content.decode()
    settings.CONSOLE_MAX_MESSAGE_BYTES = 100
    r = c.post(url, {"value": "x" * 200, "value_format": "text", "compression": "none"})
    assert "the console sends at most 100" in r.content.decode()
    gen = reverse("topics:produce_generate", args=["local", t])
    settings.CONSOLE_MAX_GENERATOR_EVENTS = 1000
    r = c.post(gen, {"template": "clickstream", "count": 5000})
    assert "more than the limit of 1000" in r.content.decode()
    r = c.post(gen, {"template": "custom", "value_template": "{{nope}}", "count": 5})
    assert "unknown placeholder {{nope}}" in r.content.decode()
    r = c.post(gen, {"template": "custom", "value_template": "{{int:9:1}}", "count": 5})
    assert "write {{int:LOW:HIGH}}" in r.content.decode()
    r = c.post(gen, {"template": "clickstream"})
    assert "Give a number of events" in r.content.decode()
    assert c.get(reverse("topics:produce", args=["local", "no-such-topic"])).status_code == 404


@pytest.mark.kafka
def test_kafka_refusals_in_plain_words(kafka, topic_factory):
    cluster = get_cluster("local")
    with pytest.raises(NotFound, match="does not exist"):
        produce_one(cluster, topic="missing-topic-xyz", key=None, value=b"v", headers=[])
    small = topic_factory(config={"max.message.bytes": "1024"})
    with pytest.raises(InvalidRequest, match="larger than the topic or broker accepts"):
        produce_one(cluster, topic=small, key=None, value=b"x" * 5000, headers=[])


@pytest.mark.kafka
@pytest.mark.django_db
def test_roles_and_read_only(kafka, topic, client_for):
    url = reverse("topics:produce_message", args=["local", topic])
    data = {"value": "x", "value_format": "text", "compression": "none"}
    assert client_for("viewer").post(url, data).status_code == 403
    saved = all_clusters()
    reset_clusters([*saved, Cluster("ro", kafka.bootstrap_servers, read_only=True)])
    try:
        r = client_for("admin").post(reverse("topics:produce_message", args=["ro", topic]), data)
        assert r.status_code == 403 and b"read-only" in r.content
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied").count() == 2
