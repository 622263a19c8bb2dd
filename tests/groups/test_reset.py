"""Offset resets through preview, confirm and a real Celery worker: exact offsets land."""

import re
import time
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.groups import committed_offsets
from console.models import AuditEntry, Job
from groups.services import ResetSpec, reset_plan
from tests.conftest import unique, wait_job

pytestmark = [pytest.mark.kafka, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def offsets_of(group):
    return committed_offsets(get_cluster("local"), [group])[group]


@pytest.fixture
def setup(topic_factory, produce, commit):
    """A 2-partition topic with 10 messages each at known timestamps, a group at 5 and 5."""
    t = topic_factory(partitions=2)
    base = int(time.time() * 1000) - 100_000
    produce(
        t,
        [
            {"value": b"m", "partition": p, "timestamp": base + i * 1000}
            for p in (0, 1)
            for i in range(10)
        ],
    )
    group = unique("reset")
    commit(group, {(t, 0): 5, (t, 1): 5})
    return t, group, base


def confirmation(page: str) -> str:
    """The signed preview a confirm form carries."""
    m = re.search(r'name="plan" value="([^"]+)"', page)
    assert m, page[-3000:]
    return m.group(1)


def run_reset(client, group, params):
    url = reverse("groups:reset", args=["local", group])
    preview = client.get(url, params)
    alerts = re.findall(r'role="alert"[^>]*>(.*?)</', preview.content.decode(), re.S)
    assert preview.status_code == 200, alerts
    r = client.post(url + "?" + urlencode(params), {"plan": confirmation(preview.content.decode())})
    assert r.status_code == 302, r.content.decode()[-2000:]
    return wait_job(r.url.rstrip("/").split("/")[-1])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"target": "earliest"}, {0: 0, 1: 0}),
        ({"target": "latest"}, {0: 10, 1: 10}),
        ({"target": "offset", "offset": "7"}, {0: 7, 1: 7}),
        ({"target": "offset", "offset": "99"}, {0: 10, 1: 10}),  # clamped to the end
        ({"target": "shift", "shift": "-2"}, {0: 3, 1: 3}),
        ({"target": "shift", "shift": "50"}, {0: 10, 1: 10}),  # shift past the end: clamped
        ({"target": "shift", "shift": "-50"}, {0: 0, 1: 0}),
    ],
)
def test_reset_targets_land_exact_offsets(celery_worker, setup, client_for, params, expected):
    t, group, _ = setup
    job = run_reset(client_for("operator"), group, {"topic": t, "all_partitions": "on", **params})
    assert job.state == "succeeded", job.error
    assert offsets_of(group) == {(t, p): o for p, o in expected.items()}


def test_timestamp_between_two_messages_and_one_partition(celery_worker, setup, client_for):
    t, group, base = setup
    import datetime as dt

    # 3.5 s after the first record: the first at or after it is offset 4
    when = dt.datetime.fromtimestamp((base + 3500) / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    # the input has second precision: base+3500 rounds down to base+3000 -> offset 3
    job = run_reset(
        client_for("operator"),
        group,
        {"topic": t, "partitions": "1", "target": "timestamp", "timestamp": when},
    )
    assert job.state == "succeeded", job.error
    committed = offsets_of(group)
    assert committed[(t, 0)] == 5  # untouched: not in the chosen partitions
    second = (base + 3500) // 1000 * 1000
    assert committed[(t, 1)] == -(-(second - base) // 1000)


def test_copy_from_another_group(celery_worker, setup, client_for, commit):
    t, group, _ = setup
    source = unique("src")
    commit(source, {(t, 0): 2, (t, 1): 8})
    job = run_reset(
        client_for("operator"),
        group,
        {"target": "copy", "source_group": source, "all_topics": "on"},
    )
    assert job.state == "succeeded", job.error
    assert offsets_of(group) == {(t, 0): 2, (t, 1): 8}


def test_preview_says_what_was_clamped(setup, client_for):
    t, group, _ = setup
    page = client_for("operator").get(
        reverse("groups:reset", args=["local", group]),
        {"topic": t, "all_partitions": "on", "target": "offset", "offset": "99"},
    )
    html = page.content.decode()
    assert "asked 99, clamped to the log end" in html
    assert "2 targets fell outside" in html
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 5}  # a preview changes nothing


def test_reset_of_an_active_group_is_refused_clearly(setup, client_for, live_members):
    t, _, _ = setup
    group = unique("busy")
    live_members(group, t, 2)
    c = client_for("operator")
    query = {"topic": t, "all_partitions": "on", "target": "earliest"}
    page = c.get(reverse("groups:reset", args=["local", group]), query).content.decode()
    assert f"Group {group} has 2 active members" in page and "stop them first" in page
    assert "confirm-reset" not in page and 'name="plan"' not in page
    r = c.post(reverse("groups:reset", args=["local", group]) + "?" + urlencode(query))
    assert r.status_code == 400 and not Job.objects.exists()


def test_undo_restores_and_the_task_is_idempotent(celery_worker, setup, client_for):
    from groups.tasks import group_offsets_reset

    t, group, _ = setup
    c = client_for("operator")
    job = run_reset(c, group, {"topic": t, "all_partitions": "on", "target": "earliest"})
    assert offsets_of(group) == {(t, 0): 0, (t, 1): 0}
    entry = AuditEntry.objects.get(action="group.reset", outcome="ok")
    assert entry.before == {f"{t}:0": 5, f"{t}:1": 5}
    assert entry.after == {f"{t}:0": 0, f"{t}:1": 0}
    # run the same job's task again: a finished job is not run twice ...
    group_offsets_reset(job_id=str(job.id))
    assert AuditEntry.objects.filter(action="group.reset").count() == 1
    # ... and the same absolute offsets applied again change nothing
    Job.objects.filter(id=job.id).update(state="queued")
    group_offsets_reset(job_id=str(job.id))
    assert offsets_of(group) == {(t, 0): 0, (t, 1): 0}
    # undo: preview shows the way back, confirm restores it
    undo = reverse("groups:undo", args=["local", group, entry.id])
    page = c.get(undo).content.decode()
    assert "undo the reset" in page
    r = c.post(undo, {"plan": confirmation(page)})
    assert wait_job(r.url.rstrip("/").split("/")[-1]).state == "succeeded"
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 5}


def test_bad_input_answers_400_with_the_form_as_page_and_fragment(setup, client_for):
    t, group, _ = setup
    url = reverse("groups:reset", args=["local", group])
    c = client_for("operator")
    for params, error in [
        ({"target": "offset"}, "Give the offset to move to"),
        ({"target": "offset", "offset": "-1"}, "greater than or equal to 0"),
        ({"target": "timestamp", "timestamp": "2999-01-01T00:00"}, "in the future"),
        ({"target": "timestamp", "timestamp": "yesterday"}, "is not a date and time"),
        ({"target": "earliest", "partitions": "0"}, "Choose a topic"),
        ({"target": "earliest", "topic": t, "partitions": "0-9"}, "has 2 partitions"),
        ({"target": "earliest", "topic": "nope-topic", "all_partitions": "on"}, "does not exist"),
        ({"target": "bogus"}, "Select a valid choice"),
    ]:
        query = url + "?" + urlencode(params)
        for method, htmx in [("get", False), ("get", True), ("post", False), ("post", True)]:
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            r = getattr(c, method)(query, **headers)
            page = r.content.decode()
            where = (params, method, htmx, r.status_code)
            assert r.status_code == 400 and error in page, where
            assert 'id="reset-form"' in page, where  # the form, shown again
            assert ("<html" in page) is not htmx, where  # htmx: only the fragment
            assert "confirm-reset" not in page, where
    assert not Job.objects.exists()  # nothing was queued
    assert client_for("viewer").get(url, {"target": "earliest"}).status_code == 403
    plan = reset_plan(
        cluster=get_cluster("local"), group_id=group, spec=ResetSpec(target="earliest", topic=t)
    )
    assert [r.new for r in plan.rows] == [0, 0]


def test_preview_fragment_for_htmx(setup, client_for):
    t, group, _ = setup
    url = reverse("groups:reset", args=["local", group])
    r = client_for("operator").get(
        url, {"topic": t, "all_partitions": "on", "target": "latest"}, HTTP_HX_REQUEST="true"
    )
    page = r.content.decode()
    assert r.status_code == 200 and "<html" not in page
    assert 'id="preview-table"' in page and 'id="confirm-reset"' in page


def test_confirm_without_input_or_with_nothing_to_reset_answers_400(setup, client_for):
    t, group, _ = setup
    url = reverse("groups:reset", args=["local", group])
    c = client_for("operator")
    r = c.post(url)  # a confirm with no query at all
    assert r.status_code == 400 and "This field is required" in r.content.decode()
    # copying from a group with no commits leaves nothing to reset: no confirm to post
    query = {"target": "copy", "source_group": unique("none"), "all_topics": "on"}
    page = c.get(url, query).content.decode()
    assert "No partition to reset" in page and "confirm-reset" not in page
    r = c.post(url + "?" + urlencode(query))
    page = r.content.decode()
    assert r.status_code == 400 and "carries no preview" in page and 'id="reset-form"' in page
    assert not Job.objects.exists()
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 5}
