"""The HTTP side's one-hop handler (console/asgi_handler.py): Django's answers, with the
middleware and the view on one worker thread per request, requests never waiting for each
other, streams sent and closed, signals sent once."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.core import signals
from django.test import override_settings

from console.asgi_handler import OneHopASGIHandler
from tests.console import asgi_urls
from tests.console.asgi_urls import on_own_loop

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(path: str, query: str = "", method: str = "GET") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


async def _call(app, path: str, query: str = "") -> tuple[int, dict, bytes]:
    sent: list[dict] = []
    body = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if body:
            return body.pop()
        await asyncio.sleep(3600)  # no disconnect while the answer is made

    async def send(message):
        sent.append(message)

    await app(_scope(path, query), receive, send)
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def app():
    with override_settings(ROOT_URLCONF="tests.console.asgi_urls"):
        yield OneHopASGIHandler()


def test_answers_as_django_does(app):
    status, headers, body = on_own_loop(_call(app, "/fast/"))
    assert (status, body) == (200, b"fast")
    # The whole middleware chain ran: its headers are on the answer.
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_a_slow_request_never_holds_up_another(app):
    async def both():
        t0 = time.monotonic()
        slow = asyncio.create_task(_call(app, "/slow/", "s=1.5"))
        await asyncio.sleep(0.05)
        fast = await _call(app, "/fast/")
        fast_s = time.monotonic() - t0
        return fast, fast_s, await slow

    fast, fast_s, slow = on_own_loop(both())
    assert fast[2] == b"fast" and slow[2] == b"slow"
    assert fast_s < 1.0  # answered while the slow one still slept


def test_a_stream_is_sent_whole_then_closed(app):
    asgi_urls.CLOSED.clear()
    status, headers, body = on_own_loop(_call(app, "/stream/"))
    assert (status, body) == (200, b"one,two")
    assert headers["content-type"] == "text/csv"
    assert asgi_urls.CLOSED == ["stream"]


def test_a_fault_is_the_error_page_not_a_crash(app):
    with override_settings(DEBUG=False, DEBUG_PROPAGATE_EXCEPTIONS=False):
        status, _headers, body = on_own_loop(_call(app, "/fault/"))
    assert status == 500
    assert b"boom" not in body  # no traceback to the client


def test_request_signals_are_sent_once_per_request(app):
    seen: list[str] = []

    def started(**_):
        seen.append("started")

    def finished(**_):
        seen.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        on_own_loop(_call(app, "/fast/"))
        on_own_loop(_call(app, "/stream/"))
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert seen == ["started", "finished", "started", "finished"]


def test_the_application_uses_it_unless_told_otherwise():
    import console.asgi

    assert isinstance(console.asgi.django_asgi_app, OneHopASGIHandler)


def test_a_stream_is_sent_as_it_is_made_and_stops_when_the_client_leaves(app):
    """Each chunk reaches the client before the next is made (never the whole download in
    memory), and a client that leaves stops the reading."""
    asgi_urls.FIRST_SENT.clear()
    got: list[bytes] = []
    left = asyncio.Event()

    asked: list[int] = []

    async def receive():
        asked.append(1)
        if len(asked) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            got.append(message["body"])
            asgi_urls.FIRST_SENT.set()
            if len(got) >= 5:
                left.set()

    async def run():
        got.clear()
        await asyncio.wait_for(app(_scope("/live/"), receive, send), 10)

    on_own_loop(run())
    assert got[:2] == [b"first;", b"second;"]
    assert len(got) < 50  # stopped soon after the client left


def test_a_cluster_that_hangs_holds_only_its_own_bulkhead(monkeypatch):
    """CONSOLE_HTTP_CONCURRENCY requests of one cluster run at once; the next waits for one
    of them, holding no thread; another cluster's pages and the rest go on meanwhile."""
    monkeypatch.setenv("CONSOLE_HTTP_CONCURRENCY", "2")
    with override_settings(ROOT_URLCONF="tests.console.asgi_urls"):
        app = OneHopASGIHandler()

        async def run():
            t0 = time.monotonic()

            async def timed(path, query=""):
                await _call(app, path, query)
                return time.monotonic() - t0

            hung = [asyncio.create_task(timed("/clusters/a/slow/", "s=1")) for _ in range(3)]
            await asyncio.sleep(0.05)
            other = await timed("/clusters/b/slow/", "s=0.1")
            rest = await timed("/fast/")
            return sorted(await asyncio.gather(*hung)), other, rest

        hung, other, rest = on_own_loop(run())
    assert other < 0.5 and rest < 0.5  # not behind cluster a
    assert hung[1] < 1.5 and hung[2] >= 1.9  # two at once, the third after them
