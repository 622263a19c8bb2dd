"""The schema pages against a real Apicurio Registry (its Confluent-compatible API): list and
search, a subject with its diff, the compatibility check and its refusal with reasons,
registering, level changes and deletes (previewed, typed, audited), the refusals (role,
read-only cluster) and a registry that is down or hangs."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from console.messages.schema_registry import TIMEOUT_S
from console.models import AuditEntry
from tests.schemas.conftest import avro, unique_subject

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

JSON_SCHEMA = '{"type": "object", "properties": {"a": {"type": "string"}}}'
PROTO = 'syntax = "proto3";\npackage demo;\nmessage M { string a = 1; }\n'


def _url(name: str, *args: str, cluster: str = "sr") -> str:
    return reverse(f"schemas:{name}", args=[cluster, *args])


def test_subject_list_search_types_levels_and_topics(sr_clusters, registry_api, client_for, topic):
    prefix = unique_subject("list")
    registry_api.register(f"{topic}-value", avro("id"))
    registry_api.register(f"{prefix}-a", avro("id"))
    registry_api.register(f"{prefix}-a", avro("id", ("n", "int", 0)))
    registry_api.register(f"{prefix}-json", JSON_SCHEMA, "JSON")
    registry_api.register(f"{prefix}-proto", PROTO, "PROTOBUF")
    registry_api.set_level(f"{prefix}-json", "FULL")
    c = client_for("viewer")

    r = c.get(_url("list"), {"q": prefix.upper()})
    page = r.content.decode()
    assert r.status_code == 200 and "<html" in page
    rows = dict(re.findall(r'<tr data-subject="([^"]+)">(.*?)</tr>', page, re.S))
    assert sorted(rows) == [f"{prefix}-a", f"{prefix}-json", f"{prefix}-proto"]
    assert 'data-type="AVRO"' in rows[f"{prefix}-a"]
    assert re.search(r'class="num">2</td>', rows[f"{prefix}-a"])  # latest version
    assert 'data-type="JSON"' in rows[f"{prefix}-json"]
    assert 'data-level="FULL"' in rows[f"{prefix}-json"]
    assert 'data-type="PROTOBUF"' in rows[f"{prefix}-proto"]
    assert "3 subjects matching" in page

    # the topic-name strategy links a subject to its topic
    r = c.get(_url("list"), {"q": topic})
    assert f'href="/clusters/sr/topics/{topic}/" data-topic="{topic}"' in r.content.decode()

    # search as you type: the rows partial alone
    r = c.get(_url("list"), {"q": prefix}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "<html" not in r.content.decode()
    assert f'data-subject="{prefix}-json"' in r.content.decode()

    # the nav shows Schemas only for a cluster with a registry
    assert 'href="/clusters/sr/schemas/"' in page
    local = c.get(reverse("topics:list", args=["local"])).content.decode()
    assert "/schemas/" not in local
    assert c.get(reverse("schemas:list", args=["local"])).status_code == 404


def test_subject_page_versions_pretty_print_and_diff(sr_clusters, registry_api, client_for):
    s = unique_subject("detail")
    registry_api.register(s, avro("id"))
    registry_api.register(s, avro("id", ("age", "int", 0)))
    registry_api.register(s, avro("id", ("age", "long", 0)))
    c = client_for("viewer")
    page = c.get(_url("detail", s)).content.decode()
    # the latest, pretty-printed
    assert "&quot;name&quot;: &quot;age&quot;,\n" in page
    assert "&quot;type&quot;: &quot;long&quot;" in page
    # default diff: what the latest version changed (2 -> 3)
    diff = re.search(r'<table class="grid diff" id="diff-table">(.*?)</table>', page, re.S).group(1)
    assert re.search(r'<tr class="del">.*&quot;type&quot;: &quot;int&quot;', diff)
    assert re.search(r'<tr class="add">.*&quot;type&quot;: &quot;long&quot;', diff)
    # any two versions, also as the htmx fragment
    r = c.get(
        _url("detail", s), {"from": 1, "to": 3}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="diff"
    )
    frag = r.content.decode()
    assert "<html" not in frag and "version 1 → version 3" in frag
    assert len(re.findall(r'<tr class="add">', frag)) >= 5  # the whole age field
    # an older version shown
    page = c.get(_url("detail", s), {"version": 1}).content.decode()
    assert 'data-version="1">1</a>' in page and "Version 1 <span" in page
    assert "&quot;age&quot;" not in page.split('id="schema-text"')[1].split("</pre>")[0]
    # viewers see no change buttons
    assert "register-version" not in page and "danger-zone" not in page
    assert c.get(_url("detail", "no-such-subject-" + s)).status_code == 404


def test_references_are_listed(sr_clusters, registry_api, client_for):
    base = unique_subject("ref")
    registry_api.register(base, avro("id"))
    wrap = unique_subject("wrap")
    registry_api.call(
        "POST",
        f"/subjects/{wrap}/versions",
        {
            "schema": '{"type":"record","name":"Wrap","fields":[{"name":"u","type":"demo.User"}]}',
            "references": [{"name": "demo.User", "subject": base, "version": 1}],
        },
    )
    c = client_for("viewer")
    page = c.get(_url("detail", wrap)).content.decode()
    refs = re.search(r'id="references">(.*?)</table>', page, re.S).group(1)
    assert f'href="/clusters/sr/schemas/{base}/?version=1"' in refs
    page = c.get(_url("detail", base)).content.decode()
    assert 'id="referenced-by"' in page


def test_incompatible_change_is_refused_with_the_reason(sr_clusters, registry_api, client_for):
    s = unique_subject("compat")
    registry_api.register(s, avro("id"))
    registry_api.set_level(s, "BACKWARD")
    c = client_for("operator")
    bad = avro("id", ("age", "int", ...))  # a new field without a default
    r = c.post(_url("register", s), {"step": "check", "schema_type": "AVRO", "schema": bad})
    page = r.content.decode()
    assert r.status_code == 409
    assert 'data-compatible="false"' in page and "refuses it under BACKWARD" in page
    assert "is_compatible" in page  # the registry's own answer
    reasons = re.search(r'<ul id="(?:registry-)?reasons">(.*?)</ul>', page, re.S).group(1)
    assert "age" in reasons and "no default" in reasons and "version 1" in reasons
    assert 'id="register-confirm"' not in page
    assert registry_api.versions(s) == [1]
    # registering it anyway: the registry refuses, its message is shown, the attempt audited
    r = c.post(_url("register", s), {"step": "register", "schema_type": "AVRO", "schema": bad})
    assert r.status_code == 409
    assert "Incompatible" in r.content.decode() or "incompatible" in r.content.decode()
    assert registry_api.versions(s) == [1]
    entry = AuditEntry.objects.filter(action="schema.register", target=s).latest("at")
    assert entry.outcome == AuditEntry.Outcome.ERROR


def test_register_a_compatible_version_after_the_check(sr_clusters, registry_api, client_for):
    s = unique_subject("reg")
    registry_api.register(s, avro("id"))
    registry_api.set_level(s, "BACKWARD")
    c = client_for("operator")
    good = avro("id", ("age", "int", 0))
    r = c.post(_url("register", s), {"step": "check", "schema_type": "AVRO", "schema": good})
    page = r.content.decode()
    assert r.status_code == 200 and 'data-compatible="true"' in page
    assert 'id="register-confirm"' in page and f"Register {s} version 2" in page
    assert registry_api.versions(s) == [1]  # the check changed nothing
    r = c.post(_url("register", s), {"step": "register", "schema_type": "AVRO", "schema": good})
    assert r.status_code == 302 and r.url == _url("detail", s)
    assert registry_api.versions(s) == [1, 2]
    entry = AuditEntry.objects.get(action="schema.register", target=s)
    assert entry.outcome == AuditEntry.Outcome.OK and entry.after["version"] == 2
    audit = client_for("admin").get(reverse("console:audit"), {"q": s}).content.decode()
    assert "register schema version" in audit and f'href="{_url("detail", s)}"' in audit
    # an upload wins over the text box; a new subject from the list page
    from django.core.files.uploadedfile import SimpleUploadedFile

    new = unique_subject("new")
    upload = SimpleUploadedFile("x.json", JSON_SCHEMA.encode())
    r = c.post(
        _url("create"),
        {"step": "check", "subject": new, "schema_type": "JSON", "schema": "", "upload": upload},
    )
    assert r.status_code == 200 and f"{new} is a new subject" in r.content.decode()
    r = c.post(
        _url("create"),
        {"step": "register", "subject": new, "schema_type": "JSON", "schema": JSON_SCHEMA},
    )
    assert r.status_code == 302 and registry_api.versions(new) == [1]
    # bad input: a clear message, not a 500
    r = c.post(_url("register", s), {"step": "check", "schema_type": "AVRO", "schema": "{nope"})
    assert r.status_code == 400 and "is JSON, and this is not" in r.content.decode()
    r = c.post(
        _url("create"),
        {
            "step": "check",
            "subject": unique_subject("x"),
            "schema_type": "AVRO",
            "schema": '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "strin"}]}',
        },
    )
    assert r.status_code == 400 and "not a valid Avro schema" in r.content.decode()


def test_compatibility_level_preview_then_confirm(sr_clusters, registry_api, client_for):
    s = unique_subject("level")
    registry_api.register(s, avro("id"))
    registry_api.set_level(s, "BACKWARD")
    c = client_for("admin")
    r = c.get(_url("compatibility", s), {"level": "FULL_TRANSITIVE"})
    page = r.content.decode()
    assert r.status_code == 200 and 'id="level-preview"' in page
    assert "<code>BACKWARD</code>" in page and "<code>FULL_TRANSITIVE</code>" in page
    assert registry_api.level(s) == "BACKWARD"  # the preview changed nothing
    r = c.post(_url("compatibility", s), {"level": "FULL_TRANSITIVE", "seen": "BACKWARD"})
    assert r.status_code == 302
    assert registry_api.level(s) == "FULL_TRANSITIVE"
    entry = AuditEntry.objects.get(action="schema.compatibility", target=s)
    assert entry.before == {"level": "BACKWARD"} and entry.after == {"level": "FULL_TRANSITIVE"}
    # a confirmation based on a stale preview changes nothing
    r = c.post(_url("compatibility", s), {"level": "NONE", "seen": "BACKWARD"})
    assert r.status_code == 409 and "since the preview" in r.content.decode()
    assert registry_api.level(s) == "FULL_TRANSITIVE"
    # back to the global level: the subject's own level goes
    r = c.get(_url("compatibility", s), {"level": "GLOBAL"})
    assert r.status_code == 200 and "followed from now on" in r.content.decode()
    r = c.post(_url("compatibility", s), {"level": "GLOBAL", "seen": "FULL_TRANSITIVE"})
    assert r.status_code == 302
    global_level = registry_api.call("GET", "/config")["compatibilityLevel"]
    assert registry_api.level(s) == global_level
    # the global level has the same preview, without the "follow" choice
    assert c.get(_url("global_compatibility"), {"level": "GLOBAL"}).status_code == 400
    r = c.get(_url("global_compatibility"), {"level": "FORWARD"})
    assert r.status_code == 200 and 'id="level-preview"' in r.content.decode()
    # an unknown level is a message, not a 500
    assert c.get(_url("compatibility", s), {"level": "SIDEWAYS"}).status_code == 400


def test_soft_and_hard_delete_with_typed_confirmation(sr_clusters, registry_api, client_for):
    s = unique_subject("del")
    registry_api.register(s, avro("id"))
    registry_api.register(s, avro("id", ("n", "int", 0)))
    c = client_for("admin")
    r = c.get(_url("delete", s), {"version": 2})
    page = r.content.decode()
    assert r.status_code == 200 and 'id="delete-preview"' in page
    assert f"Type <code>{s} version 2</code> to confirm" in page
    # the wrong name: nothing happens
    r = c.post(_url("delete", s), {"version": 2, "confirm": s})
    assert r.status_code == 400 and "That is not it" in r.content.decode()
    assert registry_api.versions(s) == [1, 2]
    # soft delete of version 2
    r = c.post(_url("delete", s), {"version": 2, "confirm": f"{s} version 2"})
    assert r.status_code == 302
    assert registry_api.versions(s) == [1] and registry_api.versions(s, deleted=True) == [1, 2]
    page = c.get(_url("detail", s)).content.decode()
    assert 'class="gone"' in page and 'data-hard-delete="2"' in page
    # hard delete of it
    r = c.post(_url("delete", s), {"version": 2, "permanent": "on", "confirm": f"{s} version 2"})
    assert r.status_code == 302
    assert registry_api.versions(s, deleted=True) == [1]
    # the whole subject: a hard delete first is refused by the registry (shown, audited)
    r = c.post(_url("delete", s), {"permanent": "on", "confirm": s})
    assert r.status_code == 409 and 'id="problem"' in r.content.decode()
    assert registry_api.versions(s) == [1]
    r = c.post(_url("delete", s), {"confirm": s})
    assert r.status_code == 302 and registry_api.versions(s) == []
    # the list offers admins the hard delete of a soft-deleted subject
    page = c.get(_url("list"), {"q": s}).content.decode()
    assert f'data-hard-delete-subject="{s}"' in page and f'data-subject="{s}"' not in page
    r = c.post(_url("delete", s), {"permanent": "on", "confirm": s})
    assert r.status_code == 302 and registry_api.versions(s, deleted=True) == []
    actions = list(
        AuditEntry.objects.filter(target=s).order_by("at").values_list("action", "outcome")
    )
    assert actions == [
        ("schema.delete_version", "ok"),
        ("schema.delete_version", "ok"),
        ("schema.delete_subject", "error"),
        ("schema.delete_subject", "ok"),
        ("schema.delete_subject", "ok"),
    ]


def test_viewer_and_operator_are_refused_changes(sr_clusters, registry_api, client_for):
    s = unique_subject("role")
    registry_api.register(s, avro("id"))
    viewer, operator = client_for("viewer"), client_for("operator")
    good = avro("id", ("age", "int", 0))
    r = viewer.post(
        _url("register", s), {"step": "register", "schema_type": "AVRO", "schema": good}
    )
    assert r.status_code == 403 and "operator role" in r.content.decode()
    assert viewer.get(_url("register", s)).status_code == 403
    for c in (viewer, operator):
        r = c.post(_url("compatibility", s), {"level": "NONE", "seen": "NONE"})
        assert r.status_code == 403 and "admin role" in r.content.decode()
        r = c.post(_url("delete", s), {"confirm": s})
        assert r.status_code == 403
    assert registry_api.versions(s) == [1]
    denied = AuditEntry.objects.filter(target__contains=s, outcome=AuditEntry.Outcome.DENIED)
    assert denied.count() == 5


def test_read_only_cluster_refuses_every_change(sr_clusters, registry_api, client_for):
    s = unique_subject("ro")
    registry_api.register(s, avro("id"))
    c = client_for("admin")
    page = c.get(_url("detail", s, cluster="sr-ro")).content.decode()
    assert "read-only" in page and "register-version" not in page and "danger-zone" not in page
    good = avro("id", ("age", "int", 0))
    r = c.post(
        _url("register", s, cluster="sr-ro"),
        {"step": "register", "schema_type": "AVRO", "schema": good},
    )
    assert r.status_code == 403 and "read-only" in r.content.decode()
    before = registry_api.level(s)
    r = c.post(_url("compatibility", s, cluster="sr-ro"), {"level": "NONE", "seen": before})
    assert r.status_code == 403
    r = c.post(_url("delete", s, cluster="sr-ro"), {"confirm": s})
    assert r.status_code == 403
    assert registry_api.versions(s) == [1] and registry_api.level(s) == before
    assert (
        AuditEntry.objects.filter(cluster="sr-ro", outcome=AuditEntry.Outcome.DENIED).count() == 3
    )


@pytest.mark.parametrize("cluster", ["sr-down", "sr-slow"])
def test_registry_down_or_hung_is_a_visible_error_within_the_timeout(
    sr_clusters, client_for, cluster
):
    c = client_for("admin")
    for url in (_url("list", cluster=cluster), _url("detail", "x-value", cluster=cluster)):
        started = time.monotonic()
        r = c.get(url)
        elapsed = time.monotonic() - started
        page = r.content.decode()
        assert r.status_code == 503, page[:500]
        assert "Schema registry unreachable" in page and 'id="registry-error"' in page
        assert elapsed < TIMEOUT_S * 2 + 1, elapsed
    if cluster == "sr-slow":
        assert f"no answer within {TIMEOUT_S:g} s" in page
    # a change is a visible error too, and its failed attempt is audited
    started = time.monotonic()
    r = c.post(
        _url("register", "x-value", cluster=cluster),
        {"step": "register", "schema_type": "AVRO", "schema": avro("id")},
    )
    assert r.status_code == 503 and "Schema registry unreachable" in r.content.decode()
    assert time.monotonic() - started < TIMEOUT_S * 2 + 1
    entry = AuditEntry.objects.filter(cluster=cluster, action="schema.register").latest("at")
    assert entry.outcome == AuditEntry.Outcome.ERROR and "unreachable" in entry.detail
    # the topic page's subject line says so too, inside the fragment (200 for htmx)
    r = c.get(_url("for_topic", "orders", cluster=cluster), HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Schemas: schema registry unreachable" in r.content.decode()


def test_topic_page_links_its_subjects(sr_clusters, registry_api, client_for, topic):
    registry_api.register(f"{topic}-value", avro("id"))
    c = client_for("viewer")
    page = c.get(reverse("topics:detail", args=["sr", topic])).content.decode()
    assert f'hx-get="/clusters/sr/schemas/+topic/{topic}/"' in page
    frag = c.get(_url("for_topic", topic), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in frag
    assert f'href="/clusters/sr/schemas/{topic}-value/" data-part="value"' in frag
    assert 'data-part="key"' not in frag
    # without JavaScript: a page of its own
    page = c.get(_url("for_topic", topic)).content.decode()
    assert "<html" in page and f"{topic}-value" in page
    # the subject page links back to the topic
    page = c.get(_url("detail", f"{topic}-value")).content.decode()
    assert f'href="/clusters/sr/topics/{topic}/" id="subject-topic"' in page


def test_more_subjects_than_one_registry_answer_holds(sr_clusters, schema_registry, registry_api):
    """Apicurio answers at most 1,000 subjects per GET /subjects: the client pages."""
    from console.schemas import registry as reg

    for _ in range(3):
        registry_api.register(unique_subject("page"), avro("id"))
    client = reg.RegistryClient(schema_registry.url)
    full = client.subjects()
    saved = reg.SUBJECT_PAGE
    reg.SUBJECT_PAGE = 2  # pages of two: the same subjects, each once
    try:
        paged = client.subjects()
    finally:
        reg.SUBJECT_PAGE = saved
    assert sorted(paged) == sorted(full) and len(set(paged)) == len(paged) >= 3


def test_topics_using_a_record_name_subject_are_found_in_recent_messages(
    sr_clusters, registry_api, client_for, topic, produce
):
    subject = unique_subject("demo.rn")  # the record-name strategy: no topic in the name
    schema_id = registry_api.register(subject, avro("id"))
    framed = b"\x00" + schema_id.to_bytes(4, "big") + b"\x02a"
    other = b"\x00" + (999999).to_bytes(4, "big") + b"\x02a"
    produce(topic, [{"key": framed, "value": framed}, {"value": framed}, {"value": other}])
    c = client_for("viewer")
    page = c.get(_url("detail", subject)).content.decode()
    assert f'hx-get="/clusters/sr/schemas/{subject}/usage/"' in page
    frag = c.get(_url("usage", subject), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in frag
    rows = dict(re.findall(r'<tr data-topic="([^"]+)" data-part="value">(.*?)</tr>', frag, re.S))
    assert topic in rows and '<td class="num">2</td>' in rows[topic]
    assert f'<tr data-topic="{topic}" data-part="key">' in frag
    assert f"schema id {schema_id}" in frag
