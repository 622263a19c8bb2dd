"""A broker's dynamic config, changed from its row: the preview shows old -> new and
changes nothing; the confirmation applies it (audited); read-only configs say why; roles,
read-only clusters and stale previews are refused."""

import re

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, get_cluster, reset_clusters
from console.kafka.brokers import broker_config_alter, broker_config_get
from console.models import AuditEntry

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

KEY = "log.cleaner.backoff.ms"  # dynamic, harmless: how long an idle cleaner sleeps


def html(response) -> str:
    return response.content.decode()


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def form_fields(page: str, form_id: str) -> dict[str, str]:
    form = page.split(f'id="{form_id}"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def value_now() -> tuple[str | None, str]:
    entry = broker_config_get(get_cluster("local"), broker_id=1, key=KEY)
    return entry.value, entry.source


@pytest.fixture
def restore(kafka):
    """Whatever a test sets, broker 1 goes back to its static/default value after it."""
    yield
    if value_now()[1] == "dynamic broker":
        broker_config_alter(get_cluster("local"), broker_id=1, set_={}, delete=[KEY])


def test_broker_config_edit_previews_old_to_new_then_applies(client_for, restore):
    url = reverse("console:broker", args=["local", 1])
    c = client_for("admin")
    old, source = value_now()
    assert old == "15000" and source == "default"
    page = html(c.get(url))
    # the row's edit form: a GET to this page, prefilled with the raw value
    edit = page.split(f'data-config="{KEY}"')[1].split("</tr>")[0]
    assert 'class="row-edit"' in edit and f'name="name" value="{KEY}"' in edit
    assert 'name="value" value="15000"' in edit
    # read-only configs say why (and have no edit)
    ro = page.split('data-config="num.partitions"')[1].split("</tr>")[0]
    assert "read-only" in ro and "row-edit" not in ro
    assert "server.properties" in page

    r = c.get(url, {"name": KEY, "value": "20000"})
    assert r.status_code == 200
    change = text(html(r).split('id="config-change">')[1].split("</p>")[0])
    assert re.search(r"15 s 15000 default → 20 s 20000 dynamic, broker 1", change), change
    assert value_now() == ("15000", "default")  # the preview changed nothing

    r = c.post(url, form_fields(html(r), "config-confirm"))
    assert r.status_code == 302 and r.url.endswith(f"?q={KEY}")
    assert value_now() == ("20000", "dynamic broker")
    entry = AuditEntry.objects.get(action="broker.config", outcome="ok")
    assert entry.target == "broker 1" and entry.params["key"] == KEY
    assert entry.before == {KEY: "15000"} and entry.after == {KEY: "20000"}
    page = html(c.get(r.url))
    assert f"{KEY} updated on broker 1." in page
    changed = page.split(f'data-config="{KEY}"')[1].split("</tr>")[0]
    assert 'title="20000">20 s<' in changed and "dynamic broker" in changed
    assert f'<tr class="changed" data-config="{KEY}"' in page

    # removing the dynamic value: previewed, then applied
    r = c.get(url, {"name": KEY, "reset": "on"})
    assert "back to the static or default value" in html(r)
    r = c.post(url, form_fields(html(r), "config-confirm"))
    assert r.status_code == 302
    assert value_now() == ("15000", "default")


def test_broker_config_edit_refusals(client_for, kafka, restore):
    url = reverse("console:broker", args=["local", 1])
    c = client_for("admin")
    for params, status, reason in [
        ({"name": "num.partitions", "value": "2"}, 400, "read-only"),
        ({"name": "no.such.config", "value": "1"}, 400, "Brokers have no config named"),
        ({"name": KEY, "value": "soon"}, 400, "Invalid value soon"),
        ({"name": KEY, "value": "15000"}, 400, "already 15000"),
        ({"name": KEY, "reset": "on"}, 400, "has no dynamic value"),
        ({"name": KEY}, 400, "Give the new value"),
    ]:
        r = c.get(url, params)
        assert r.status_code == status and reason in html(r), (params, html(r)[-3000:])
        assert 'id="config-confirm"' not in html(r)
    # a POST that was never previewed
    r = c.post(url, {"name": KEY, "value": "20000"})
    assert r.status_code == 400 and "not previewed" in html(r)
    # stale: the value changed since the preview
    fields = form_fields(html(c.get(url, {"name": KEY, "value": "20000"})), "config-confirm")
    broker_config_alter(get_cluster("local"), broker_id=1, set_={KEY: "17000"})
    r = c.post(url, fields)
    assert r.status_code == 409 and "someone changed it" in html(r)
    assert value_now() == ("17000", "dynamic broker")
    # viewers and operators: no edit forms, and a POST is refused and audited
    for role in ("viewer", "operator"):
        page = html(client_for(role).get(url))
        assert "row-edit" not in page
        assert client_for(role).post(url, fields).status_code == 403
        assert client_for(role).get(url, {"name": KEY, "value": "1"}).status_code == 200
    assert AuditEntry.objects.filter(action="broker.config", outcome="denied").count() == 2
    assert value_now() == ("17000", "dynamic broker")
    # a read-only cluster: no edit forms, the POST refused
    saved = all_clusters()
    reset_clusters([*saved, Cluster("ro", kafka.bootstrap_servers, read_only=True)])
    try:
        ro = reverse("console:broker", args=["ro", 1])
        assert "row-edit" not in html(c.get(ro))
        r = c.post(ro, {**fields, "seen_value": "17000"})
        assert r.status_code == 403 and "read-only" in html(r)
    finally:
        reset_clusters(saved)
    assert value_now() == ("17000", "dynamic broker")
