"""Log-in and its throttling: per user name and per (user name, address), never per address."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from console.auth_views import USER_FACTOR, client_address
from console.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, username, password="wrong", address="10.1.1.1", **headers):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def test_login_works_and_wrong_password_is_a_400_form_error(client, make_user):
    user = make_user("viewer")
    r = attempt(client, user.username)
    assert r.status_code == 400
    assert "enter a correct username and password" in r.content.decode()
    assert 'name="password"' in r.content.decode()  # the form is shown again
    r = attempt(client, user.username, PASSWORD)
    assert r.status_code == 302 and r.url == reverse("console:clusters")


def test_repeated_failures_lock_the_account_out_from_that_address(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 3
    user = make_user("viewer")
    for _ in range(3):
        assert attempt(client, user.username).status_code == 400
    # even the right password is refused while locked out
    r = attempt(client, user.username, PASSWORD)
    assert r.status_code == 429
    page = r.content.decode()
    assert "Too many failed log-ins for this account from your address" in page
    assert "wait 5 minute(s)" in page


def test_failures_for_one_name_do_not_lock_out_other_names_at_the_same_address(
    client, make_user, settings
):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 5
    a, b = make_user("viewer"), make_user("viewer")
    for _ in range(5):
        attempt(client, a.username, address="192.0.2.7")
    assert attempt(client, a.username, PASSWORD, address="192.0.2.7").status_code == 429
    r = attempt(client, b.username, PASSWORD, address="192.0.2.7")
    assert r.status_code == 302


def test_many_names_failing_from_one_address_lock_no_one_out(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 3
    for name in ("a", "b", "c", "d", "e", "f"):
        attempt(client, name, address="192.0.2.7")
    user = make_user("viewer")
    assert attempt(client, user.username, PASSWORD, address="192.0.2.7").status_code == 302


def test_a_locked_pair_leaves_other_addresses_until_the_per_user_bound(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 2
    user = make_user("viewer")
    attempt(client, user.username, address="198.51.100.1")
    attempt(client, user.username, address="198.51.100.1")
    assert attempt(client, user.username, PASSWORD, address="198.51.100.1").status_code == 429
    # the same name from another address still gets in ...
    assert attempt(client, user.username, PASSWORD, address="198.51.100.2").status_code == 302
    # ... and success there forgives only that address's failures
    assert attempt(client, user.username, PASSWORD, address="198.51.100.1").status_code == 429
    client.logout()
    # a guesser spreading tries over addresses: locked out everywhere at the per-user bound
    bound = 2 * USER_FACTOR
    for i in range(bound - 2):
        assert attempt(client, user.username, address=f"203.0.113.{i}").status_code == 400
    assert LoginFailure.objects.filter(username=user.username).count() == bound
    r = attempt(client, user.username, PASSWORD, address="198.51.100.9")
    assert r.status_code == 429
    assert "from several addresses" in r.content.decode()


def test_forwarded_for_is_ignored_from_an_untrusted_peer(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 2
    settings.CONSOLE_TRUSTED_PROXIES = ["10.0.0.1"]
    user = make_user("viewer")
    # a client naming a fresh address each time gains nothing: its own address counts
    for i in range(2):
        attempt(client, user.username, address="192.0.2.50", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
    assert set(LoginFailure.objects.values_list("address", flat=True)) == {"192.0.2.50"}
    r = attempt(
        client, user.username, PASSWORD, address="192.0.2.50", HTTP_X_FORWARDED_FOR="1.2.3.9"
    )
    assert r.status_code == 429


def test_forwarded_for_is_honoured_from_a_trusted_proxy(client, make_user, settings):
    settings.CONSOLE_LOGIN_MAX_FAILURES = 2
    settings.CONSOLE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    a, b = make_user("viewer"), make_user("viewer")
    for _ in range(2):
        attempt(client, a.username, address="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert set(LoginFailure.objects.values_list("address", flat=True)) == {"192.0.2.1"}
    # through the same proxy: the locked client is refused, a colleague is not
    r = attempt(client, a.username, PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert r.status_code == 429
    r = attempt(client, a.username, PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert r.status_code == 302
    client.logout()
    r = attempt(client, b.username, PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert r.status_code == 302


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("192.0.2.9", "198.51.100.1", "192.0.2.9"),  # untrusted peer: header ignored
        ("10.0.0.1", "", "10.0.0.1"),  # trusted proxy, no header
        ("10.0.0.1", "198.51.100.1", "198.51.100.1"),
        # the client may prepend anything: only what our proxies appended counts
        ("10.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # several of our proxies in a row are skipped
        ("10.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2, 172.16.0.5", "198.51.100.1"),
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # all ours: the origin
        ("10.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("::ffff:10.0.0.1", "198.51.100.1", "198.51.100.1"),  # dual-stack socket
        # malformed: REMOTE_ADDR
        ("10.0.0.1", "198.51.100.1, garbage", "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1:4711", "10.0.0.1"),
        ("10.0.0.1", ",", "10.0.0.1"),
        ("not-an-ip", "198.51.100.1", "not-an-ip"),
    ],
)
def test_client_address(settings, remote, forwarded, expected):
    settings.CONSOLE_TRUSTED_PROXIES = ["10.0.0.0/8", "172.16.0.5"]
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **headers)
    assert client_address(request) == expected


def test_no_trusted_proxies_means_remote_addr(settings):
    settings.CONSOLE_TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(request) == "127.0.0.1"


def test_a_malformed_trusted_proxy_setting_says_what_to_fix(settings):
    settings.CONSOLE_TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.internal"]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
    with pytest.raises(ImproperlyConfigured, match="'proxy.internal' is neither"):
        client_address(request)
