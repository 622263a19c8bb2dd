"""OIDC single sign-on, end to end: headless Chromium logs in at a real Keycloak
(tools/keycloak, realm.json) through a web process started with CONSOLE_OIDC_* settings.

ada (kafka-admins), olga (kafka-operators), vic (kafka-viewers) each land with their role
and can do what it allows; nog (no group) is refused with the no-role message. Log-out ends
the Keycloak session; a group change at Keycloak takes effect at the next log-in. The
log-in page (light, dark, phone) goes to screenshots/identity/ (git-ignored) to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console.identity import NO_ROLE_MESSAGE
from console.models import AuditEntry
from tests.conftest import start_asgi_server
from tools.keycloak.local import CLIENT_ID, CLIENT_SECRET, USERS, LocalKeycloak

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots" / "identity"
ROLE_MAP = "kafka-admins=admin,kafka-operators=operator,kafka-viewers=viewer"


@pytest.fixture(scope="module")
def oidc_server(django_db_setup, kafka, keycloak, tmp_path_factory) -> Iterator[str]:
    """A web process with OIDC on (local accounts too, as a break-glass admin would have them)."""
    proc, url = start_asgi_server(
        tmp_path_factory.mktemp("web-oidc"),
        CONSOLE_OIDC_ISSUER=keycloak.issuer,
        CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
        CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        CONSOLE_OIDC_PROVIDER_NAME="Keycloak",
        CONSOLE_OIDC_TIMEOUT="5",
        CONSOLE_ROLE_MAP=ROLE_MAP,
    )
    yield url
    proc.stop()


def sso_login(page, base: str, username: str, *, expect_form: bool = True) -> float:
    """Click "Log in with Keycloak", give Keycloak the password; seconds it took."""
    began = time.monotonic()
    page.goto(f"{base}/accounts/login/")
    page.click("#sso-login")
    if expect_form:
        page.wait_for_selector("#kc-login")  # Keycloak's own log-in page
        page.fill("#username", username)
        page.fill("#password", USERS[username][0])
        page.click("#kc-login")
    page.wait_for_url(f"{base}/**")
    page.wait_for_load_state()
    return time.monotonic() - began


def role_badge(page):
    return page.locator(".who .badge")


def audit(action: str, target: str):
    return AuditEntry.objects.filter(action=action, target=target).order_by("-id")


def test_login_page_offers_single_sign_on(page, oidc_server):
    page.goto(f"{oidc_server}/accounts/login/")
    expect(page.locator("#sso-login")).to_have_text("Log in with Keycloak")
    expect(page.locator("#id_username")).to_be_visible()  # local accounts are still on
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.screenshot(path=str(SHOTS / "login-light.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(SHOTS / "login-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "login-phone.png"), full_page=True)


def test_admin_lands_as_admin_and_sees_the_audit_log(page, oidc_server):
    took = sso_login(page, oidc_server, "ada")
    print(f"ada: log-in through Keycloak in {took:.2f}s")
    assert page.url == f"{oidc_server}/clusters/"
    expect(page.locator(".who .username")).to_have_text("ada")
    expect(role_badge(page)).to_have_text("admin")
    page.goto(f"{oidc_server}/audit/")
    expect(page.locator("main")).to_contain_text("login.role")
    decision = audit("login.role", "ada").first()
    assert decision.outcome == AuditEntry.Outcome.OK
    assert decision.params["source"] == "oidc"
    assert decision.params["role"] == "admin"
    assert decision.params["matched"] == ["kafka-admins"]
    login = audit("login", "ada").first()
    assert login.params["source"] == "oidc"
    from django.contrib.auth import get_user_model

    ada = get_user_model().objects.get(username="ada")
    assert not ada.has_usable_password()  # only Keycloak logs ada in
    assert ada.email == "ada@example.test"


def test_operator_reads_messages_and_may_produce(page, oidc_server, topic, produce):
    produce(topic, [{"value": b'{"secret": "olga-can-read-this"}', "partition": 0}])
    sso_login(page, oidc_server, "olga")
    expect(role_badge(page)).to_have_text("operator")
    page.goto(f"{oidc_server}/clusters/local/topics/{topic}/messages/")
    expect(page.locator("main")).to_contain_text("olga-can-read-this")
    response = page.goto(f"{oidc_server}/clusters/local/topics/{topic}/produce/")
    assert response.status == 200
    expect(page.locator("#produce-form")).to_be_visible()
    response = page.goto(f"{oidc_server}/audit/")
    assert response.status == 403  # the audit log is the admins'


def test_viewer_sees_positions_but_not_contents(page, oidc_server, topic, produce):
    produce(topic, [{"value": b'{"secret": "vic-must-not-read-this"}', "partition": 0}])
    sso_login(page, oidc_server, "vic")
    expect(role_badge(page)).to_have_text("viewer")
    page.goto(f"{oidc_server}/clusters/local/topics/{topic}/messages/")
    expect(page.locator("main")).to_contain_text("needs the operator role")
    assert "vic-must-not-read-this" not in page.content()
    response = page.goto(f"{oidc_server}/clusters/local/topics/{topic}/produce/")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("operator role")


def test_user_without_a_group_is_refused_and_audited(page, oidc_server):
    sso_login(page, oidc_server, "nog")
    expect(page.locator("#oidc-error")).to_have_text(NO_ROLE_MESSAGE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "refused-light.png"), full_page=True)
    decision = audit("login.role", "nog").first()
    assert decision.outcome == AuditEntry.Outcome.DENIED
    assert decision.params["role"] == "none"
    failed = audit("login.failed", "nog").first()
    assert failed.params["source"] == "oidc"
    assert "no role" in failed.detail
    assert not audit("login", "nog").exists()
    page.goto(f"{oidc_server}/clusters/")
    assert "/accounts/login/" in page.url  # not logged in
    # Still signed in at Keycloak, the button brings nog straight back to the refusal...
    page.click("#sso-login")
    expect(page.locator("#oidc-error")).to_have_text(NO_ROLE_MESSAGE)
    # ...so the refusal page offers Keycloak's log-out; after it, another account can log in.
    page.click("#provider-logout")
    page.wait_for_url(f"{oidc_server}/accounts/login/")
    page.click("#sso-login")
    expect(page.locator("#kc-login")).to_be_visible()


def test_logout_ends_the_keycloak_session(page, oidc_server):
    sso_login(page, oidc_server, "ada")
    expect(role_badge(page)).to_have_text("admin")
    # While Keycloak's session lives, losing only the console's session is no obstacle:
    # the button logs in again without a password.
    page.context.clear_cookies(name="sessionid")
    sso_login(page, oidc_server, "ada", expect_form=False)
    expect(role_badge(page)).to_have_text("admin")
    page.click(".who button")  # Log out
    page.wait_for_url(f"{oidc_server}/accounts/login/")
    expect(page.locator("#sso-login")).to_be_visible()
    assert audit("logout", "ada").exists()
    # Keycloak's session ended too: the button now asks for the password.
    page.click("#sso-login")
    expect(page.locator("#kc-login")).to_be_visible()


def test_group_change_at_keycloak_applies_at_next_login(
    browser,
    oidc_server,
    keycloak: LocalKeycloak,
):
    first = browser.new_context()
    page = first.new_page()
    sso_login(page, oidc_server, "olga")
    expect(role_badge(page)).to_have_text("operator")
    first.close()
    keycloak.set_user_groups("olga", ["kafka-viewers"])
    try:
        second = browser.new_context()
        page = second.new_page()
        sso_login(page, oidc_server, "olga")
        expect(role_badge(page)).to_have_text("viewer")
        decision = audit("login.role", "olga").first()
        assert decision.params["role"] == "viewer"
        assert decision.params["matched"] == ["kafka-viewers"]
        second.close()
    finally:
        keycloak.set_user_groups("olga", ["kafka-operators"])


def test_single_sign_on_only_when_local_accounts_are_off(
    page,
    keycloak: LocalKeycloak,
    tmp_path,
    django_db_setup,
):
    proc, base = start_asgi_server(
        tmp_path,
        CONSOLE_OIDC_ISSUER=keycloak.issuer,
        CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
        CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        CONSOLE_OIDC_PROVIDER_NAME="Keycloak",
        CONSOLE_ROLE_MAP=ROLE_MAP,
        CONSOLE_LOCAL_ACCOUNTS="0",
    )
    try:
        page.goto(f"{base}/accounts/login/")
        expect(page.locator("#sso-login")).to_be_visible()
        expect(page.locator("#id_password")).to_have_count(0)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "login-sso-only-light.png"), full_page=True)
        sso_login(page, base, "vic")
        expect(role_badge(page)).to_have_text("viewer")
    finally:
        proc.stop()
