"""Headless Chromium against a real web process and the real Apicurio: an operator pastes an
incompatible Avro change, checks it, and sees it refused with the reason; then registers
a compatible one."""

from __future__ import annotations

import pytest

from tests.conftest import start_asgi_server
from tests.schemas.conftest import avro, unique_subject

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_register_incompatible_version_is_refused_with_the_reason(
    page, login, kafka, schema_registry, registry_api, tmp_path
):
    clusters = tmp_path / "clusters.toml"
    clusters.write_text(
        f"""
[[clusters]]
name = "sr-web"
bootstrap_servers = "{kafka.bootstrap_servers}"
schema_registry_url = "{schema_registry.url}"
"""
    )
    s = unique_subject("web")
    registry_api.register(s, avro("id"))
    registry_api.set_level(s, "BACKWARD")
    proc, base = start_asgi_server(tmp_path, CONSOLE_CLUSTERS_FILE=str(clusters))
    try:
        login(page, base, "operator")
        page.goto(f"{base}/clusters/sr-web/")
        page.click("header nav.main >> text=Schemas")
        page.fill("#q", s)
        page.locator(f'#subject-table tr[data-subject="{s}"] a').first.click()
        page.click("#register-version")
        page.fill("#id_schema", avro("id", ("age", "int", ...)))
        page.click("#check")
        verdict = page.locator("#verdict")
        verdict.wait_for()
        text = verdict.inner_text()
        assert "Not compatible" in text and "BACKWARD" in text
        assert "age" in text and "no default" in text
        assert page.locator("#register-confirm").count() == 0
        assert registry_api.versions(s) == [1]
        # with a default it passes the check, and registers on confirmation
        page.fill("#id_schema", avro("id", ("age", "int", 0)))
        page.click("#check")
        assert "Compatible" in page.locator("#verdict").inner_text()
        page.click("#confirm-register")
        page.wait_for_url(f"{base}/clusters/sr-web/schemas/{s}/")
        assert f"Registered {s} version 2" in page.locator("ul.messages").inner_text()
        assert registry_api.versions(s) == [1, 2]
        assert page.locator("#diff-table tr.add").count() >= 5
    finally:
        proc.stop()
