"""Headless Chromium against a real web process: log in, see the brokers."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def test_login_and_see_the_brokers(page, asgi_server, login, kafka):
    login(page, asgi_server, "viewer")
    assert page.locator('article[data-cluster="local"]').inner_text().count("reachable") == 1
    page.click('a[href="/clusters/local/"]')
    row = page.locator('#broker-table tr[data-broker="1"]')
    row.wait_for()
    assert f"127.0.0.1:{kafka.nodes[0].port}" in row.inner_text()
    assert "online" in row.inner_text()
    # the htmx script and the stylesheet are served (WhiteNoise behind the web process)
    assert page.evaluate("typeof window.htmx") == "object"
