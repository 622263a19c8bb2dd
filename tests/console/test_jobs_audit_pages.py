"""Job pages and the audit log as a person reads them: words, tables and links, never a
Python dict; the job's final step named truthfully; filters and pagers in the URL."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from console.models import AuditEntry, Job
from tests.conftest import unique, wait_job

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

# What a Python dict, list or repr looks like when printed into a page.
REPR = re.compile(r"\{'|': |\[\('|\bNone\b|\bTrue\b|\bFalse\b|&#x27;: ")


def no_repr(page: str) -> None:
    body = page.split("<main>", 1)[-1]
    assert not REPR.search(body), REPR.search(body).group(0) + " in " + body[:3000]


def words(page: str) -> str:
    """The page's text, tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" :", ":")


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


@pytest.fixture
def operator(make_user):
    return make_user("operator")


def job_page(client, job) -> str:
    r = client.get(reverse("console:job", args=[job.id]))
    assert r.status_code == 200, r.content.decode()[-2000:]
    return r.content.decode()


def test_a_produced_message_links_to_its_partition_and_offset_in_the_browser(
    kafka, client, operator
):
    secret = "hush-" + unique()
    job = Job.objects.create(
        kind="produce.message",
        cluster="local",
        target="orders",
        created_by=operator,
        state=Job.State.SUCCEEDED,
        params={
            "key": base64.b64encode(b"k1").decode(),
            "value": base64.b64encode(secret.encode()).decode(),
            "headers": [["trace", base64.b64encode(secret.encode()).decode()]],
        },
        result={"partition": 2, "offset": 17, "timestamp_ms": 1764100514000},
    )
    client.force_login(operator)
    page = job_page(client, job)
    assert "Succeeded: delivered to partition 2 at offset 17." in words(page)
    assert "/clusters/local/topics/orders/messages/?mode=offset&partitions=2&offset=17&limit=1" in (
        hrefs(page)
    )
    assert "/clusters/local/topics/orders/" in hrefs(page)  # back to the topic
    assert "2025-11-25 19:55:14 UTC" in page  # the timestamp in ISO UTC
    assert '<progress id="job-progress" value="1" max="1">' in page
    assert 'id="cluster-switch"' in page  # the header's navigation, as on other pages
    assert 'class="step-ok"' in page and ">Succeeded<" in page
    assert secret not in page and base64.b64encode(secret.encode()).decode() not in page
    no_repr(page)


@pytest.mark.parametrize(
    ("state", "result", "error", "outcome"),
    [
        (
            Job.State.SUCCEEDED,
            {"delivered": 1500, "failed": 0, "cancelled": False, "not_sent": 0},
            "",
            "Succeeded: delivered 1,500 events to 3 partitions of clicks.",
        ),
        (
            Job.State.CANCELLED,
            {"delivered": 1234, "failed": 0, "cancelled": True, "not_sent": 8766},
            "",
            "Cancelled: 1,234 delivered, 8,766 not sent.",
        ),
        (
            Job.State.FAILED,
            {
                "delivered": 10,
                "failed": 2,
                "cancelled": False,
                "not_sent": 9988,
                "errors": {"Broker: Message size too large": 2},
            },
            "2 event(s) failed: 2 × Broker: Message size too large.",
            "Failed: 10 delivered, 2 failed, 9,988 not sent.",
        ),
    ],
)
def test_a_generator_job_names_its_final_step_and_counts_per_partition(
    kafka, client, operator, state, result, error, outcome
):
    per = {"0": 500, "1": 500, "2": 500} if state == Job.State.SUCCEEDED else {"0": 10}
    job = Job.objects.create(
        kind="produce.generate",
        cluster="local",
        target="clicks",
        created_by=operator,
        state=state,
        params={"total": 10000 if state != Job.State.SUCCEEDED else 1500},
        progress={"sent": 1500, "delivered": result["delivered"], "total": 10000},
        result={**result, "per_partition": per, "events_per_s": 1234, "resumed_from": 0},
        error=error,
    )
    client.force_login(operator)
    page = job_page(client, job)
    assert outcome in words(page)
    assert f'data-state="{state}"' in page and "<progress" in page
    assert 'id="job-per-partition"' in page
    assert "/clusters/local/topics/clicks/messages/?mode=newest&partitions=0" in hrefs(page)
    if error:
        assert "Why it failed:" in page and "Message size too large" in page
        assert 'id="job-errors"' in page  # the errors as a table, counted
    no_repr(page)


def test_a_reset_job_shows_before_and_after_per_partition_with_links(kafka, client, operator):
    group = unique("g")
    job = Job.objects.create(
        kind="group.reset",
        cluster="local",
        target=group,
        created_by=operator,
        state=Job.State.SUCCEEDED,
        params={
            "request": {"topic": "orders", "all_partitions": "on", "target": "shift"},
            "offsets": {"orders:0": 3, "orders:1": 8},
            "before": {"orders:0": 5, "orders:1": None},
            "seen_offsets": "abc",
            "confirmation": "once-1",
        },
        result={"group": group, "offsets": {"orders:0": 3, "orders:1": 8}},
    )
    client.force_login(operator)
    page = job_page(client, job)
    assert f"Succeeded: committed 2 offsets for group {group}." in words(page)
    row0 = re.search(r'<tr data-key="orders:0">(.*?)</tr>', page, re.S).group(1)
    assert ">5<" in row0 and ">3<" in row0 and "-2" in row0
    row1 = re.search(r'<tr data-key="orders:1">(.*?)</tr>', page, re.S).group(1)
    assert "no commit" in row1 and ">8<" in row1
    links = hrefs(page)
    assert f"/clusters/local/groups/{group}/" in links
    assert "/clusters/local/topics/orders/messages/?mode=offset&partitions=0&offset=3&limit=50" in (
        links
    )
    no_repr(page)


def test_a_worker_check_shows_brokers_as_a_table_and_a_running_job_polls(kafka, client, operator):
    done = Job.objects.create(
        kind="cluster_probe",
        cluster="local",
        created_by=operator,
        state=Job.State.SUCCEEDED,
        result={
            "brokers": [{"id": 1, "host": "127.0.0.1", "port": 9092, "rack": None}],
            "topics": 12,
            "partitions": 40,
            "elapsed_s": 0.0123,
        },
    )
    running = Job.objects.create(
        kind="produce.generate",
        cluster="local",
        target="clicks",
        created_by=operator,
        state=Job.State.RUNNING,
        progress={"sent": 400, "delivered": 300, "failed": 0, "rate_per_s": 99, "total": 1000},
    )
    client.force_login(operator)
    page = job_page(client, done)
    assert 'id="job-brokers"' in page and "127.0.0.1" in page and "/brokers/1/" in page
    no_repr(page)
    page = job_page(client, running)
    assert 'hx-trigger="every 1s"' in page and 'value="300" max="1000"' in page
    assert 'data-fact="delivered" data-value="300"' in page and "300 of 1,000" in page
    assert 'aria-current="step"' in page and 'id="job-cancel"' in page
    fragment = client.get(
        reverse("console:job", args=[running.id]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in fragment and 'id="job-status"' in fragment
    # cancelling while queued: nothing ran, and the page says so
    queued = Job.objects.create(
        kind="produce.generate", cluster="local", target="clicks", created_by=operator
    )
    r = client.post(reverse("console:job_cancel", args=[queued.id]), HTTP_HX_REQUEST="true")
    page = r.content.decode()
    assert "<html" not in page and 'id="job"' in page
    assert "Cancelled: before it started: nothing was sent." in words(page)
    assert 'class="step-todo">Running' in page
    r = client.post(reverse("console:job_cancel", args=[queued.id]))  # without script
    assert r.status_code == 302 and r.url == reverse("console:job", args=[queued.id])


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_job_page_link_opens_exactly_the_produced_message(
    celery_worker, topic_factory, client_for
):
    t = topic_factory(partitions=4)
    c = client_for("operator")
    for i in range(3):
        r = c.post(
            reverse("topics:produce_message", args=["local", t]),
            {"key": f"k{i}", "value": f"v{i}", "value_format": "text", "compression": "none"},
        )
        assert r.status_code == 302, r.content.decode()[-2000:]
    job = wait_job(r.url.rstrip("/").split("/")[-1])
    assert job.state == "succeeded", job.error
    page = c.get(r.url).content.decode()
    link = next(h for h in hrefs(page) if "mode=offset" in h)
    browsed = c.get(link).content.decode()
    got = re.findall(r'data-partition="(\d+)" data-offset="(\d+)"', browsed)
    assert got == [(str(job.result["partition"]), str(job.result["offset"]))]
    assert "v2" in browsed


# --- the audit log -------------------------------------------------------------------


def entry(**kw) -> AuditEntry:
    defaults = {"cluster": "local", "username": "ann", "outcome": "ok", "action": "topic.create"}
    return AuditEntry.objects.create(**{**defaults, **kw})


def audit(client, **query) -> tuple[int, str]:
    r = client.get(reverse("console:audit"), query)
    return r.status_code, r.content.decode()


def test_audit_entries_read_as_words_links_and_coloured_outcomes(kafka, client_for):
    long = "orders." + ".".join(["segment"] * 30)
    entry(action="topic.create", target=long, params={"partitions": 3, "configs": ["a=1"]})
    entry(
        action="group.reset",
        target="billing",
        params={"request": {"topic": "orders", "target": "earliest"}, "offsets": {"orders:0": 0}},
        before={"orders:0": 5},
        after={"orders:0": 0},
    )
    entry(action="POST topics:purge", target="/clusters/local/topics/x/purge/", outcome="denied")
    entry(action="topic.delete", target="gone", outcome="error", detail="Broker said no")
    status, page = audit(client_for("admin"))
    assert status == 200
    no_repr(page)
    links = hrefs(page)
    assert f"/clusters/local/topics/{long}/" in links and "/clusters/local/groups/billing/" in links
    assert "<wbr>" in page  # the long name can wrap at its dots
    assert '<dl class="kv"><dt>configs</dt><dd>a=1</dd><dt>partitions</dt><dd>3</dd></dl>' in page
    assert "target = earliest, topic = orders" in page
    assert re.search(r"orders:0</td><td class=\"num\">5</td><td class=\"num\">0</td>", page)
    for outcome, word, css in (("ok", "ok", "ok"), ("denied", "refused", "warn")):
        assert f'<span class="pill {css}">{word}</span>' in page, outcome
    assert '<span class="pill bad">error</span>' in page and "Broker said no" in page
    when = timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%d")
    assert re.search(rf'<span class="stamp"><time datetime="{when}T[^"]+Z">{when} ', page)
    assert " ago</time>" in page


def test_audit_filters_say_when_nothing_matches_and_pages_keep_them(kafka, client_for):
    c = client_for("admin")
    for i in range(120):
        entry(action="produce.message", target=f"t{i}", username="bob" if i % 2 else "ann")
    entry(action="group.delete", target="needle-group", outcome="error", username="cy")
    status, page = audit(c, q="needle")
    assert status == 200 and "needle-group" in page and "t1<" not in page
    status, page = audit(c, username="cy", outcome="error", action="group.delete", cluster="local")
    assert "needle-group" in page
    status, page = audit(c, username="nobody-at-all")
    assert status == 200 and "No entry matches these filters" in page
    status, page = audit(c, action="produce.message", username="bob")
    assert page.count('class="pager"') == 2  # above and below
    nxt = next(h for h in hrefs(page) if "page=2" in h)
    assert "action=produce.message" in nxt and "username=bob" in nxt
    status, page2 = audit(c, action="produce.message", username="bob", page=2)
    assert "page 2 of 2" in page2 and "51–60 of 60" in page2
    fragment = c.get(
        reverse("console:audit"), {"username": "bob"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in fragment and 'id="audit-table"' in fragment
