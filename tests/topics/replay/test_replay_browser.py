"""Headless Chromium: re-produce a message row with an edit; redrive a dead-letter topic
through preview, confirm and the job's report."""

import pytest
from playwright.sync_api import expect

from console.clusters import get_cluster
from console.kafka.replay import message_at

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


def test_reproduce_a_row_with_an_edit(
    page, asgi_server, login, celery_worker, topic_factory, produce
):
    t = topic_factory(partitions=2)
    produce(
        t,
        [
            {
                "key": b"user-7",
                "value": b'{"n": 1}',
                "partition": 1,
                "headers": [("trace-id", b"abc"), ("tenant", b"acme")],
            }
        ],
    )
    login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/")
    row = page.locator('tr.msg[data-partition="1"][data-offset="0"]')
    row.locator("a.reproduce").click()
    expect(page.locator("#id_value")).to_have_value('{"n": 1}')
    expect(page.locator("#id_partition")).to_have_value("1")
    page.fill("#id_value", '{"n": 2}')
    page.uncheck("#header_carry_0")  # trace-id stays behind
    page.click("#reproduce-form button[type=submit]")
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(status).to_contain_text("partition 1 at offset 1")
    msg = message_at(get_cluster("local"), t, 1, 1)
    assert msg.key == b"user-7" and msg.value == b'{"n": 2}'
    assert msg.headers == (("tenant", b"acme"),)


def test_viewer_sees_no_reproduce_link(page, asgi_server, login, topic_factory, produce):
    t = topic_factory(partitions=1)
    produce(t, [b"x"])
    login(page, asgi_server, "viewer")
    page.goto(f"{asgi_server}/clusters/local/topics/{t}/messages/")
    expect(page.locator("tr.msg")).to_have_count(1)
    expect(page.locator("a.reproduce")).to_have_count(0)
    expect(page.locator("nav.tabs")).not_to_contain_text("Replay")


def test_redrive_from_a_search_through_preview_confirm_and_report(
    page, asgi_server, login, celery_worker, topic_factory, produce
):
    dlq, a, b = (
        topic_factory(partitions=1),
        topic_factory(partitions=2),
        topic_factory(partitions=2),
    )
    produce(
        dlq,
        [
            {
                "key": f"k{i}".encode(),
                "value": b"v",
                "headers": [("x-original-topic", (a if i % 2 else b).encode())],
            }
            for i in range(10)
        ]
        + [{"key": b"lost", "value": b"v"}],
    )
    login(page, asgi_server, "operator")
    # From a search of the dead-letter topic: all records carry "v", so all match.
    page.goto(f"{asgi_server}/clusters/local/topics/{dlq}/messages/?mode=oldest&q=v")
    page.click("#replay-matches")
    expect(page.locator("#replay-search")).to_contain_text("only the records the search")
    page.click("#redrive-form button[type=submit]")
    preview = page.locator("#replay-preview")
    expect(preview).to_have_attribute("data-to-send", "10")
    expect(page.locator("#preview-unrouted")).to_contain_text("no original-topic header")
    expect(page.locator("#preview-targets")).to_contain_text(a)
    page.click("#confirm")
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(status).to_contain_text("delivered 10 records")
    expect(page.locator("#job-per-partition")).to_contain_text(a)
    expect(page.locator("#job-unrouted")).to_contain_text("no original-topic header")
