"""Shared page copies (console/shared_pages.py): rendered once per role and interval, with
each viewer's own name and CSRF token, never another's flash message; after a POST its
author sees fresh pages."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import override_settings
from django.urls import reverse

from console import shared_pages
from tests.conftest import unique

pytestmark = pytest.mark.kafka


@pytest.fixture
def shared(monkeypatch):
    """Copies on for 30 s, and a count of how often the topic list was really built."""
    import topics.views

    shared_pages.forget_all()
    built = []
    real = topics.views.topic_list_for

    def counting(**kwargs):
        built.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(topics.views, "topic_list_for", counting)
    with override_settings(CONSOLE_SHARED_PAGE_S=30):
        yield built
    shared_pages.forget_all()


def _warm(client, url: str) -> None:
    """The first page a client loads sets its CSRF cookie: it is rendered for it alone."""
    client.get(url)
    assert "csrftoken" in client.cookies


def _token(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', body).group(1)


def test_second_viewer_gets_the_copy_with_own_name_and_token(kafka, client_for, topic, shared):
    # Filtered to the topic: the list's first page holds it however many topics the
    # session's broker has by now.
    url = reverse("topics:list", args=["local"]) + f"?q={topic}"
    a, b = client_for("viewer"), client_for("viewer")
    _warm(a, url)
    _warm(b, url)
    built_before = len(shared)
    first = a.get(url).content.decode()
    second = b.get(url).content.decode()
    assert len(shared) == built_before + 1  # b's page is a's copy
    name_a = a.session["_auth_user_id"]
    assert name_a  # both logged in
    user_a = re.search(r'<span class="username">([^<]+)</span>', first).group(1)
    user_b = re.search(r'<span class="username">([^<]+)</span>', second).group(1)
    assert user_a != user_b and user_a not in second
    # Each page's forms post as its own viewer: the token unmasks to that viewer's secret.
    assert _unmask_cipher_token(_token(second)) == b.cookies["csrftoken"].value
    assert _unmask_cipher_token(_token(first)) == a.cookies["csrftoken"].value
    assert topic in second
    # The copy's token works for a real CSRF-checked POST (log-out) of b's session.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.cookies = b.cookies
    r = strict.post(reverse("logout"), {"csrfmiddlewaretoken": _token(second)})
    assert r.status_code == 302


def test_roles_do_not_share_and_a_post_makes_its_author_see_fresh(kafka, client_for, topic, shared):
    # Filtered to this test's topics: the list's first page holds the one it creates
    # however many topics the session's broker has by now.
    url = reverse("topics:list", args=["local"]) + "?q=shared-"
    viewer, operator = client_for("viewer"), client_for("operator")
    _warm(viewer, url)
    _warm(operator, url)
    n = len(shared)
    viewer.get(url)
    operator.get(url)  # other capabilities: rendered, not the viewer's copy
    assert len(shared) == n + 2
    viewer.get(url)
    operator.get(url)
    assert len(shared) == n + 2
    # A topic created through the console (a POST): its author's next list is fresh and
    # shows it, and becomes the copy the next operator gets.
    name = unique("shared")
    r = operator.post(
        reverse("topics:create", args=["local"]),
        {"name": name, "partitions": 1, "replication": 1, "configs": ""},
    )
    assert r.status_code == 302
    assert name in operator.get(url).content.decode()  # with "created": not kept
    assert name in operator.get(url).content.decode()  # fresh again, and kept
    assert len(shared) == n + 4
    other = client_for("operator")
    _warm(other, url)
    assert name in other.get(url).content.decode()
    assert len(shared) == n + 5  # other's warm-up page, rendered for it alone
    # Everyone else sees it within the window, as on a page loaded a moment earlier.
    with override_settings(CONSOLE_SHARED_PAGE_S=0.3):
        time.sleep(0.35)
        assert name in viewer.get(url).content.decode()


def test_a_flash_message_is_never_shared(kafka, client_for, shared):
    """The page after a create shows "Topic X created." to its author; that rendering is
    not kept, so another operator's next page does not show it."""
    a, b = client_for("operator"), client_for("operator")
    list_url = reverse("topics:list", args=["local"])
    _warm(a, list_url)
    _warm(b, list_url)
    name = unique("flash")
    r = a.post(
        reverse("topics:create", args=["local"]),
        {"name": name, "partitions": 1, "replication": 1, "configs": ""},
        follow=True,
    )
    assert f"Topic {name} created." in r.content.decode()
    detail = r.redirect_chain[-1][0]
    assert f"Topic {name} created." not in b.get(detail).content.decode()
    assert f"Topic {name} created." not in a.get(detail).content.decode()


def test_copies_expire(kafka, client_for, topic, shared):
    url = reverse("topics:list", args=["local"])
    c = client_for("viewer")
    _warm(c, url)
    with override_settings(CONSOLE_SHARED_PAGE_S=0.3):
        n = len(shared)
        c.get(url)
        c.get(url)
        assert len(shared) == n + 1
        time.sleep(0.4)
        c.get(url)
        assert len(shared) == n + 2


def test_htmx_fragment_is_its_own_copy(kafka, client_for, topic, shared):
    url = reverse("topics:list", args=["local"])
    c = client_for("viewer")
    _warm(c, url)
    n = len(shared)
    full = c.get(url).content.decode()
    fragment = c.get(url, HTTP_HX_REQUEST="true").content.decode()
    again = c.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert len(shared) == n + 2
    assert "<html" in full and "<html" not in fragment
    assert again == fragment


@pytest.mark.django_db(transaction=True)
def test_an_expired_page_is_rendered_once_while_the_others_get_the_copy(
    kafka, client_for, topic, shared, monkeypatch
):
    import topics.views

    url = reverse("topics:list", args=["local"])
    a, b = client_for("viewer"), client_for("viewer")
    _warm(a, url)
    _warm(b, url)
    with override_settings(CONSOLE_SHARED_PAGE_S=0.3):
        a.get(url)
        time.sleep(0.35)  # expired
        gate, entered = threading.Event(), threading.Event()
        counting = topics.views.topic_list_for

        def slow(**kwargs):
            entered.set()
            gate.wait(10)
            return counting(**kwargs)

        monkeypatch.setattr(topics.views, "topic_list_for", slow)
        renderer = threading.Thread(target=a.get, args=(url,))
        renderer.start()
        try:
            assert entered.wait(10)
            n = len(shared)
            assert b.get(url).status_code == 200  # the expired copy, not a second rendering
            assert len(shared) == n
        finally:
            gate.set()
            renderer.join(10)
        assert len(shared) == n + 1
        monkeypatch.setattr(topics.views, "topic_list_for", counting)
        b.get(url)  # the new copy
        assert len(shared) == n + 1
        time.sleep(0.35 * 3)  # past the stale bound, nobody rendering: rendered again
        b.get(url)
        assert len(shared) == n + 2


@pytest.fixture
def messages_built(monkeypatch):
    """Copies on for 30 s, and a count of how often a messages page was really read."""
    import topics.browse.views

    shared_pages.forget_all()
    built = []
    real = topics.browse.views.browse_page

    def counting(*args, **kwargs):
        built.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(topics.browse.views, "browse_page", counting)
    with override_settings(CONSOLE_SHARED_PAGE_S=30):
        yield built
    shared_pages.forget_all()


def test_newest_messages_are_shared_per_role_and_masking_follows_the_role(
    kafka, topic_factory, produce, client_for, messages_built
):
    """Operators watching a topic's newest messages share one reading a window; a viewer
    (no contents) and a masked role never get an operator's copy."""
    from console.clusters import Cluster, MaskRule, all_clusters, reset_clusters

    name = topic_factory(partitions=1)
    produce(name, [{"key": b"k", "value": b'{"card": "4111-1111", "n": 1}'}])
    saved = all_clusters()
    rule = MaskRule(topics=re.compile(".*"), json_paths=("$.card",), roles=("operator",))
    reset_clusters([*saved, Cluster("masked", kafka.bootstrap_servers, masking=(rule,))])
    try:
        local = reverse("topics:messages", args=["local", name])
        masked = reverse("topics:messages", args=["masked", name])
        a, b = client_for("operator"), client_for("operator")
        viewer, admin = client_for("viewer"), client_for("admin")
        for c in (a, b, viewer, admin):
            _warm(c, local)  # the CSRF cookie, for both clusters' pages
        n = len(messages_built)
        assert "4111-1111" in a.get(local).content.decode()
        assert "4111-1111" in b.get(local).content.decode()
        assert len(messages_built) == n + 1  # b's page is a's copy
        page = viewer.get(local).content.decode()
        assert "4111-1111" not in page and '"n"' not in page
        assert len(messages_built) == n + 2
        # On the masked cluster the operators' copy is masked, the admin's is not.
        assert "4111-1111" not in a.get(masked).content.decode()
        assert "4111-1111" in admin.get(masked).content.decode()
        assert "4111-1111" not in b.get(masked).content.decode()
        assert len(messages_built) == n + 4
        # Never answered at the door (it cannot see the role's masking or the decoders).
        assert not any("/messages/" in page[0] for page in shared_pages._page_cluster)
    finally:
        reset_clusters(saved)


def test_a_messages_page_naming_decoders_is_the_viewers_own(
    kafka, topic_factory, produce, client_for, messages_built
):
    """A page that names decoders saves them for the viewer (rendered for them alone), and
    that viewer's page without parameters uses them, not the others' shared copy."""
    name = topic_factory(partitions=1)
    produce(name, [{"key": b"k", "value": b'{"n": 1}'}])
    url = reverse("topics:messages", args=["local", name])
    a, b = client_for("operator"), client_for("operator")
    _warm(a, url)
    _warm(b, url)
    n = len(messages_built)
    a.get(url)
    b.get(url)
    assert len(messages_built) == n + 1
    b64 = {"mode": "newest", "value_format": "base64"}
    assert a.get(url, b64).status_code == a.get(url, b64).status_code == 200
    assert len(messages_built) == n + 3  # each rendered and saved
    own = a.get(url).content.decode()
    assert len(messages_built) == n + 4  # a's remembered decoders: its own copy
    assert "eyJuIjogMX0=" in own
    shared = b.get(url).content.decode()
    assert len(messages_built) == n + 4
    assert "eyJuIjogMX0=" not in shared and "&quot;n&quot;: 1" in shared
