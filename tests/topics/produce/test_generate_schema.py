"""A generated stream encoded with a registry subject's schema: the form checks the first
event against the subject's latest version and pins that version for the run; the worker
(whose cluster has no registry configured) writes every event with it; a wrong subject or
events that do not fit are refused on the form, before anything is sent."""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from django.urls import reverse

from console.clusters import Cluster, all_clusters, reset_clusters

pytestmark = [pytest.mark.kafka, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

CLICK = """
{"type": "record", "name": "GenClick", "namespace": "demo",
 "fields": [{"name": "user", "type": "string"}, {"name": "page", "type": "string"},
            {"name": "element", "type": "string"}, {"name": "seq", "type": "long"},
            {"name": "ts", "type": "long"}]}
"""


def test_generator_encodes_every_event_with_the_pinned_schema(
    kafka, schema_registry, celery_worker, topic_factory, client_for
):
    from console.models import Job

    saved = all_clusters()
    reset_clusters(
        [
            Cluster("local", kafka.bootstrap_servers, schema_registry_url=schema_registry.url),
            *[c for c in saved if c.name != "local"],
        ]
    )
    try:
        t = topic_factory(partitions=2)
        sid = SchemaRegistryClient({"url": schema_registry.url, "timeout": 20}).register_schema(
            f"{t}-value", Schema(CLICK, "AVRO")
        )
        c = client_for("operator")
        url = reverse("topics:produce_generate", args=["local", t])
        form = {"template": "clickstream", "stop": "count", "count": "300"}
        page = c.get(reverse("topics:produce", args=["local", t])).content.decode()
        assert 'name="encode_subject"' in page
        missing = c.post(url, {**form, "encode_subject": "nope-value"})
        assert missing.status_code == 400 and "no subject" in missing.content.decode()
        misfit = c.post(
            url,
            {
                **form,
                "template": "custom",
                "value_template": '{"user": "{{user}}"}',
                "encode_subject": f"{t}-value",
            },
        )
        assert misfit.status_code == 400 and "does not fit" in misfit.content.decode()
        not_json = c.post(
            url,
            {
                **form,
                "template": "custom",
                "value_template": "plain",
                "encode_subject": f"{t}-value",
            },
        )
        assert not_json.status_code == 400 and "must be JSON" in not_json.content.decode()
        ok = c.post(url, {**form, "encode_subject": f"{t}-value"})
        assert ok.status_code == 302, re.findall(r"field-error[^<]*", ok.content.decode())
        job_id = ok.url.rstrip("/").split("/")[-1]
        deadline = time.monotonic() + 60
        while not (job := Job.objects.get(id=job_id)).finished:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job.state == "succeeded", job.error
        assert job.result["delivered"] == 300
        page = c.get(
            reverse("topics:messages", args=["local", t]), {"mode": "oldest", "limit": "100"}
        ).content.decode()
        assert page.count(f"avro · schema id {sid}") == 100
        assert "&quot;element&quot;:" in page
    finally:
        reset_clusters(saved)
