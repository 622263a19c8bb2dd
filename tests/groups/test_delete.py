"""Deleting a consumer group: a preview of the committed offsets it loses, then the typed id.

Against the real broker: the preview changes nothing, the confirmation needs the exact id
and the preview's offsets, and a group with members or with offsets committed since the
preview is refused (409) with the reason on the page.
"""

import re

import pytest
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.groups import committed_offsets
from console.models import AuditEntry
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def offsets_of(group):
    return committed_offsets(get_cluster("local"), [group])[group]


def seen_offsets(page: str) -> str:
    return re.search(r'name="seen_offsets" value="([0-9a-f]+)"', page)[1]


@pytest.fixture
def idle_group(topic_factory, produce, commit):
    """A group with no members and commits at 5 and 3 on a 2-partition topic."""
    t = topic_factory(partitions=2)
    produce(t, [{"value": b"m", "partition": p} for p in (0, 1) for _ in range(8)])
    group = unique("idle")
    commit(group, {(t, 0): 5, (t, 1): 3})
    return t, group


def test_delete_preview_lists_the_offsets_lost_and_changes_nothing(idle_group, client_for):
    t, group = idle_group
    r = client_for("admin").get(reverse("groups:delete", args=["local", group]))
    page = r.content.decode()
    assert r.status_code == 200
    assert re.search(r'id="group-state">Empty<', page)
    assert re.search(r'id="group-members">0<', page)
    assert f'data-tp="{t}:0" data-committed="5"' in page
    assert f'data-tp="{t}:1" data-committed="3"' in page
    assert 'id="delete-form"' in page and 'id="refusal"' not in page
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 3}
    # the group page everyone sees links to the preview; it holds no delete form
    detail = client_for("admin").get(reverse("groups:detail", args=["local", group]))
    assert 'id="delete-preview"' in detail.content.decode()
    assert 'name="confirm"' not in detail.content.decode()
    viewer = client_for("viewer").get(reverse("groups:detail", args=["local", group]))
    assert 'id="delete-preview"' not in viewer.content.decode()


def test_delete_needs_admin_the_typed_id_and_the_preview(idle_group, client_for):
    t, group = idle_group
    url = reverse("groups:delete", args=["local", group])
    for role in ("viewer", "operator"):
        assert client_for(role).get(url).status_code == 403
        assert client_for(role).post(url, {"confirm": group}).status_code == 403
    c = client_for("admin")
    seen = seen_offsets(c.get(url).content.decode())
    for data, error in [
        ({}, "This field is required"),
        ({"seen_offsets": seen}, "This field is required"),
        ({"seen_offsets": seen, "confirm": "wrong"}, "exactly to delete the group"),
        ({"seen_offsets": seen, "confirm": group + " "}, "exactly to delete the group"),
        ({"confirm": group}, "carries no preview"),
    ]:
        r = c.post(url, data)
        page = r.content.decode()
        assert r.status_code == 400 and error in page, (data, r.status_code)
        assert 'id="delete-form"' in page and "<html" in page  # the preview, shown again
    assert offsets_of(group) == {(t, 0): 5, (t, 1): 3}
    assert not AuditEntry.objects.filter(action="group.delete").exists()
    r = c.post(url, {"seen_offsets": seen, "confirm": group})
    assert r.status_code == 302 and r.url.endswith("/groups/")
    assert offsets_of(group) == {}
    entry = AuditEntry.objects.get(action="group.delete", outcome="ok")
    assert entry.before == {f"{t}:0": 5, f"{t}:1": 3}


def test_delete_refused_when_offsets_changed_since_the_preview(idle_group, commit, client_for):
    t, group = idle_group
    url = reverse("groups:delete", args=["local", group])
    c = client_for("admin")
    seen = seen_offsets(c.get(url).content.decode())
    commit(group, {(t, 0): 7})
    r = c.post(url, {"seen_offsets": seen, "confirm": group})
    page = r.content.decode()
    assert r.status_code == 409 and "committed other offsets since the preview" in page
    assert f'data-tp="{t}:0" data-committed="7"' in page  # the new preview
    assert seen_offsets(page) != seen
    assert offsets_of(group) == {(t, 0): 7, (t, 1): 3}
    assert AuditEntry.objects.get(action="group.delete").outcome == "error"


def test_delete_of_a_group_with_members_is_refused_with_the_reason(
    topic_factory, client_for, live_members
):
    t = topic_factory(partitions=1)
    group = unique("busy")
    live_members(group, t, 1)
    c = client_for("admin")
    url = reverse("groups:delete", args=["local", group])
    page = c.get(url).content.decode()
    assert f"Group {group} has 1 active member" in page and "stop them first" in page
    assert 'id="refusal"' in page and 'id="delete-form"' not in page  # nothing to confirm
    r = c.post(url, {"seen_offsets": "0" * 16, "confirm": group})
    page = r.content.decode()
    assert r.status_code == 409
    assert f"Group {group} has 1 active member" in page and "Kafka refuses to delete" in page
