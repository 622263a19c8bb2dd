"""Readable config tables: humanised values with the raw one in the title, changed from
default first, a name filter and an only-changed toggle; admins edit a row through the
config-change preview."""

import re

import pytest
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.topics import topic_configs

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def html(response) -> str:
    return response.content.decode()


def row(page: str, name: str) -> str:
    return page.split(f'data-config="{name}"')[1].split("</tr>")[0]


def value_cell(page: str, name: str) -> str:
    return re.search(r'<td class="value">(.*?)</td>', row(page, name), re.S)[1].strip()


@pytest.fixture
def configured(topic_factory) -> str:
    return topic_factory(
        partitions=1,
        config={
            "retention.ms": "604800000",
            "segment.bytes": "1073741824",
            "max.compaction.lag.ms": "9223372036854775807",
            "retention.bytes": "-1",
            "cleanup.policy": "compact",
        },
    )


def test_topic_config_values_are_humanised_with_the_raw_value_in_the_title(configured, client_for):
    page = html(client_for("viewer").get(reverse("topics:configs", args=["local", configured])))
    assert value_cell(page, "retention.ms") == '<span class="num" title="604800000">7 d</span>'
    assert value_cell(page, "segment.bytes") == '<span class="num" title="1073741824">1 GiB</span>'
    assert value_cell(page, "max.compaction.lag.ms") == (
        '<span class="num" title="9223372036854775807">unlimited</span>'
    )
    assert value_cell(page, "retention.bytes") == '<span class="num" title="-1">unlimited</span>'
    # a default byte size and a default duration, humanised too
    cell = value_cell(page, "max.message.bytes")
    assert re.fullmatch(r'<span class="num" title="\d+">[\d.]+ (KiB|MiB)</span>', cell), cell
    assert value_cell(page, "cleanup.policy") == '<span class="num">compact</span>'
    # what a name's suffix cannot tell: Long.MAX_VALUE anywhere, -2 of local retention, ""
    assert value_cell(page, "flush.messages") == (
        '<span class="num" title="9223372036854775807">unlimited</span>'
    )
    assert value_cell(page, "local.retention.ms") == (
        '<span class="num" title="-2">as retention.ms</span>'
    )
    assert value_cell(page, "leader.replication.throttled.replicas") == (
        '<span class="muted">none</span>'
    )
    # names wrap at their dots
    assert "<code>retention.<wbr>ms</code>" in row(page, "retention.ms")


def test_changed_first_filter_and_only_changed(configured, client_for):
    c = client_for("viewer")
    url = reverse("topics:configs", args=["local", configured])
    page = html(c.get(url))
    names = re.findall(r'<tr data-config="([^"]+)" class="([^"]*)"', page)
    overrides = [n for n, cls in names if cls == "changed"]
    assert set(overrides) == {
        "retention.ms",
        "segment.bytes",
        "max.compaction.lag.ms",
        "retention.bytes",
        "cleanup.policy",
    }
    # overrides come first, in name order; then other values not at Kafka's default
    assert [n for n, _ in names[: len(overrides)]] == sorted(overrides)
    ranks = [0 if cls == "changed" else 1 if cls == "set" else 2 for _, cls in names]
    assert ranks == sorted(ranks)
    total = len(names)
    # the name filter, as a fragment (search as you type)
    frag = html(c.get(url, {"q": "retention"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in frag and 'id="configs"' in frag
    shown = re.findall(r'data-config="([^"]+)"', frag)
    assert shown and all("retention" in n for n in shown)
    assert f"of {total} configs" in frag
    # only changed: Kafka's defaults left out
    only = re.findall(r'data-config="([^"]+)" class="([^"]*)"', html(c.get(url, {"changed": "1"})))
    assert only and all(cls in ("changed", "set") for _, cls in only)
    assert len(only) < total


def test_admin_edits_a_row_through_the_preview(configured, client_for):
    url = reverse("topics:configs", args=["local", configured])
    assert "row-edit" not in html(client_for("viewer").get(url))
    assert "row-edit" not in html(client_for("operator").get(url))
    c = client_for("admin")
    page = html(c.get(url))
    edit = row(page, "retention.ms")
    action = reverse("topics:config_edit", args=["local", configured])
    # the row's form is a GET to the config-change preview, prefilled with the raw value
    form = re.search(
        r'<form method="get" action="([^"]+)" class="row-edit-form">(.*?)</form>', edit, re.S
    )
    assert form[1] == action
    assert 'name="name" value="retention.ms"' in form[2]
    assert 'name="value" value="604800000"' in form[2]
    # an override can also be removed, through the same preview
    assert 'name="reset" value="on"' in edit
    # a value at its default has no removal
    assert 'name="reset"' not in row(page, "min.insync.replicas")
    # submitting the row's form: the preview old -> new, nothing changed yet
    r = c.get(action, {"name": "retention.ms", "value": "86400000"})
    assert r.status_code == 200
    change = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html(r).split('id="config-change">')[1]))
    assert "604800000" in change and "86400000" in change
    entries = {e.name: e for e in topic_configs(get_cluster("local"), [configured])[configured]}
    assert entries["retention.ms"].value == "604800000"
