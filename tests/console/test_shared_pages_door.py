"""The shared pages' door (console/shared_pages.py, console/asgi_handler.py): under ASGI, a
viewer Django has just served is answered from the copy without Django, with their own
name, CSRF token and the middleware's headers; log-out, a role change, another host or a
POST send the next request through Django again."""

from __future__ import annotations

import asyncio
import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, override_settings
from django.urls import reverse

from console import shared_pages
from console.access import grant_role
from console.asgi_handler import OneHopASGIHandler
from console.identity import recent
from tests.conftest import PASSWORD, unique
from tests.console.asgi_urls import on_own_loop

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


class Counting(OneHopASGIHandler):
    """The handler, counting the requests Django itself answered."""

    def __init__(self) -> None:
        super().__init__()
        self.django = 0

    def get_response(self, request):
        self.django += 1
        return super().get_response(request)


@pytest.fixture
def app():
    shared_pages.forget_all()
    recent.forget_all()
    with override_settings(CONSOLE_SHARED_PAGE_S=30, CONSOLE_IDENTITY_RECENT_S=30):
        yield Counting()
    shared_pages.forget_all()
    recent.forget_all()


def _get(app, path: str, cookies: dict, host: str = "testserver", **headers: str):
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode()), (b"cookie", cookie.encode())]
        + [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict] = []
    asked: list[int] = []

    async def receive():
        asked.append(1)
        if len(asked) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    on_own_loop(app(scope, receive, send))
    head = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, b"".join(m.get("body", b"") for m in sent[1:]).decode()


def _viewer(make_user, role: str) -> tuple[Client, dict, object]:
    user = make_user(role)
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    c.get(reverse("topics:list", args=["local"]))  # sets the CSRF cookie
    return c, {k: m.value for k, m in c.cookies.items()}, user


def _name(body: str) -> str:
    return re.search(r'<span class="username">([^<]+)</span>', body).group(1)


def _token(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', body).group(1)


def test_the_next_page_comes_through_the_door_with_the_viewers_own_parts(
    kafka, topic, make_user, app
):
    url = reverse("topics:list", args=["local"])
    _a, a, user_a = _viewer(make_user, "operator")
    _b, b, user_b = _viewer(make_user, "operator")
    status, head_django, first = _get(app, url, a)
    assert status == 200 and app.django == 1
    status, head, again = _get(app, url, a)
    assert status == 200 and app.django == 1  # the door: Django did not run
    assert _name(again) == user_a.username
    tokens = re.compile(r"[A-Za-z0-9]{64}")
    assert tokens.sub("", again) == tokens.sub("", first)  # the page Django gave a
    assert _unmask_cipher_token(_token(again)) == a["csrftoken"]
    assert head["x-frame-options"] == "DENY" and head["content-type"] == head_django["content-type"]
    assert int(head["content-length"]) == len(again.encode())
    assert "set-cookie" not in head
    # b, same role: Django once (its pass), then the door; never a's name or token.
    _get(app, url, b)
    status, _h, for_b = _get(app, url, b)
    assert app.django == 2
    assert _name(for_b) == user_b.username and user_a.username not in for_b
    assert _unmask_cipher_token(_token(for_b)) == b["csrftoken"]


def test_other_roles_pages_and_hosts_go_through_django(kafka, topic, make_user, app):
    url = reverse("topics:list", args=["local"])
    _o, operator, _u = _viewer(make_user, "operator")
    _v, viewer, _w = _viewer(make_user, "viewer")
    _get(app, url, operator)
    _get(app, url, viewer)  # another role: its own copy and pass
    assert app.django == 2
    _get(app, url, viewer)
    assert app.django == 2
    _get(app, url, viewer, host="evil.example")  # not the host Django checked
    assert app.django == 3
    _get(app, reverse("groups:list", args=["local"]), viewer)  # no copy of that page yet
    assert app.django == 4
    _get(app, url, {**viewer, "messages": "x"})  # a flash message may be waiting
    assert app.django == 5
    _get(app, url, viewer, hx_request="true")  # the fragment is another page
    assert app.django == 6


def _through_the_door(app, make_user):
    """An operator whose second look at the topic list came through the door."""
    url = reverse("topics:list", args=["local"])
    client, cookies, user = _viewer(make_user, "operator")
    _get(app, url, cookies)
    _get(app, url, cookies)
    assert app.django == 1
    return url, client, cookies, user


def test_log_out_and_role_changes_close_the_door(kafka, topic, make_user, app):
    url, client, cookies, user = _through_the_door(app, make_user)
    grant_role(user, "viewer")  # a role changed in this process: every pass is taken back
    status, _h, body = _get(app, url, cookies)
    assert app.django == 2 and status == 200
    _get(app, url, cookies)
    assert app.django == 2
    client.post(reverse("logout"))
    status, head, _body = _get(app, url, cookies)
    assert app.django == 3
    assert status == 302 and reverse("login") in head["location"]


def test_the_author_of_a_change_gets_fresh_pages(kafka, topic, make_user, app):
    url, client, cookies, _user = _through_the_door(app, make_user)
    name = unique("door")
    r = client.post(
        reverse("topics:create", args=["local"]),
        {"name": name, "partitions": 1, "replication": 1, "configs": ""},
    )
    assert r.status_code == 302
    _s, _h, body = _get(app, url, cookies)
    assert app.django == 2 and name in body
