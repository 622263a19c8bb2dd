"""Headless Chromium against a real web process and the ACL broker: an admin denies alice READ on
a topic through the pages (preview, confirm), the broker refuses alice's consumer, and
deleting the binding from its row (preview, confirm) lets her read again. Screenshots of
the pages (light, dark, phone) go to screenshots/acls/ (git-ignored) to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acls.conftest import ADMIN_PW, alice_reads
from tests.conftest import start_asgi_server

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots" / "acls"


def shoot(page, name: str) -> None:
    """The page as it is, then dark, then at phone width (back to light 1440 after)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-light.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(SHOTS / f"{name}-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_deny_and_delete_in_the_browser(page, login, acl_kafka, acl_topic, tmp_path):
    clusters = tmp_path / "clusters.toml"
    clusters.write_text(
        f"""
[[clusters]]
name = "acl-web"
bootstrap_servers = "{acl_kafka.sasl_bootstrap_servers}"
[clusters.properties]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "admin"
"sasl.password" = "${{ACL_ADMIN_PW}}"
"""
    )
    proc, base = start_asgi_server(
        tmp_path, CONSOLE_CLUSTERS_FILE=str(clusters), ACL_ADMIN_PW=ADMIN_PW
    )
    try:
        page.set_viewport_size({"width": 1440, "height": 900})
        login(page, base, "admin")
        page.goto(f"{base}/clusters/acl-web/")
        page.click("header nav.main >> text=ACLs")
        page.wait_for_url(f"{base}/clusters/acl-web/acls/")
        page.click("#new-acl")
        page.fill("#id_principal", "User:alice")
        page.select_option("#id_resource_type", "topic")
        page.fill("#id_resource_name", acl_topic)
        page.select_option("#id_operation", "read")
        page.select_option("#id_permission", "deny")
        shoot(page, "01-create-form")
        page.click("#preview-create")
        preview = page.locator("#preview-binding").inner_text()
        assert "User:alice" in preview and acl_topic in preview and "DENY" in preview
        shoot(page, "02-create-preview")
        page.click("#confirm-create")
        page.wait_for_url(f"{base}/clusters/acl-web/acls/?principal=User%3Aalice")
        assert "Created: DENY READ" in page.locator("ul.messages").inner_text()
        assert page.locator("#acl-table tr.acl-row").count() == 1
        shoot(page, "03-list")
        assert alice_reads(acl_kafka, acl_topic) == "TOPIC_AUTHORIZATION_FAILED"

        # The topic's ACLs tab, and the principal's page.
        page.goto(f"{base}/clusters/acl-web/topics/{acl_topic}/")
        page.click("nav.tabs >> text=ACLs")
        denied = page.locator('#topic-access tr[data-operation="read"] td.denied').inner_text()
        assert "User:alice" in denied
        shoot(page, "04-topic")
        page.locator("#topic-acl-table a", has_text="User:alice").first.click()
        assert page.locator("section.acl-resource").count() == 1
        shoot(page, "05-principal")

        # Delete it from its row: the preview lists exactly it; confirmed, alice reads.
        page.locator("a.delete-acl").first.click()
        assert page.locator("#delete-table tr.acl-row").count() == 1
        shoot(page, "06-delete-preview")
        page.click("#confirm-delete")
        page.wait_for_url(f"{base}/clusters/acl-web/acls/")
        assert "Deleted 1 ACL binding" in page.locator("ul.messages").inner_text()
        assert alice_reads(acl_kafka, acl_topic) == "ok"
    finally:
        proc.stop()
