"""A viewer never sees message contents, anywhere; a masked role never sees what is masked.

Messages carry unique markers: CANARY in keys, values and headers (contents: a viewer must
not see it), MASKJSON in a JSON field that a masking rule hides, MASKRE where a masking
regex hides it (key, value, header; text and binary). With a produce job, a generator job
and an offset-reset job done, every URL of the URL conf is requested, as GET (also as an
htmx request) and as POST, with query strings that ask for contents (seek newest/oldest,
every decoder, searches, downloads, skew samples), and the live tail is opened; no body
and no WebSocket frame may hold a marker the reader may not see: as text, hex or base64,
or cut short.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest
from confluent_kafka import Consumer
from django.test import Client
from django.urls import reverse

from console.clusters import all_clusters, load_clusters, reset_clusters
from console.models import AuditEntry
from tests.conftest import start_asgi_server, unique, wait_job
from tests.hardening.canary import Frames, Marker, fill, leaks, url_patterns

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

CANARY = Marker.new("CANARY")
MASKJSON = Marker.new("MASKJSON")
MASKRE = Marker.new("MASKRE")
ALL = [CANARY, MASKJSON, MASKRE]
MASKED = [MASKJSON, MASKRE]

# Each walk must check at least this many bodies (the viewer walks two clusters; the masked
# operator one): a walk that shrinks fails loudly. 431 and 264 when written.
MIN_BODIES = {"viewer": 380, "masked operator": 230}
# POSTs that would really change something for a role allowed to make them (an undo runs a
# reset, a worker check queues a job): posted only by roles that are refused.
MUTATING_POSTS = {"groups:undo", "console:worker_check"}


def clusters_file(tmp_path, bootstrap: str):
    """A second name for the test broker, with masking rules (only a file can give them)."""
    f = tmp_path / "canary-clusters.toml"
    f.write_text(
        f"""
[[clusters]]
name = "canary"
bootstrap_servers = "{bootstrap}"
[[clusters.masking]]
topics = "cnr-.*"
json_paths = ["$.card.number"]
[[clusters.masking]]
topics = "cnr-.*"
regex = "MASKRE-[0-9a-f]{{16}}"
"""
    )
    return f


def canary_messages() -> list[dict]:
    c, mj, mr = CANARY.text, MASKJSON.text, MASKRE.text
    card = {"card": {"number": mj, "exp": "12/30"}, "note": c}
    return [
        # a hot key: the skew tab's top key
        *(
            {"key": c, "value": json.dumps({**card, "n": i}), "headers": [("trace", c)]}
            for i in range(30)
        ),
        {"key": c, "value": f"plain {c} text", "headers": [("trace", c), ("masked", mr)]},
        {"key": f"id {mr}", "value": json.dumps({**card, "tag": mr}), "headers": [("m", mr)]},
        {"key": f"id {mr}", "value": f"ssn {mr} and {c}"},
        {"key": b"\xff" + mr.encode(), "value": b"\xff\xfe " + mr.encode() + b" " + c.encode()},
        {
            "key": b"\xfe" + c.encode(),
            "value": b"\x00\x01" + c.encode(),
            "headers": [("b", b"\xff" + mr.encode())],
        },
        {"key": None, "value": json.dumps({"card": {"number": mj}})},
        # JSON may escape any character: the regex must still find the marker
        {"key": None, "value": json.dumps({"tag": mr}).replace("M", "\\u004d")},
    ]


def consumed_by_group(bootstrap: str, topic: str, group: str, count: int) -> None:
    """Read the topic's `count` messages as a member of `group` and commit, as a real
    consumer would."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        c.subscribe([topic])
        seen = 0
        deadline = time.monotonic() + 30
        while seen < count:
            assert time.monotonic() < deadline, f"the group read {seen} of {count}"
            seen += sum(m.error() is None for m in c.consume(100, timeout=0.5))
        c.commit(asynchronous=False)
    finally:
        c.close()


def variants(name: str, topic: str) -> list[dict[str, str]]:
    """Query strings for a URL name: the plain page, and for pages that can show contents,
    everything that asks for them."""
    c, mj, mr = CANARY.probe, MASKJSON.probe, MASKRE.probe
    decoders = [
        {"value_format": f, "key_format": f} for f in ("auto", "text", "json", "hex", "base64")
    ]
    searches = [
        {"q": c},
        {"q": c, "mode": "oldest"},
        {"q": c, "field": "any"},
        {"q": c, "field": "key"},
        {"q": c, "field": "header", "header": "trace"},
        {"q": f"{c}.*", "kind": "regex"},
        {"q": f"({c}", "kind": "regex"},  # a bad regular expression
        {"q": "$.card.number", "kind": "jsonpath"},
        {"q": mj, "field": "any"},
        {"q": mr, "field": "any", "mode": "oldest"},
        {"q": f"{mj}.*", "kind": "regex", "field": "any"},
        *({"q": c, "field": "any", **d} for d in decoders),
    ]
    pages = [
        {},
        {"mode": "newest"},
        {"mode": "oldest", "limit": "500"},
        {"mode": "offset", "offset": "0", "partitions": "0-2"},
        {"mode": "timestamp", "timestamp": "2000-01-01T00:00:00"},
        *({"mode": "oldest", **d} for d in decoders),
    ]
    return {
        "topics:messages": pages + searches,
        "topics:messages_search": searches,
        "topics:messages_download": [
            {"format": f, **q}
            for f in ("jsonl", "csv")
            for q in [*pages[1:], {"mode": "oldest", "q": c, "field": "any"}, {"q": mj}]
        ],
        "topics:skew": [{}, {"sample": "10"}, {"sample": "5000"}],
        "topics:produce_preview": [{}, {"key": "k"}, {"null_key": "1"}],
        "topics:list": [{}, {"q": topic}],
        "groups:reset": [{}, {"topic": topic, "all_partitions": "on", "target": "earliest"}],
        "console:audit": [{}, {"action": "produce.message"}, {"cluster": "local"}],
    }.get(name, [{}])


class Walk:
    """Requests as one user; every body is checked for the markers it must not hold."""

    def __init__(self, client: Client, forbidden: list[Marker], role: str) -> None:
        self.client = client
        self.forbidden = forbidden
        self.role = role
        self.bodies = 0
        self.found: list[str] = []
        self.statuses: dict[int, int] = {}

    def check(self, what: str, response) -> str:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.bodies += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        assert response.status_code != 500, f"{what} as {self.role}: 500"
        # A redirect's target is shown to the user too.
        text = body.decode("utf-8", errors="replace") + response.get("Location", "")
        self.found += [
            f"{what} ({response.status_code}): {hit}" for hit in leaks(text, self.forbidden)
        ]
        return text

    def get(self, url: str, query: dict | None = None, *, htmx: bool = False) -> str:
        full = url + (f"?{urlencode(query)}" if query else "")
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": full} if htmx else {}
        text = self.check(
            f"GET {full}{' (htmx)' if htmx else ''}", self.client.get(full, **headers)
        )
        # A search chunk names the next one: follow the chain as the page would.
        for _ in range(20):
            m = re.search(r'id="search-next" hx-get="([^"]+)"', text)
            if not m:
                break
            nxt = m.group(1).replace("&amp;", "&")
            text = self.check(f"GET {nxt}", self.client.get(nxt, HTTP_HX_REQUEST="true"))
        return text

    def post(self, url: str) -> None:
        self.check(f"POST {url}", self.client.post(url, {}))

    def every_url(self, samples: dict[str, list], topic: str, may_mutate: bool) -> None:
        for name, route in sorted(url_patterns().items()):
            for url in fill(route, samples):
                for query in variants(name, topic):
                    self.get(url, query)
                    if name != "topics:messages_download":
                        self.get(url, query, htmx=True)
                # Logging out would turn the rest of the walk anonymous.
                if name != "logout" and not (may_mutate and name in MUTATING_POSTS):
                    self.post(url)


@pytest.fixture
def canary(kafka, topic_factory, produce, make_user, celery_worker, tmp_path):
    """The canary topic on cluster 'local' and on 'canary' (masked), read by a group, with a
    produce job, a generator job and an offset reset done; the samples for every URL."""
    saved = all_clusters()
    file = clusters_file(tmp_path, kafka.bootstrap_servers)
    reset_clusters([*saved, *load_clusters(environ={}, file=str(file))])
    try:
        topic = topic_factory(unique("cnr"), partitions=3)
        sent = canary_messages()
        produce(topic, sent)
        group = unique("cnr-readers")
        consumed_by_group(kafka.bootstrap_servers, topic, group, len(sent))

        producer = Client()
        producer.force_login(make_user("operator"))
        jobs = []
        r = producer.post(
            reverse("topics:produce_message", args=["local", topic]),
            {
                "key": CANARY.text,
                "value": json.dumps({"card": {"number": MASKJSON.text}, "note": CANARY.text}),
                "value_format": "json",
                "compression": "none",
                "header_name_0": "trace",
                "header_value_0": CANARY.text,
            },
        )
        assert r.status_code == 302, r.content.decode()[-2000:]
        jobs.append(r.url.rstrip("/").split("/")[-1])
        r = producer.post(
            reverse("topics:produce_generate", args=["local", topic]),
            {
                "template": "custom",
                "key_template": CANARY.text,
                "value_template": f'{{"card": {{"number": "{MASKJSON.text}"}}, "n": {{{{seq}}}}}}',
                "count": "5",
            },
        )
        assert r.status_code == 302, r.content.decode()[-2000:]
        jobs.append(r.url.rstrip("/").split("/")[-1])
        reset_url = (
            reverse("groups:reset", args=["local", group])
            + f"?topic={topic}&all_partitions=on&target=earliest"
        )
        preview = producer.get(reset_url).content.decode()
        signed = re.search(r'name="plan" value="([^"]+)"', preview)
        assert signed, preview[-2000:]
        r = producer.post(reset_url, {"plan": signed.group(1)})
        assert r.status_code == 302, r.content.decode()[-2000:]
        jobs.append(r.url.rstrip("/").split("/")[-1])
        for job_id in jobs:
            job = wait_job(job_id)
            # The walk needs the job pages, whatever their end; a failed generator still
            # shows its page (and its error, which must not hold contents either).
            assert job.state == "succeeded" or job.kind == "produce.generate", (job.kind, job.error)
        reset = AuditEntry.objects.get(action="group.reset", target=group, outcome="ok")
        samples = {
            "topic": [topic],
            "group": [group],
            "broker_id": [1],
            "job_id": jobs,
            "audit_id": [reset.id],
            "connect": ["main"],
            "name": ["canary-connector"],
            "verb": ["pause"],
            "task": [0],
            "subject": [f"{topic}-value"],
        }
        yield topic, group, samples, file
    finally:
        reset_clusters(saved)


def client_as(make_user, role: str) -> Client:
    c = Client()
    c.force_login(make_user(role))
    return c


def test_no_url_shows_a_viewer_contents_or_a_masked_role_what_is_masked(canary, make_user):
    t0 = time.monotonic()
    topic, _group, samples, _file = canary

    # Controls: the markers are there for readers allowed to see them, so the walks below
    # cannot pass for want of anything to find.
    messages = reverse("topics:messages", args=["local", topic])
    page = client_as(make_user, "operator").get(messages, {"mode": "oldest"}).content.decode()
    assert all(m.text in page for m in ALL)
    masked_page = (
        client_as(make_user, "operator")
        .get(reverse("topics:messages", args=["canary", topic]), {"mode": "oldest"})
        .content.decode()
    )
    assert CANARY.text in masked_page and "***" in masked_page
    skew = client_as(make_user, "operator").get(reverse("topics:skew", args=["local", topic]))
    assert CANARY.text in skew.content.decode()

    viewer = Walk(client_as(make_user, "viewer"), ALL, "viewer")
    viewer.every_url({**samples, "cluster": ["local", "canary"]}, topic, may_mutate=False)
    masked = Walk(client_as(make_user, "operator"), MASKED, "masked operator")
    masked.every_url({**samples, "cluster": ["canary"]}, topic, may_mutate=True)

    print(
        f"\ncanary walk: {viewer.bodies} bodies as viewer {viewer.statuses}, "
        f"{masked.bodies} as masked operator {masked.statuses}, "
        f"{time.monotonic() - t0:.0f} s"
    )
    assert not viewer.found, "a viewer saw message contents:\n" + "\n".join(viewer.found)
    assert not masked.found, "a masked role saw masked data:\n" + "\n".join(masked.found)
    for walk in (viewer, masked):
        assert walk.bodies >= MIN_BODIES[walk.role], f"the {walk.role} walk shrank"
        # still logged in at the end: the walk did not go on as anonymous
        assert walk.client.get(reverse("console:clusters")).status_code == 200
    assert masked.statuses.get(200, 0) >= MIN_BODIES["masked operator"] // 2
    # Jobs and the audit log: a viewer opens neither (a produce job holds the value).
    for job_id in samples["job_id"]:
        assert viewer.client.get(reverse("console:job", args=[job_id])).status_code == 404
    assert viewer.client.get(reverse("console:audit")).status_code == 403
    # An admin's audit log records a produced message's key, size and header names, never
    # the value (MASKJSON is only in values).
    audit = client_as(make_user, "admin").get(reverse("console:audit")).content.decode()
    assert "produce.message" in audit and not leaks(audit, [MASKJSON])
    # Searching finds what is not masked, but a masked value cannot be found by searching.
    chunk = masked.client.get(
        reverse("topics:messages_search", args=["canary", topic]),
        {"q": CANARY.probe, "field": "any", "mode": "oldest"},
    ).content.decode()
    assert 'class="msg"' in chunk
    for q in (MASKJSON.probe, MASKRE.probe):
        chunk = masked.client.get(
            reverse("topics:messages_search", args=["canary", topic]),
            {"q": q, "field": "any", "mode": "oldest"},
        ).content.decode()
        assert 'class="msg"' not in chunk, f"searching {q} found masked messages"


def test_the_tail_refuses_viewers_and_masks_for_a_masked_role(canary, make_user, produce, tmp_path):
    topic, _group, _samples, file = canary
    proc, base = start_asgi_server(tmp_path, CONSOLE_CLUSTERS_FILE=str(file))
    ws = "ws" + base[len("http") :]
    sockets: list[Frames] = []

    def open_(role_client: Client, cluster: str, query: dict | None = None) -> Frames:
        session = role_client.cookies["sessionid"].value
        url = f"{ws}/ws/clusters/{cluster}/topics/{topic}/tail/"
        f = Frames(url + (f"?{urlencode(query)}" if query else ""), session, base)
        sockets.append(f)
        return f

    try:
        viewer = client_as(make_user, "viewer")
        refused = [
            open_(viewer, cluster, q)
            for cluster in ("local", "canary")
            for q in (None, {"q": CANARY.probe}, {"value_format": "hex"})
        ]
        op = client_as(make_user, "operator")
        plain = open_(op, "canary")
        decoded = [
            open_(op, "canary", {"value_format": f, "key_format": f})
            for f in ("text", "json", "hex", "base64")
        ]
        found = open_(op, "canary", {"q": CANARY.probe, "field": "any"})
        probes = [
            open_(op, "canary", {"q": MASKJSON.probe, "field": "any"}),
            open_(op, "canary", {"q": MASKRE.probe, "field": "any"}),
            open_(op, "canary", {"q": f"{MASKRE.probe}.*", "kind": "regex", "field": "any"}),
        ]
        live = [plain, *decoded, found, *probes]
        for f in live:
            f.wait(lambda f: any(x.get("state") == "live" for x in f.parsed()), 30, "tail live")
        sent = canary_messages()
        produce(topic, sent)
        for f in [plain, *decoded]:
            f.wait(lambda f: len(f.rows()) >= len(sent), 30, "every message tailed")
        hot = sum(1 for m in sent if m["key"] == CANARY.text)
        found.wait(lambda f: len(f.rows()) >= hot, 30, "the canary found")
        time.sleep(1)  # anything late would land now
        for f in refused:
            f.wait(lambda f: f.closed, 20, "a viewer's tail closed")
            frames = f.parsed()
            assert f.close_code == 4403 and [x["type"] for x in frames] == ["error"], frames
            assert not leaks(f.text(), ALL)
        for f in live:
            assert not leaks(f.text(), MASKED), f"{f.url}: {leaks(f.text(), MASKED)}"
        assert CANARY.text in plain.text()  # the operator does see what is not masked
        for f in probes:
            assert not f.rows(), f"{f.url} found masked messages"
        print(f"\ncanary tail: {len(sockets)} sockets checked")
    finally:
        for f in sockets:
            f.close()
        proc.stop()
