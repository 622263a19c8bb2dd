"""Sessions, users and roles remembered for a second (console/identity/recent.py): the
database is read once per window, and nothing that takes a role away waits for it here."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.access import Capability, can, grant_role, role_of, set_cluster_roles
from console.identity import recent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

AUDIT = "/audit/"


@pytest.fixture(autouse=True)
def window():
    recent.forget_all()
    with override_settings(CONSOLE_IDENTITY_RECENT_S=30):
        yield
    recent.forget_all()


def _logged_in(make_user, role: str) -> tuple[Client, object]:
    user = make_user(role)
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c, user


def _identity_queries(queries) -> list[str]:
    tables = ("django_session", "auth_user", "auth_permission", "auth_group", "console_clusterrole")
    return [q["sql"] for q in queries if any(t in q["sql"] for t in tables)]


def test_second_request_reads_no_session_user_or_role(make_user):
    c, _user = _logged_in(make_user, "admin")
    assert c.get(AUDIT).status_code == 200
    with CaptureQueriesContext(connection) as first_window:
        assert c.get(AUDIT).status_code == 200
    assert _identity_queries(first_window.captured_queries) == []


def test_with_the_window_off_every_request_reads_them(make_user):
    c, _user = _logged_in(make_user, "admin")
    with override_settings(CONSOLE_IDENTITY_RECENT_S=0):
        c.get(AUDIT)
        with CaptureQueriesContext(connection) as q:
            assert c.get(AUDIT).status_code == 200
    assert len(_identity_queries(q.captured_queries)) >= 3  # session, user, permissions


def test_a_role_taken_away_here_counts_at_the_next_request(make_user):
    c, user = _logged_in(make_user, "admin")
    assert c.get(AUDIT).status_code == 200
    grant_role(user, "viewer")  # m2m_changed: every remembered user is forgotten
    assert c.get(AUDIT).status_code == 403


def test_a_group_losing_a_permission_counts_at_the_next_request(make_user):
    c, _user = _logged_in(make_user, "admin")
    assert c.get(AUDIT).status_code == 200
    admin = Group.objects.get(name="admin")
    perm = admin.permissions.get(codename="view_auditentry")
    admin.permissions.remove(perm)
    try:
        assert c.get(AUDIT).status_code == 403
    finally:
        admin.permissions.add(perm)


def test_a_change_made_elsewhere_counts_within_the_window(make_user):
    """Another process's change (no signal here): seen once the window has passed."""
    with override_settings(CONSOLE_IDENTITY_RECENT_S=0.3):
        c, user = _logged_in(make_user, "admin")
        assert c.get(AUDIT).status_code == 200
        # Behind this process's back: a queryset update sends no signal.
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        assert c.get(AUDIT).status_code == 200  # still the remembered user
        time.sleep(0.35)
        response = c.get(AUDIT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_log_out_forgets_the_session_at_once(make_user):
    c, _user = _logged_in(make_user, "admin")
    assert c.get(AUDIT).status_code == 200
    stolen = c.cookies["sessionid"].value
    c.post(reverse("logout"))
    thief = Client()
    thief.cookies["sessionid"] = stolen
    response = thief.get(AUDIT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_session_deleted_elsewhere_ends_within_the_window(make_user):
    with override_settings(CONSOLE_IDENTITY_RECENT_S=0.3):
        c, _user = _logged_in(make_user, "admin")
        assert c.get(AUDIT).status_code == 200
        Session.objects.filter(session_key=c.cookies["sessionid"].value).delete()
        time.sleep(0.35)
        response = c.get(AUDIT)
    assert response.status_code == 302


def test_a_password_change_ends_other_sessions(make_user):
    c, user = _logged_in(make_user, "admin")
    assert c.get(AUDIT).status_code == 200
    user.set_password("another-long-pw-9")
    user.save()  # post_save: forgotten; the session's hash no longer matches
    response = c.get(AUDIT)
    assert response.status_code == 302


def test_what_one_request_notes_on_its_user_never_reaches_the_next(make_user):
    """cluster_view notes the page's cluster on the user: a copy per request, so a role on
    one cluster never follows the user to a page without it."""
    c, user = _logged_in(make_user, None)
    set_cluster_roles(user, {"local": "operator"})
    session_key = c.cookies["sessionid"].value
    factory = RequestFactory()

    def request():
        from console.identity.sessions import SessionStore

        r = factory.get("/")
        r.session = SessionStore(session_key)
        return r

    first = recent.recent_user(request())
    first.console_cluster = "local"
    assert can(first, Capability.OPERATE) and role_of(first) == "operator"
    second = recent.recent_user(request())
    assert second is not first
    assert not hasattr(second, "console_cluster")
    assert not can(second, Capability.OPERATE) and role_of(second) == ""
    assert can(second, Capability.OPERATE, "local")  # the remembered roles still apply


def test_sessions_are_remembered_as_saved_and_forgotten_when_deleted(make_user):
    from console.identity.sessions import SessionStore

    s = SessionStore()
    s["k"] = [1, 2]
    s.save()
    key = s.session_key
    with CaptureQueriesContext(connection) as q:
        again = SessionStore(key)
        assert again["k"] == [1, 2]
    assert _identity_queries(q.captured_queries) == []
    again["k"].append(3)  # a copy: what one request changes in place stays its own
    assert SessionStore(key)["k"] == [1, 2]
    s.delete()
    assert recent.session_data(key) is None
    assert SessionStore(key).get("k") is None
