"""Headless Chromium: create a FileStreamSource connector from the plugin list, see its
records in the topic's message browser, pause it, resume it, delete it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.connect.conftest import cname, connector_names, wait_state

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_create_a_file_source_see_its_records_pause_resume_delete(
    connect_worker, page, login, topic, tmp_path
):
    from tests.conftest import start_asgi_server

    # A server of its own: it must start after the worker was registered (environment).
    proc, base = start_asgi_server(tmp_path)
    try:
        lines = tmp_path / "input.txt"
        lines.write_text("".join(f"hello-connect-{i}\n" for i in range(4)))
        name = cname("browser")
        login(page, base, "admin")
        page.goto(f"{base}/clusters/local/")
        page.click("nav.main >> text=Connect")
        # two Connect clusters on 'local' (main and down): choose main
        page.click("#connect-clusters >> text=main")
        page.click("#new-connector")
        page.fill("#id_name", name)
        page.select_option("#id_klass", "org.apache.kafka.connect.file.FileStreamSourceConnector")
        page.fill("#id_config", f"tasks.max=1\nfile={lines}\ntopic={topic}\n")
        page.click("#validate-button")
        expect(page.locator("#validation-ok")).to_be_visible()
        expect(page.locator('#validation-table tr[data-field="file"]')).to_contain_text("ok")
        page.click("#create-button")
        expect(page.locator("h1")).to_contain_text(f"connector {name}")
        wait_state(connect_worker, name, "RUNNING")

        # its records arrive in the topic's message browser
        page.click(f'#connector-topics a[data-topic="{topic}"]')
        messages = f"{base}/clusters/local/topics/{topic}/messages/"
        for _ in range(40):
            page.goto(messages)
            if page.locator("#messages tbody tr.msg").count() >= 4:
                break
            page.wait_for_timeout(500)
        expect(page.locator("#messages")).to_contain_text("hello-connect-0")
        expect(page.locator("#messages")).to_contain_text("hello-connect-3")

        detail = f"{base}/clusters/local/connect/main/{name}/"
        page.goto(detail)
        page.click("#op-pause")
        expect(page.locator("#state-after")).to_contain_text("PAUSED")
        page.click("#confirm-action-button")
        expect(page.locator(".messages")).to_contain_text("Pause")
        wait_state(connect_worker, name, "PAUSED")
        page.reload()
        page.click("#op-resume")
        expect(page.locator("#state-after")).to_contain_text("RUNNING")
        page.click("#confirm-action-button")
        wait_state(connect_worker, name, "RUNNING")

        page.goto(detail)
        page.click("#op-delete")
        page.fill("#confirm-action", name)
        page.click("#confirm-action-button")
        expect(page.locator(".messages")).to_contain_text("Delete")
        expect(page.locator("#connector-table")).not_to_contain_text(name)
        assert name not in connector_names(connect_worker)
    finally:
        proc.stop()
