"""Log-in and its throttling."""

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_works_and_wrong_password_says_so(client, make_user):
    user = make_user("viewer")
    r = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert r.status_code == 200
    assert "enter a correct username and password" in r.content.decode()
    r = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert r.status_code == 302 and r.url == reverse("console:clusters")


def test_repeated_failures_lock_the_account_out(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 3
    user = make_user("viewer")
    for _ in range(3):
        assert (
            client.post(reverse("login"), {"username": user.username, "password": "x"}).status_code
            == 200
        )
    # even the right password is refused while locked out
    r = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed log-ins" in r.content.decode()


def test_failures_from_one_address_lock_out_other_names(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 3
    for name in ("a", "b", "c"):
        client.post(reverse("login"), {"username": name, "password": "x"})
    user = make_user("viewer")
    r = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert r.status_code == 429
