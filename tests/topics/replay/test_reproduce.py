"""Re-produce one message: the form is filled byte for byte; headers can be left out; only
operators see or use it; read-only clusters refuse it. Against the real broker and worker."""

import base64
import re

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, get_cluster, reset_clusters
from console.kafka.replay import message_at
from console.models import AuditEntry
from tests.conftest import wait_job

pytestmark = [pytest.mark.kafka]

BINARY = bytes(range(256))


def _url(topic, p=0, o=0, cluster="local"):
    return reverse("topics:replay_message", args=[cluster, topic]) + f"?partition={p}&offset={o}"


@pytest.mark.django_db
def test_form_is_filled_with_the_message_bytes(kafka, topic, produce, client_for):
    produce(
        topic,
        [
            {
                "key": b"k\xff\x00",
                "value": BINARY,
                "partition": 1,
                "headers": [("trace-id", b"abc"), ("bin", b"\x00\xfe")],
            }
        ],
    )
    html = client_for("operator").get(_url(topic, 1, 0)).content.decode()
    assert base64.b64encode(BINARY).decode() in html
    assert base64.b64encode(b"k\xff\x00").decode() in html
    assert 'name="header_name_0" value="trace-id"' in html
    assert 'name="header_value_1" value="AP4="' in html  # b"\x00\xfe" as base64
    assert re.search(r'name="partition"[^>]*value="1"', html)


@pytest.mark.django_db
def test_viewer_never_sees_the_form_or_the_link(kafka, topic, produce, client_for):
    produce(topic, [{"value": b"secret", "partition": 0}])
    viewer = client_for("viewer")
    assert viewer.get(_url(topic)).status_code == 403
    page = viewer.get(reverse("topics:messages", args=["local", topic])).content.decode()
    assert "re-produce" not in page and "secret" not in page
    page = client_for("operator").get(reverse("topics:messages", args=["local", topic]))
    assert "re-produce" in page.content.decode()


@pytest.mark.django_db
def test_missing_message_and_bad_input_are_clear(kafka, topic, client_for):
    c = client_for("operator")
    assert c.get(_url(topic, 0, 5)).status_code == 404
    r = c.get(reverse("topics:replay_message", args=["local", topic]) + "?partition=x")
    assert r.status_code == 404
    r = c.post(
        _url(topic),
        {
            "target_topic": "no such!",
            "key_encoding": "text",
            "value_encoding": "base64",
            "value": "%%%",
        },
    )
    assert r.status_code == 400
    assert "not valid base64" in r.content.decode() and "topic name" in r.content.decode()
    r = c.post(_url(topic), {"header_rows": "abc", "key_encoding": "zzz"})
    assert r.status_code == 400


@pytest.mark.django_db
def test_read_only_cluster_refuses(kafka, topic, produce, client_for):
    produce(topic, [{"value": b"v", "partition": 0}])
    saved = all_clusters()
    reset_clusters([*saved, Cluster("ro", kafka.bootstrap_servers, read_only=True)])
    try:
        r = client_for("operator").post(
            _url(topic, cluster="ro"),
            {"target_topic": topic, "key_encoding": "null", "value_encoding": "text", "value": "v"},
        )
        assert r.status_code == 403 and b"read-only" in r.content
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied", action="replay.message").count() == 1


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_reproduce_with_edit_and_header_left_out(
    celery_worker, kafka, topic_factory, produce, client_for
):
    src, dst = topic_factory(partitions=2), topic_factory(partitions=3)
    produce(
        src,
        [
            {
                "key": b"user-1",
                "value": BINARY,
                "partition": 1,
                "headers": [("trace-id", b"t-1"), ("keep", b"\x00\x01")],
            }
        ],
    )
    c = client_for("operator")
    form = {
        "target_topic": dst,
        "key": "user-1",
        "key_encoding": "text",
        "value": base64.b64encode(BINARY + b"!").decode(),
        "value_encoding": "base64",
        "partition": "2",
        "header_rows": "3",
        "header_name_0": "trace-id",
        "header_value_0": "t-1",
        "header_encoding_0": "text",
        "header_name_1": "keep",
        "header_value_1": "AAE=",
        "header_encoding_1": "base64",
        "header_carry_1": "on",
    }
    r = c.post(_url(src, 1, 0), form)
    assert r.status_code == 302, r.content.decode()[-2000:]
    job = wait_job(r.url.rstrip("/").split("/")[-1])
    assert job.state == "succeeded", job.error
    assert job.result["partition"] == 2
    msg = message_at(get_cluster("local"), dst, 2, job.result["offset"])
    assert msg.key == b"user-1" and msg.value == BINARY + b"!"
    assert msg.headers == (("keep", b"\x00\x01"),)
    assert AuditEntry.objects.filter(action="replay.message", target=dst).exists()


@pytest.mark.django_db
def test_a_masked_role_cannot_reproduce_or_copy(kafka, topic, produce, client_for):
    import re as regex

    from console.clusters import MaskRule

    produce(topic, [{"value": b'{"email": "ann@example.com"}', "partition": 0}])
    saved = all_clusters()
    rule = MaskRule(topics=regex.compile(".*"), json_paths=("$.email",), roles=("operator",))
    reset_clusters([*saved, Cluster("masked", kafka.bootstrap_servers, masking=(rule,))])
    try:
        c = client_for("operator")
        r = c.get(_url(topic, cluster="masked"))
        assert r.status_code == 403 and b"ann@example.com" not in r.content
        r = c.post(
            reverse("topics:replay_copy", args=["masked", topic]),
            {"target_cluster": "local", "target_topic": topic + "x", "routing": "key"},
        )
        assert r.status_code == 403 and b"Masking applies" in r.content
        assert client_for("admin").get(_url(topic, cluster="masked")).status_code == 200
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied", action="replay.refused").count() == 1


@pytest.mark.django_db
def test_bulk_operations_refused_on_read_only_clusters(kafka, topic_factory, client_for):
    from django.core import signing

    from topics.replay.views import SALT

    src, dst = topic_factory(partitions=1), topic_factory(partitions=1)
    saved = all_clusters()
    reset_clusters([*saved, Cluster("ro", kafka.bootstrap_servers, read_only=True)])
    try:
        c = client_for("operator")
        # Copying from a read-only cluster is reading; copying into one is refused.
        r = c.post(
            reverse("topics:replay_copy", args=["local", src]),
            {"target_cluster": "ro", "target_topic": dst, "routing": "key"},
        )
        assert r.status_code == 400 and "read-only" in r.content.decode()
        r = c.post(
            reverse("topics:replay_redrive", args=["ro", src]), {"header_names": "x-original-topic"}
        )
        assert r.status_code == 403 and "read-only" in r.content.decode()
        token = signing.dumps(
            {
                "mode": "copy",
                "source_topic": src,
                "ranges": {"0": [0, 0]},
                "target_cluster": "ro",
                "target_topic": dst,
                "target_partitions": 1,
            },
            salt=SALT,
            compress=True,
        )
        r = c.post(reverse("topics:replay_confirm", args=["local", src]), {"token": token})
        assert r.status_code == 403 and b"read-only" in r.content
        r = c.post(reverse("topics:replay_confirm", args=["local", src]), {"token": token + "x"})
        assert r.status_code == 400
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied", action="replay.copy.request").count() == 1
