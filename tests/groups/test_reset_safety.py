"""Offset resets do exactly what was previewed, once: an empty topic or partition list never
means "all"; the confirmation carries the previewed offsets, signed and bound to the group's
committed offsets at preview time; a repeated, altered or stale confirmation changes nothing."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.core import signing
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.groups import committed_offsets
from console.kafka.topics import records_delete
from console.models import AuditEntry, Job
from groups import services
from tests.conftest import unique, wait_job

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def offsets_of(group):
    return committed_offsets(get_cluster("local"), [group])[group]


def signed(page: str) -> str:
    m = re.search(r'name="plan" value="([^"]+)"', page)
    assert m, page[-3000:]
    return m.group(1)


def field_block(page: str, name: str) -> str:
    """The form field's block: its label, input, help and errors."""
    m = re.search(rf'<div class="op-field" data-field="{name}">(.*?)</div>', page, re.S)
    assert m, f"no field {name}"
    return m.group(1)


@pytest.fixture
def setup(topic_factory, produce, commit):
    """A 2-partition topic with 10 messages each; a group (no members) at 5 and 5."""
    t = topic_factory(partitions=2)
    produce(t, [{"value": b"m", "partition": p} for p in (0, 1) for _ in range(10)])
    group = unique("safe")
    commit(group, {(t, 0): 5, (t, 1): 5})
    return t, group


def test_an_empty_topic_or_partition_list_is_a_400_naming_the_field(setup, client_for):
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    c = client_for("operator")
    cases = [
        ({"target": "earliest"}, "topic", "Choose a topic, or tick “all topics"),
        ({"target": "earliest", "topic": ""}, "topic", "an empty topic never means all"),
        ({"target": "earliest", "topic": t}, "partitions", "Choose the partitions"),
        ({"target": "earliest", "topic": t, "partitions": ""}, "partitions", "all partitions"),
        (
            {"target": "earliest", "all_topics": "on", "topic": t},
            "topic",
            "not both",
        ),
        (
            {"target": "earliest", "topic": t, "partitions": "0", "all_partitions": "on"},
            "partitions",
            "Either list partitions",
        ),
    ]
    for query, field, text in cases:
        for method in ("get", "post"):
            r = getattr(c, method)(url + "?" + urlencode(query))
            page = r.content.decode()
            assert r.status_code == 400, (query, method, r.status_code)
            assert text in field_block(page, field), (query, method)
            assert "confirm-reset" not in page and 'name="plan"' not in page
    assert not Job.objects.exists()
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 5}
    # Explicit choices preview: one partition, or all of them, or all the group's topics.
    one = c.get(url, {"target": "earliest", "topic": t, "partitions": "1"}).content.decode()
    assert f'data-tp="{t}:1"' in one and f'data-tp="{t}:0"' not in one
    every = c.get(url, {"target": "earliest", "all_topics": "on"}).content.decode()
    assert f'data-tp="{t}:0"' in every and f'data-tp="{t}:1"' in every


@pytest.mark.celery
def test_a_double_submitted_shift_moves_the_offsets_once(celery_worker, setup, client_for):
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    query = {"topic": t, "all_partitions": "on", "target": "shift", "shift": "-2"}
    c = client_for("operator")
    preview = c.get(url, query).content.decode()
    confirm = url + "?" + urlencode(query)
    first = c.post(confirm, {"plan": signed(preview)})
    assert first.status_code == 302 and "/jobs/" in first.url
    # The same confirmation again, before and after the worker ran it: refused both times.
    again = c.post(confirm, {"plan": signed(preview)})
    assert again.status_code == 409, again.content.decode()[-2000:]
    assert "confirmed already" in again.content.decode()
    job = wait_job(first.url.rstrip("/").split("/")[-1])
    assert job.state == "succeeded", job.error
    assert offsets_of(group) == {(t, 0): 3, (t, 1): 3}
    late = c.post(confirm, {"plan": signed(preview)})
    page = late.content.decode()
    assert late.status_code == 409 and "Nothing was changed" in page
    # ... with a fresh preview from where the offsets are now: 3 - 2 = 1
    assert re.search(rf'data-tp="{t}:0">.*?<td class="num new">1</td>', page, re.S)
    assert Job.objects.count() == 1
    assert offsets_of(group) == {(t, 0): 3, (t, 1): 3}


def test_offsets_committed_since_the_preview_refuse_the_confirmation(setup, client_for, commit):
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    query = {"topic": t, "partitions": "0", "target": "latest"}
    c = client_for("operator")
    preview = c.get(url, query).content.decode()
    commit(group, {(t, 1): 7})  # a consumer of the group committed meanwhile
    r = c.post(url + "?" + urlencode(query), {"plan": signed(preview)})
    page = r.content.decode()
    assert r.status_code == 409 and "committed other offsets since the preview" in page
    assert 'name="plan"' in page  # a fresh preview to confirm instead
    assert not Job.objects.exists()
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 7}


def test_an_altered_confirmation_is_a_400_and_changes_nothing(setup, client_for, commit):
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    query = {"topic": t, "all_partitions": "on", "target": "earliest"}
    confirm = url + "?" + urlencode(query)
    c = client_for("operator")
    token = signed(c.get(url, query).content.decode())
    payload = signing.loads(token, salt="groups.reset.confirm")
    assert payload["offsets"] == {f"{t}:0": 0, f"{t}:1": 0}
    forged = [
        token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),  # the signature
        token.replace(token[5], "x" if token[5] != "x" else "y", 1),  # the payload
        # the payload re-signed without the console's key (and other offsets)
        signing.dumps(
            {**payload, "offsets": {f"{t}:0": 9, f"{t}:1": 9}},
            key="not-the-secret",
            salt="groups.reset.confirm",
            compress=True,
        ),
    ]
    for plan in forged:
        r = c.post(confirm, {"plan": plan})
        assert r.status_code == 400, r.content.decode()[-2000:]
        assert "was altered" in r.content.decode()
    # A genuine confirmation of another group's preview is no key to this group either.
    other = unique("other")
    commit(other, {(t, 0): 5})
    theirs = signed(c.get(reverse("groups:reset", args=["local", other]), query).content.decode())
    r = c.post(confirm, {"plan": theirs})
    assert r.status_code == 400 and "belongs to another preview" in r.content.decode()
    # ... nor of another choice on this group (the query is part of what was signed)
    r = c.post(url + "?" + urlencode({**query, "target": "latest"}), {"plan": token})
    assert r.status_code == 400 and "belongs to another preview" in r.content.decode()
    assert not Job.objects.exists()
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 5}


@pytest.mark.celery
def test_earliest_previewed_then_purged_is_refused_with_a_fresh_preview(
    celery_worker, setup, client_for
):
    """Choice: refuse. The previewed earliest (0) no longer exists once records below 4 are
    deleted; committing it would hand the choice to the consumer's auto.offset.reset (which
    may be "latest" and skip everything), and moving to the new log start instead would
    apply something nobody previewed. So: 409, nothing changed, a fresh preview (4)."""
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    query = {"topic": t, "all_partitions": "on", "target": "earliest"}
    confirm = url + "?" + urlencode(query)
    c = client_for("operator")
    stale = signed(c.get(url, query).content.decode())
    records_delete(get_cluster("local"), name=t, before={0: 4})
    r = c.post(confirm, {"plan": stale})
    page = r.content.decode()
    assert r.status_code == 409, page[-2000:]
    assert f"{t}[0] now holds offsets 4–10, so the previewed 0 is gone" in page
    assert re.search(rf'data-tp="{t}:0">.*?<td class="num new">4</td>', page, re.S)
    assert not Job.objects.exists() and offsets_of(group) == {(t, 0): 5, (t, 1): 5}
    # The fresh preview confirms exactly what it shows.
    r = c.post(confirm, {"plan": signed(page)})
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert wait_job(r.url.rstrip("/").split("/")[-1]).state == "succeeded"
    assert offsets_of(group) == {(t, 0): 4, (t, 1): 0}
    entry = AuditEntry.objects.get(action="group.reset", outcome="ok")
    assert entry.before == {f"{t}:0": 5, f"{t}:1": 5} and entry.after == {f"{t}:0": 4, f"{t}:1": 0}


def test_the_worker_refuses_a_plan_whose_group_changed_and_lands_a_repeat(setup, make_user):
    """The task checks again when it runs (two confirmations posted at the same instant
    both pass the web check): the second finds the first's offsets and changes nothing."""
    t, group = setup
    cluster = get_cluster("local")
    user = make_user("operator")
    plan = services.reset_plan(
        cluster=cluster,
        group_id=group,
        spec=services.ResetSpec(target="shift", topic=t, value=-2),
    )
    offsets = {(r.topic, r.partition): r.new for r in plan.rows}
    params = {"seen_offsets": plan.seen_offsets}
    services.group_offsets_reset(
        user=user, cluster=cluster, group_id=group, offsets=offsets, params=params
    )
    # the same plan again: already landed, so nothing moves further
    services.group_offsets_reset(
        user=user, cluster=cluster, group_id=group, offsets=offsets, params=params
    )
    assert offsets_of(group) == {(t, 0): 3, (t, 1): 3}
    # a plan from a preview the group has moved away from is refused
    with pytest.raises(services.GroupChanged, match="committed other offsets"):
        services.group_offsets_reset(
            user=user,
            cluster=cluster,
            group_id=group,
            offsets={(t, 0): 0, (t, 1): 0},
            params=params,
        )
    assert offsets_of(group) == {(t, 0): 3, (t, 1): 3}


def test_timestamps_are_typed_as_shown_24_hour_utc(setup, client_for):
    t, group = setup
    url = reverse("groups:reset", args=["local", group])
    c = client_for("operator")
    base = {"topic": t, "all_partitions": "on", "target": "timestamp"}
    for when in ("2020-11-25 19:55:14", "2020-11-25T19:55:14Z", "2020-11-25 19:55:14 UTC"):
        r = c.get(url, {**base, "timestamp": when})
        page = r.content.decode()
        assert r.status_code == 200, (when, page[-2000:])
        assert 'value="2020-11-25 19:55:14"' in page  # shown back as pages show times
    page = c.get(url).content.decode()
    assert 'type="datetime-local"' not in page and 'placeholder="2026-11-25 19:55:14"' in page
    assert "UTC, 24-hour" in field_block(page, "timestamp")
