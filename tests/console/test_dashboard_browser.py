"""The cluster dashboard in headless Chromium against a real web process: figures, the sampled
rate, the chart, the self-refresh, and the colour theme."""

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from console.clusters import get_cluster
from console.kafka.offsets import Watermarks, watermarks
from console.models import ThroughputSample
from console.templatetags.console import human_rate
from console.throughput import throughput_sample_record

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def figure(page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').inner_text().split()[0]


def metadata(kafka):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": kafka.bootstrap_servers}).list_topics(timeout=10)


def offsets_answer(cluster, topic: str, partitions: int = 3) -> None:
    """Wait until the console's client lists offsets of the new topic (its metadata cache
    may not know the topic for a moment; the sampler skips a topic it cannot read)."""
    parts = {(topic, p) for p in range(partitions)}
    deadline = time.monotonic() + 20
    while not all(isinstance(m, Watermarks) for m in watermarks(cluster, parts).values()):
        assert time.monotonic() < deadline, f"offsets of {topic} never answered"
        time.sleep(0.2)


def test_overview_figures_equal_the_brokers_and_the_sampled_rate_shows(
    page, asgi_server, login, kafka, topic, produce
):
    local = get_cluster("local")
    offsets_answer(local, topic)
    interval = 30
    now = timezone.now()
    throughput_sample_record(cluster=local, at=now - dt.timedelta(seconds=interval))
    assert ThroughputSample.objects.filter(topic=topic).count() == 1
    produce(topic, [b"m"] * 450)
    throughput_sample_record(cluster=local, at=now)

    login(page, asgi_server, "admin")
    page.goto(f"{asgi_server}/clusters/local/")
    md = metadata(kafka)
    assert figure(page, "topics") == f"{len(md.topics):,}"
    assert figure(page, "partitions") == f"{sum(len(t.partitions) for t in md.topics.values()):,}"
    assert figure(page, "brokers") == f"{len(md.brokers):,}"
    assert (
        figure(page, "controller") == "broker"
        and str(md.controller_id) in page.locator('[data-figure="controller"]').inner_text()
    )
    assert figure(page, "rate") == human_rate(450 / interval) == "15"

    # the chart is drawn (uPlot), its legend names the series, the numbers fold away
    page.locator(".chart .uplot canvas").first.wait_for()
    assert "Messages in" in page.locator(".chart .u-legend").inner_text()
    assert page.locator("details.chart-table").get_attribute("open") is None
    assert page.locator("#rate-table td[data-rate]").first.text_content().strip() == "15"
    # and the cluster's card on the clusters page says the same
    page.goto(f"{asgi_server}/clusters/")
    card = page.locator('article[data-cluster="local"]')
    assert card.locator('[data-figure="rate"]').inner_text() == "15"
    assert "online" in card.inner_text()


def test_overview_refreshes_itself_after_a_topic_is_created(
    page, asgi_server, login, kafka, topic_factory
):
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/")
    before = int(figure(page, "topics").replace(",", ""))
    page.evaluate("window.notReloaded = true")
    # while a form on the page has focus, the refresh waits: nobody's typing is swapped away
    page.get_by_role("button", name="Check the task worker").focus()
    topic_factory()
    page.wait_for_timeout(12_000)
    assert figure(page, "topics") == f"{before:,}"
    page.evaluate("document.activeElement.blur()")
    # then htmx fetches the overview partial (every 10 s) and swaps it in place
    page.wait_for_function(
        "n => document.querySelector('[data-figure=topics]').textContent.trim() === String(n)",
        arg=before + 1,
        timeout=25_000,
    )
    assert page.evaluate("window.notReloaded") is True
    # the swapped-in partial's "updated" label counts again (live.js, after the settle)
    expect(page.locator("#overview .updated")).to_have_text(re.compile(r"^updated \d+ s ago$"))


def test_theme_follows_the_system_and_the_toggle_pins_it(page, asgi_server, login, kafka):
    login(page, asgi_server, "viewer")
    background = "getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="dark")
    page.goto(f"{asgi_server}/clusters/")
    dark = page.evaluate(background)
    page.emulate_media(color_scheme="light")
    light = page.evaluate(background)
    assert dark != light
    toggle = page.locator("#theme-toggle")
    assert toggle.inner_text() == "◐ System"
    toggle.click()  # -> light
    toggle.click()  # -> dark, although the system is light
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(background) == dark
    page.reload()
    # set by the inline head script, before the stylesheet: no light flash
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("localStorage.getItem('theme')") == "dark"
    toggle.click()  # -> back to the system
    assert page.evaluate("document.documentElement.dataset.theme") is None
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(f"{asgi_server}{icon}").status == 200
