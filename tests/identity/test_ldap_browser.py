"""LDAP log-in in Chromium, through a real web process configured by CONSOLE_LDAP_* variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.identity.roles import NO_ROLE_MESSAGE
from tests.conftest import start_asgi_server
from tools.ldap.local import PASSWORDS, LocalLdap

pytestmark = [pytest.mark.ldap, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def ldap_console(django_db_setup, tmp_path_factory) -> Iterator[tuple[str, LocalLdap]]:
    """slapd, and a web process whose settings come from its CONSOLE_LDAP_* environment alone."""
    server = LocalLdap().start()
    proc, url = start_asgi_server(
        tmp_path_factory.mktemp("web-ldap"),
        **server.settings(),
        CONSOLE_LDAP_TIMEOUT="2",
        CONSOLE_ROLE_MAP="kafka-admins=admin,kafka-operators=operator,kafka-viewers=viewer",
    )
    yield url, server
    proc.stop()
    server.destroy()


def sign_in(page, base_url: str, uid: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", uid)
    page.fill("#id_password", PASSWORDS[uid])
    page.click("button[type=submit]")


def test_admin_signs_in_with_directory_password_and_reads_the_audit_log(page, ldap_console):
    base_url, _server = ldap_console
    sign_in(page, base_url, "ada")
    page.wait_for_url(f"{base_url}/clusters/")
    page.goto(f"{base_url}/audit/")
    rows = page.locator("table tbody tr")
    assert "Role from provider" in rows.nth(1).text_content()
    assert "ldap: role admin from kafka-admins" in rows.nth(1).text_content()
    assert "Log in" in rows.nth(0).text_content()


def test_user_without_a_mapped_group_sees_why(page, ldap_console):
    base_url, _server = ldap_console
    sign_in(page, base_url, "nog")
    alert = page.locator("p.error[role=alert]")
    alert.wait_for()
    assert alert.text_content().strip() == NO_ROLE_MESSAGE
    assert page.url.startswith(f"{base_url}/accounts/login/")


def test_hung_directory_shows_a_clear_error_within_seconds(page, ldap_console):
    base_url, server = ldap_console
    server.pause()
    try:
        sign_in(page, base_url, "olga")
        alert = page.locator("p.error[role=alert]")
        alert.wait_for(timeout=8_000)
        assert "did not answer within 2 s" in alert.text_content()
    finally:
        server.resume()
