"""Topic operations against the real broker: nothing destructive happens in one click.

Each operation is a preview (GET, changes nothing) and then a confirmation (POST) that
carries what the preview saw; an empty or partial form is a 400 by the field, a typed name
is required for what cannot be undone, and a topic that changed since the preview is a 409.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewPartitions
from django.urls import reverse

from console.clusters import Cluster, all_clusters, get_cluster, reset_clusters
from console.kafka.offsets import watermarks
from console.models import AuditEntry
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def html(response) -> str:
    return response.content.decode()


def marks(topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    found = watermarks(get_cluster("local"), [(topic, p) for p in range(partitions)])
    return {p: (found[(topic, p)].low, found[(topic, p)].high) for p in range(partitions)}


class _Inputs(HTMLParser):
    """The inputs of one form (by id) of a page: what a browser would submit."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif tag == "input" and self.inside and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(page: str, form_id: str) -> dict[str, str]:
    parser = _Inputs(form_id)
    parser.feed(page)
    assert parser.fields, f"no form #{form_id} on the page"
    parser.fields.pop("csrfmiddlewaretoken", None)
    return parser.fields


def rows(page: str) -> dict[int, dict[str, int]]:
    """The purge preview's rows: partition -> its data-* numbers."""
    out = {}
    for attrs in re.findall(r"<tr (data-partition=[^>]*)>", page):
        data = dict(re.findall(r'data-([a-z-]+)="(\d+)"', attrs))
        partition = int(data.pop("partition"))
        out[partition] = {k: int(v) for k, v in data.items()}
    return out


@pytest.fixture
def filled(topic_factory, produce):
    """A 3-partition topic holding 5, 3 and 7 records."""
    name = topic_factory(partitions=3)
    counts = {0: 5, 1: 3, 2: 7}
    produce(name, [{"value": b"v", "partition": p} for p, n in counts.items() for _ in range(n)])
    return name


# --- purge --------------------------------------------------------------------------


def test_purge_with_empty_or_partial_fields_is_400_and_deletes_nothing(filled, client_for):
    c = client_for("admin")
    url = reverse("topics:purge", args=["local", filled])
    before = marks(filled, 3)
    for data, errors in [
        ({}, ["Choose the partitions", "Give the offset to delete below"]),
        ({"partitions": "0"}, ["Give the offset to delete below"]),
        ({"all_records": "on"}, ["Choose the partitions"]),
        ({"partitions": "0", "all_partitions": "on", "all_records": "on"}, ["Either list"]),
        ({"partitions": "x", "all_records": "on"}, ["is not a number or a range"]),
        ({"partition": "", "offset": ""}, ["Choose the partitions"]),  # the old form's fields
    ]:
        for method in (c.post, c.get) if data else (c.post,):  # GET without a query: the form
            r = method(url, data)
            page = html(r)
            assert r.status_code == 400, (data, r.status_code)
            for error in errors:
                assert error in page, (data, error)
            assert 'class="error field-error"' in page and 'id="purge-form"' in page
            assert 'id="purge-confirm"' not in page
    assert marks(filled, 3) == before
    assert not AuditEntry.objects.filter(action="topic.purge").exists()


def test_purge_preview_shows_the_broker_watermarks_and_deletes_nothing(filled, client_for):
    c = client_for("admin")
    url = reverse("topics:purge", args=["local", filled])
    before = marks(filled, 3)
    r = c.get(url, {"all_partitions": "on", "all_records": "on"})
    assert r.status_code == 200
    shown = rows(html(r))
    assert sorted(shown) == [0, 1, 2]
    for p, (low, high) in before.items():
        assert shown[p] == {"deleted": high - low, "low": low, "low-after": high, "high": high}
    assert 'id="purge-total">15<' in html(r)
    # below an offset, in chosen partitions: at most what each partition holds
    shown = rows(html(c.get(url, {"partitions": "0,2", "offset": 4})))
    assert sorted(shown) == [0, 2]
    assert shown[0]["deleted"] == 4 and shown[2]["deleted"] == 4 and shown[0]["low-after"] == 4
    r = c.get(url, {"partitions": "1", "offset": 99})
    assert r.status_code == 400 and "ends at offset 3; 99 is beyond its end" in html(r)
    r = c.get(url, {"partitions": "0-9", "all_records": "on"})
    assert r.status_code == 400 and "there is no partition 3" in html(r)
    assert marks(filled, 3) == before
    assert not AuditEntry.objects.filter(action="topic.purge").exists()


def test_purge_confirm_needs_the_typed_name_and_a_preview(filled, client_for):
    c = client_for("admin")
    url = reverse("topics:purge", args=["local", filled])
    before = marks(filled, 3)
    fields = form_fields(
        html(c.get(url, {"partitions": "0", "all_records": "on"})), "purge-confirm"
    )
    for typed, error in [
        ("", f"Type the topic&#x27;s name, {filled}, to confirm."),
        ("wrong", f"type {filled} exactly"),
        (filled + " ", f"type {filled} exactly"),
    ]:
        r = c.post(url, {**fields, "confirm": typed})
        assert r.status_code == 400 and error in html(r), typed
        assert 'id="purge-confirm"' in html(r)  # the preview again, to confirm from
    # the typed name without what the preview saw, or with other partitions than chosen
    without = {k: v for k, v in fields.items() if k != "below"}
    r = c.post(url, {**without, "confirm": filled})
    assert r.status_code == 400 and "carries no preview" in html(r)
    r = c.post(url, {**fields, "below": "0:5,1:3", "confirm": filled})
    assert r.status_code == 400 and "carries no preview" in html(r)
    assert marks(filled, 3) == before
    assert not AuditEntry.objects.filter(action="topic.purge", outcome="ok").exists()


def test_purge_confirm_deletes_exactly_what_was_previewed(filled, produce, client_for):
    c = client_for("admin")
    url = reverse("topics:purge", args=["local", filled])
    page = html(c.get(url, {"partitions": "0,2", "all_records": "on"}))
    previewed = rows(page)
    fields = form_fields(page, "purge-confirm")
    # records written after the preview are not part of it, and stay
    produce(filled, [{"value": b"late", "partition": 0}] * 2)
    r = c.post(url, {**fields, "confirm": filled})
    assert r.status_code == 302 and r.url == reverse("topics:detail", args=["local", filled])
    now = marks(filled, 3)
    assert now[0] == (previewed[0]["low-after"], 7)  # 5 deleted, the 2 late ones kept
    assert now[2] == (previewed[2]["low-after"], 7) == (7, 7)
    assert now[1] == (0, 3)  # not chosen: untouched
    entry = AuditEntry.objects.get(action="topic.purge", outcome="ok")
    assert entry.params["below"] == {"0": 5, "2": 7} and entry.params["offset"] is None
    assert entry.before == {"0": 0, "2": 0} and entry.after == {"0": 5, "2": 7}
    # the Partitions tab shows the new low watermarks
    detail = html(c.get(r.url))
    row = detail.split('data-partition="0"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num (?:low|high|count)[^"]*">(\d+)</td>', row) == ["5", "7", "2"]


def test_purge_refused_when_the_topic_changed_since_the_preview(filled, kafka, client_for):
    c = client_for("admin")
    url = reverse("topics:purge", args=["local", filled])
    fields = form_fields(
        html(c.get(url, {"all_partitions": "on", "all_records": "on"})), "purge-confirm"
    )
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_partitions([NewPartitions(filled, 4)])[filled].result(30)
    before = marks(filled, 3)
    r = c.post(url, {**fields, "confirm": filled})
    page = html(r)
    assert r.status_code == 409
    assert "had 3 partitions in the preview and has 4 now" in page
    assert sorted(rows(page)) == [0, 1, 2, 3]  # a fresh preview to confirm from
    assert form_fields(page, "purge-confirm")["seen_partitions"] == "4"
    assert marks(filled, 3) == before
    entry = AuditEntry.objects.get(action="topic.purge")
    assert entry.outcome == "error" and "has 4 now" in entry.detail


# --- delete topic -------------------------------------------------------------------


def test_delete_topic_needs_its_preview_and_the_typed_name(filled, kafka, client_for):
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    group = unique("reader")
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group})
    deadline = time.monotonic() + 30
    while True:  # a fresh broker may still be loading its offsets topic
        try:
            consumer.commit(offsets=[TopicPartition(filled, 0, 2)], asynchronous=False)
            break
        except KafkaException as exc:
            loading = exc.args[0].code() in (
                KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                KafkaError.COORDINATOR_NOT_AVAILABLE,
                KafkaError.NOT_COORDINATOR,
            )
            if not loading or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    consumer.close()
    c = client_for("admin")
    url = reverse("topics:delete", args=["local", filled])
    r = c.get(url)
    page = html(r)
    assert r.status_code == 200
    assert 'id="delete-partitions">3<' in page and 'id="delete-messages">15 ' in page
    assert f'data-group="{group}"' in page
    fields = form_fields(page, "delete-confirm")
    assert fields == {"seen_partitions": "3", "confirm": ""}
    for data, error in [
        ({}, "Type the topic&#x27;s name"),
        ({"seen_partitions": "3"}, "Type the topic&#x27;s name"),
        ({"seen_partitions": "3", "confirm": "wrong"}, f"type {filled} exactly"),
        ({"confirm": filled}, "carries no preview"),
    ]:
        r = c.post(url, data)
        assert r.status_code == 400 and error in html(r), data
    assert len(marks(filled, 3)) == 3  # still there
    r = c.post(url, {"seen_partitions": "3", "confirm": filled})
    assert r.status_code == 302 and r.url == reverse("topics:list", args=["local"])
    assert c.get(reverse("topics:detail", args=["local", filled])).status_code == 404
    assert c.post(url, {"seen_partitions": "3", "confirm": filled}).status_code == 404
    entry = AuditEntry.objects.get(action="topic.delete", outcome="ok")
    assert entry.target == filled and entry.params == {"seen_partitions": 3}


def test_delete_topic_refused_when_its_partitions_changed(filled, kafka, client_for):
    c = client_for("admin")
    url = reverse("topics:delete", args=["local", filled])
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_partitions([NewPartitions(filled, 5)])[filled].result(30)
    r = c.post(url, {"seen_partitions": "3", "confirm": filled})
    assert r.status_code == 409 and "has 5 now" in html(r)
    assert 'id="delete-partitions">5<' in html(r)
    assert c.get(reverse("topics:detail", args=["local", filled])).status_code == 200


# --- configs ------------------------------------------------------------------------


def config_value(topic: str, key: str) -> str:
    from console.kafka.topics import topic_configs

    (entry,) = [e for e in topic_configs(get_cluster("local"), [topic])[topic] if e.name == key]
    return entry.value


def test_config_change_previews_old_to_new_then_applies(topic, client_for):
    # segment.ms: a key the session broker leaves at Kafka's default (it sets retention.ms)
    c = client_for("admin")
    url = reverse("topics:config_edit", args=["local", topic])
    default = config_value(topic, "segment.ms")
    r = c.get(url, {"name": "segment.ms", "value": "60000"})
    change = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html(r).split('id="config-change">')[1]))
    assert r.status_code == 200
    assert change.startswith(f"segment.ms: {default} default → 60000 topic override")
    assert config_value(topic, "segment.ms") == default  # the preview changed nothing
    fields = form_fields(html(r), "config-confirm")
    assert fields == {"name": "segment.ms", "value": "60000", "seen_value": default}
    assert c.post(url, fields).status_code == 302
    assert config_value(topic, "segment.ms") == "60000"
    entry = AuditEntry.objects.get(action="topic.config", outcome="ok")
    assert entry.before == {"segment.ms": default} and entry.params["value"] == "60000"
    # removing the override: the preview names the value it falls back to
    r = c.get(url, {"name": "segment.ms", "reset": "on"})
    change = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html(r).split('id="config-change">')[1]))
    assert change.startswith(f"segment.ms: 60000 topic → back to default: {default} default")
    fields = form_fields(html(r), "config-confirm")
    assert fields == {"name": "segment.ms", "reset": "on", "seen_value": "60000"}
    assert c.post(url, fields).status_code == 302
    assert config_value(topic, "segment.ms") == default


def test_config_change_refuses_empty_invalid_and_stale_input(topic, client_for):
    c = client_for("admin")
    url = reverse("topics:config_edit", args=["local", topic])
    for data, field_error in [
        ({}, "Name the config to change"),
        ({"name": "retention.ms"}, "Give the new value"),
        ({"name": "retention.ms", "value": "1", "reset": "on"}, "not both"),
        ({"name": "retention.ms", "value": "soon"}, "Not a number of type LONG"),
        ({"name": "no.such.config", "value": "1"}, "Topics have no config named no.such.config"),
        ({"name": "retention.ms", "reset": "on"}, "has no override on this topic"),
    ]:
        for method in (c.post, c.get) if data else (c.post,):  # GET without a query: the form
            r = method(url, data)
            page = html(r)
            assert r.status_code == 400 and field_error in page, (data, method)
            assert 'class="error field-error"' in page and 'id="config-confirm"' not in page
    # a confirmation without its preview, or after someone else changed the value
    r = c.post(url, {"name": "retention.ms", "value": "60000"})
    assert r.status_code == 400 and "carries no preview" in html(r)
    r = c.post(url, {"name": "retention.ms", "value": "60000", "seen_value": "1234"})
    assert r.status_code == 409 and "not the 1234 the preview showed" in html(r)
    assert 'id="config-confirm"' in html(r)  # previewed again against the value now
    assert config_value(topic, "retention.ms") != "60000"


# --- add partitions -----------------------------------------------------------------


def produce_keys(bootstrap: str, topic: str, keys: list[bytes]) -> dict[bytes, int]:
    """Produce one record per key with the Java-compatible partitioner; where each landed."""
    landed: dict[bytes, int] = {}
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for k in keys:
        p.produce(
            topic,
            key=k,
            value=b"x",
            on_delivery=lambda e, m: landed.update({m.key(): m.partition()}),
        )
    assert p.flush(30) == 0
    return landed


def test_add_partitions_preview_counts_the_sampled_keys_that_move(
    kafka, topic_factory, produce, client_for
):
    name = topic_factory(partitions=3)
    keys = [f"customer-{i}".encode() for i in range(150)]
    on_three = produce_keys(kafka.bootstrap_servers, name, keys)
    produce(name, [b"no key"] * 10)  # null keys never count as moved
    # where librdkafka's own murmur2 puts the same keys on five partitions
    on_five = produce_keys(kafka.bootstrap_servers, topic_factory(partitions=5), keys)
    expected = sum(1 for k in keys if on_three[k] != on_five[k])
    assert 0 < expected < len(keys)
    c = client_for("admin")
    url = reverse("topics:partitions_add", args=["local", name])
    r = c.get(url, {"total": 5})
    page = html(r)
    assert r.status_code == 200
    moved = re.search(r'id="moved-keys" data-moved="(\d+)" data-keys="(\d+)"', page)
    assert (int(moved[1]), int(moved[2])) == (expected, 150)
    assert "3 → <strong>5</strong>" in page and "not on the partition" not in page
    assert len(marks(name, 3)) == 3 and c.get(url, {"total": 3}).status_code == 400
    assert "Kafka can only add" in html(c.get(url, {"total": 2}))
    r = c.post(url, {"total": ""})
    assert r.status_code == 400 and "Give the partition count" in html(r)
    r = c.post(url, {"total": 5})
    assert r.status_code == 400 and "carries no preview" in html(r)
    fields = form_fields(page, "partitions-confirm")
    assert fields == {"total": "5", "seen_partitions": "3"}
    assert c.post(url, fields).status_code == 302
    assert len(marks(name, 5)) == 5
    # the same confirmation again: the topic no longer has the 3 partitions it saw
    r = c.post(url, fields)
    assert r.status_code == 409 and "has 5 now" in html(r)
    entry = AuditEntry.objects.get(action="topic.partitions", outcome="ok")
    assert entry.params == {"total": 5, "seen_partitions": 3}


# --- where the operations are, and who sees them ------------------------------------


def test_operations_tab_for_admins_on_writable_clusters_only(filled, kafka, client_for):
    detail = reverse("topics:detail", args=["local", filled])
    ops = reverse("topics:operations", args=["local", filled])
    admin = client_for("admin")
    page = html(admin.get(detail))
    assert f'href="{ops}"' in page
    # the Partitions tab everyone lands on holds no destructive control
    assert reverse("topics:purge", args=["local", filled]) not in page
    assert reverse("topics:delete", args=["local", filled]) not in page
    page = html(admin.get(ops))
    assert 'class="danger-zone"' in page
    for op in ("purge", "delete", "partitions_add"):
        assert reverse(f"topics:{op}", args=["local", filled]) in page
    for role in ("viewer", "operator"):
        c = client_for(role)
        assert f'href="{ops}"' not in html(c.get(detail))
        assert c.get(ops).status_code == 403
        assert c.get(reverse("topics:purge", args=["local", filled])).status_code == 403
        r = c.post(reverse("topics:delete", args=["local", filled]), {"confirm": filled})
        assert r.status_code == 403
    saved = all_clusters()
    reset_clusters([*saved, Cluster("ro", kafka.bootstrap_servers, read_only=True)])
    try:
        assert "/operations/" not in html(admin.get(reverse("topics:detail", args=["ro", filled])))
        r = admin.get(
            reverse("topics:purge", args=["ro", filled]), {"partitions": "0", "offset": 1}
        )
        assert r.status_code == 200 and "is read-only" in html(r)
        assert 'id="purge-confirm"' not in html(r)
        r = admin.post(
            reverse("topics:delete", args=["ro", filled]),
            {"seen_partitions": "3", "confirm": filled},
        )
        assert r.status_code == 403 and "read-only" in html(r)
    finally:
        reset_clusters(saved)
    assert AuditEntry.objects.filter(outcome="denied").count() >= 3
