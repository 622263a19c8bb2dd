"""Bad input on every route: no 5xx, and what the door refuses says why.

Every URL in the URL conf (walked as in test_url_roles), as an operator and as an admin,
gets control characters, NUL, invalid UTF-8 and 100 KB values in each path argument, in
each query parameter the view reads and in each form field a POST view reads (url-encoded
and multipart). The names a view reads are found by watching it: a first request records
every lookup in request.GET and request.POST, so a new field is walked without editing
this file. Control characters and invalid UTF-8 must be refused by BadInputMiddleware
(400 with the reason: tab, CR and LF are fine in a form body); nothing may answer 5xx.

The last tests check the WebSocket side: an unknown path and a path with a NUL byte are
closed during the handshake, both in-process and behind a real web process.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import re
import time
import uuid
from urllib.parse import quote, unquote

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.http import QueryDict
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from console.middleware import CONTROL, pairs_problem, raw_path_problem, text_problem
from tests.hardening.test_url_roles import RULES, URLS, samples, url_for  # noqa: F401

# (label, percent-encoded value, refused in the path and query, refused in a form body)
BAD = [
    ("NUL", "a%00b", True, True),
    ("SOH", "%01", True, True),
    ("ESC", "a%1B%5B2J", True, True),
    ("tab", "a%09b", True, False),
    ("LF", "a%0Ab", True, False),
    ("CRLF", "a%0D%0Ab", True, False),
    ("DEL", "a%7Fb", True, True),
    ("invalid UTF-8", "%FF%FE", True, True),
    ("lone surrogate", "a%ED%A0%80b", True, True),
    ("overlong UTF-8", "%C0%AF", True, True),
    ("C1 control", "a%C2%85b", False, False),
    ("non-ASCII", "%C3%BC%F0%9F%98%80", False, False),
    ("100 KB", "x" * 100_000, False, False),
]
REASON = re.compile(rb"contains a control character|not valid UTF-8")
ROLES = ["operator", "admin"]
# Form data that passes a POST view's other checks, so a bad value in one field travels as
# far as it can. Never for delete: a valid confirmation would delete the sample.
BASE = {
    "topics:create": {"name": f"bad-input-{uuid.uuid4().hex[:8]}", "partitions": "1",
                      "replication": "1"},
    "topics:config_edit": {"name": "retention.ms", "value": "86400000"},
    "topics:produce_message": {"value": "v", "value_format": "text", "compression": "none"},
    "topics:produce_generate": {"template": "custom", "value_template": "v", "count": "1"},
}  # fmt: skip
# The probes answer ahead of every middleware and read no input. /readyz answers 503 while
# the process is not ready (here: no Celery worker), whatever the input: that is its meaning.
BEFORE_THE_DOOR = {"healthz", "readyz", "metrics"}
NOT_READY = {"readyz": 503}
STATUSES: collections.Counter[int] = collections.Counter()

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """Print how many requests the walk sent and what they answered (even without -s)."""
    yield
    if STATUSES:
        line = (
            f"bad-input walk: {sum(STATUSES.values())} requests, "
            f"status counts {dict(sorted(STATUSES.items()))}"
        )
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n{line}")


@pytest.fixture
def group(kafka, topic):
    """A real consumer group with committed offsets (and no members) on the sample topic."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    loading = {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._WAIT_COORD,
    }

    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    c = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": name})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                c.commit(
                    offsets=[TopicPartition(topic, p, 0) for p in range(3)], asynchronous=False
                )
                return name
            except KafkaException as exc:  # a fresh broker: the coordinator is still loading
                if exc.args[0].code() not in loading or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        c.close()


@contextlib.contextmanager
def lookups():
    """Every (QueryDict id, key) looked up while the block runs."""
    seen: list[tuple[int, str]] = []

    def recorder(original):
        def method(self, key, *args, **kwargs):
            seen.append((id(self), key))
            return original(self, key, *args, **kwargs)

        return method

    with pytest.MonkeyPatch.context() as mp:
        for name in ("get", "getlist", "__getitem__", "__contains__"):
            mp.setattr(QueryDict, name, recorder(getattr(QueryDict, name)))
        yield seen


def multipart_text(encoded: str) -> str | None:
    """The value as text for a multipart field; None when it is not valid UTF-8."""
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return None


class Walk:
    """Sends requests as one user, counts statuses, collects failures."""

    def __init__(self, client: Client, user) -> None:
        self.client = client
        self.user = user
        self.failures: list[str] = []
        self.sent = 0
        self.name = ""  # the URL name being walked

    def check(self, what: str, response, must_refuse: bool) -> None:
        self.sent += 1
        status = response.status_code
        STATUSES[status] += 1
        if status >= 500 and status != NOT_READY.get(self.name):
            self.failures.append(f"{what}: {status}")
        elif self.name in BEFORE_THE_DOOR:
            pass
        elif must_refuse and not (status == 400 and REASON.search(response.content)):
            self.failures.append(f"{what}: {status}, not 400 with the reason")

    def send(self, method: str, url: str, what: str, must_refuse: bool, **kwargs) -> None:
        response = getattr(self.client, method.lower())(url, **kwargs)
        self.check(what, response, must_refuse)
        if "/accounts/logout/" in url:  # a walk goes on logged in
            self.client.force_login(self.user)


def names_read(walk: Walk, admin, url: str, method: str) -> tuple[set[str], set[str]]:
    """The query parameters and form fields the view behind `url` reads (seen as an admin,
    with clean input: a 5xx here is a failure of the walk too)."""
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    with lookups() as seen:
        if method == "GET":
            response = client.get(f"{url}?_probe=1")
        else:
            response = client.post(f"{url}?_probe=1", {"_probe": "1"})
    walk.check(f"{method} {walk.name} clean, as admin", response, must_refuse=False)
    request = response.wsgi_request
    get_id, post_id = id(request.GET), id(getattr(request, "_post", None))
    query = {k for i, k in seen if i == get_id and isinstance(k, str)} - {"_probe"}
    form = {k for i, k in seen if i == post_id and isinstance(k, str)} - {"_probe"}
    return query, form


def values(first: bool, body: bool = False):
    """(label, value, must be refused): every value for the first name of its kind on a route;
    for the others, NUL (refused at the door like every control) and the values that reach
    the view: non-ASCII, 100 KB, and in a form body tab, LF and CRLF."""
    for label, value, refused, refused_in_body in BAD:
        must_refuse = refused_in_body if body else refused
        textarea = body and refused and not refused_in_body  # tab, LF, CRLF
        if first or label in {"NUL", "non-ASCII", "100 KB"} or textarea:
            yield label, value, must_refuse


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_to_bad_input(role, samples, group, make_user):  # noqa: F811
    samples = {**samples, "group": group, "group_id": group}
    user, admin = make_user(role), make_user("admin")
    # Like test_url_roles, the test client does not enforce CSRF; a 500 is a response here.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    walk = Walk(client, user)
    # The door runs before any role check: the first role meets every refused value on the
    # first name of each kind, the next NUL only (and every value that reaches the view).
    full = role == ROLES[0]
    started = time.monotonic()
    for name, pattern in sorted(URLS.items()):
        url = url_for(pattern, samples)
        args = re.findall(r"<(?:\w+:)?(\w+)>", pattern)
        walk.name = name
        for method in RULES.get(name, ("GET", "POST")):  # a URL without a rule yet: both
            query_names, form_names = names_read(walk, admin, url, method)
            where = f"{method} {name}"
            for i, arg in enumerate(args):
                for label, value, refuse in values(first=full and i == 0):
                    bad_url = url_for(pattern, {**samples, arg: value})
                    walk.send(method, bad_url, f"{where} <{arg}>={label}", refuse)
            for i, q in enumerate(sorted(query_names or {"q"})):
                for label, value, refuse in values(first=full and i == 0):
                    walk.send(method, f"{url}?{q}={value}", f"{where} ?{q}={label}", refuse)
            if method != "POST":
                continue
            base = BASE.get(name, {})
            for i, field in enumerate(sorted(form_names | {"csrfmiddlewaretoken"})):
                for label, value, refuse in values(first=full and i == 0, body=True):
                    body = "&".join(f"{k}={v}" for k, v in {**base, field: value}.items())
                    walk.send(
                        method,
                        url,
                        f"{where} form {field}={label} (url-encoded)",
                        refuse,
                        data=body,
                        content_type="application/x-www-form-urlencoded",
                    )
                    # Multipart takes another path through the door (Django parses the
                    # body first); the view sees the same data as above.
                    text = multipart_text(value)
                    if text is not None and ((full and i == 0) or label == "NUL"):
                        walk.send(
                            method,
                            url,
                            f"{where} form {field}={label} (multipart)",
                            refuse,
                            data={**base, field: text},
                        )
    elapsed = time.monotonic() - started
    print(f"{role}: {walk.sent} requests in {elapsed:.1f} s")
    assert not walk.failures, f"{len(walk.failures)} of {walk.sent} failed:\n" + "\n".join(
        walk.failures[:40]
    )


# --- the door itself ------------------------------------------------------------------


@given(st.text())
def test_text_is_refused_exactly_when_it_holds_a_control_character(text):
    problem = text_problem(text, "The value")
    assert bool(problem) == bool(CONTROL.search(text) or re.search("[\ud800-\udfff]", text))
    assert bool(text_problem(text, "The value", body=True)) == bool(
        re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]", text)
    )


def test_messages_say_where_and_what_but_never_echo_a_form_value():
    assert pairs_problem(b"password=s3cret%00", body=True) == (
        "The form field 'password' contains a control character (U+0000 NUL) at position 7; "
        "remove it and try again."
    )
    assert "s3cret" not in pairs_problem(b"password=s3cret%ff", body=True)
    assert "not valid UTF-8" in pairs_problem(b"q=%ff%fe", body=False)
    assert "'a\\x00b'" in raw_path_problem(b"/clusters/local/topics/a\x00b/")
    assert "not valid UTF-8" in raw_path_problem(b"/clusters/\xff\xfe/")
    assert "100000 characters long" in raw_path_problem(b"/clusters/" + b"x" * 100_000)
    assert pairs_problem(b"value=line+1%0D%0A%09line+2", body=True) == ""
    assert "U+000A line feed" in pairs_problem(b"q=a%0Ab", body=False)


# --- legitimate input still works ----------------------------------------------------


def test_tabs_and_newlines_reach_the_produce_form(samples, client_for):  # noqa: F811
    """Url-encoded and multipart (with a file, which is never checked) alike."""
    from console.models import Job

    c = client_for("operator")
    url = f"/clusters/local/topics/{samples['topic']}/produce/message/"
    value = "line 1\r\n\tline 2 ünï 😀\n"
    data = {
        "value": value,
        "value_format": "text",
        "compression": "none",
        "header_name_0": "trace",
        "header_value_0": "a\tb",
    }
    r = c.post(url, data)
    assert r.status_code == 302, r.content[-2000:]
    with open(__file__, "rb") as fh:  # any file: multipart uploads still parse
        r = c.post(url, {**data, "attachment": fh})
    assert r.status_code == 302, r.content[-2000:]
    r = c.post(
        url,
        "value=line+1%0D%0A%09line+2&value_format=text&compression=none",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 302, r.content[-2000:]
    assert Job.objects.filter(target=samples["topic"]).count() == 3


def test_a_nul_in_a_topic_url_is_a_400_that_says_why(samples, client_for):  # noqa: F811
    c = client_for("admin")
    for suffix in ["", "configs/", "messages/", "produce/", "tail/", "skew/"]:
        r = c.get(f"/clusters/local/topics/a%00b/{suffix}")
        assert r.status_code == 400, suffix
        html = r.content.decode()
        assert "contains a control character (U+0000 NUL)" in html
    r = c.get("/clusters/local/topics/a%00b/", headers={"HX-Request": "true"})
    assert r.status_code == 400 and b"<html" not in r.content  # htmx: the panel only


def test_the_kafka_door_maps_a_refused_argument_to_invalid_request(kafka):
    from console.clusters import get_cluster
    from console.kafka.client import admin_for
    from console.kafka.cluster import cluster_snapshot
    from console.kafka.errors import InvalidRequest

    for topic in ["a\x00b", "a\udc80b"]:
        with pytest.raises(InvalidRequest, match="the Kafka client refused the input"):
            cluster_snapshot(get_cluster("local"), topic=topic)
    # Longer than Kafka's int16-length strings: refused before it reaches the connection.
    with pytest.raises(InvalidRequest, match="of 100000 bytes"):
        admin_for(get_cluster("local")).describe_consumer_groups(["g" * 100_000])


def test_guarded_clients_keep_len_bool_and_with():
    from confluent_kafka import Consumer, Producer

    from console.kafka.client import Guarded

    raw = Producer({"bootstrap.servers": "127.0.0.1:9", "log_level": 0})
    p = Guarded(raw)
    p.produce("t", b"x")
    assert len(p) == len(raw) > 0  # the local queue: what produce_stream waits on
    assert bool(p) is bool(raw)
    p.purge()
    c = Guarded(Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "g", "log_level": 0}))
    with c as same:
        assert same is c


def test_an_overlong_group_id_in_a_form_is_refused_and_the_cluster_stays_reachable(
    samples,  # noqa: F811
    group,
    client_for,
):
    """A group id in a query (the reset's copy source) has no URL length bound: the door to
    Kafka refuses it, so the shared connection is never dropped (on the old code every page
    answered "cluster unreachable" for seconds after such a request)."""
    c = client_for("operator")
    c.raise_request_exception = False
    started = time.monotonic()
    r = c.get(
        f"/clusters/local/groups/{group}/reset/",
        {
            "topic": samples["topic"],
            "all_partitions": "on",
            "target": "copy",
            "source_group": "g" * 100_000,
        },
    )
    assert r.status_code == 400 and "Kafka takes at most 32767" in r.content.decode()
    assert c.get(f"/clusters/local/groups/{group}/").status_code == 200
    assert time.monotonic() - started < 3


# --- WebSockets ---------------------------------------------------------------------


def ws_connect(path: bytes, query: bytes = b"") -> tuple[bool, int | None]:
    from console.asgi import application

    async def go():
        communicator = WebsocketCommunicator(
            application, path.decode("latin-1"), headers=[(b"origin", b"http://127.0.0.1")]
        )
        communicator.scope["raw_path"] = path
        communicator.scope["path"] = unquote(path.decode("latin-1"))
        communicator.scope["query_string"] = query
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(go)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "query"),
    [
        (b"/ws/nowhere/", b""),
        (b"/ws/clusters/local/topics/t/tail/extra/", b""),
        (b"/", b""),
        (b"/ws/clusters/local/topics/a%00b/tail/", b""),
        (b"/ws/clusters/local/topics/%FF%FE/tail/", b""),
        (b"/ws/clusters/local/topics/t/tail/", b"q=a%00b"),
    ],
)
def test_websocket_bad_or_unknown_path_is_closed_in_the_handshake(path, query):
    # A thread of its own: a browser test earlier in the session leaves Playwright's event
    # loop in this one, where async_to_sync refuses to run.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        connected, _code = pool.submit(ws_connect, path, query).result(timeout=60)
    assert connected is False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_process_refuses_bad_paths_with_a_reason_and_unknown_websockets_without_a_500(
    asgi_server,
):
    """Behind a real ASGI server the door reads the raw path (scope["raw_path"])."""
    import requests
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    for path, reason in [
        ("/clusters/local/topics/%FF%FE/", "not valid UTF-8"),
        ("/clusters/local/topics/a%ED%A0%80b/", "not valid UTF-8"),
        ("/clusters/local/topics/a%00b/", "control character (U+0000 NUL)"),
        ("/clusters/local/topics/?q=a%1Bb", "control character (U+001B ESC)"),
    ]:
        r = requests.get(f"{asgi_server}{path}", timeout=15, allow_redirects=False)
        assert r.status_code == 400 and reason in r.text, (path, r.status_code)
    ws = "ws" + asgi_server[len("http") :]
    for path in ["/ws/nowhere/", "/ws/clusters/local/topics/a%00b/tail/"]:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{ws}{path}", origin=asgi_server, open_timeout=10)
        assert refused.value.response.status_code == 403, path


def test_a_deeply_nested_json_path_literal_is_refused_not_a_500(samples, client_for):  # noqa: F811
    c = client_for("operator")
    c.raise_request_exception = False
    q = quote("$.a == " + "[" * 993)  # under the filter's 1000 characters
    for suffix in ["messages/", "messages/search/", "messages/download/", "tail/"]:
        r = c.get(f"/clusters/local/topics/{samples['topic']}/{suffix}?kind=jsonpath&q={q}")
        assert r.status_code < 500, (suffix, r.status_code)
