"""The newest page's fast path: records of one millisecond are merged round-robin (one read,
not two), the watermarks asked for beside the metadata are used only when the metadata
names the same partitions, and the seek form's fields are reused per query and role but
rendered afresh with errors."""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka.admin import AdminClient, NewPartitions
from django.urls import reverse

import topics.browse.selectors as sel
from console.clusters import get_cluster
from console.kafka.types import Message
from topics.browse.selectors import Render, Seek, browse_page, merge

T0 = 1_700_000_000_000


def _msg(p: int, offset: int, ts: int) -> Message:
    return Message("t", p, offset, ts, "create", None, b"v")


def test_equal_timestamps_are_taken_round_robin_and_contiguous():
    by_p = {p: [_msg(p, o, T0) for o in range(10)] for p in range(3)}
    newest = merge(by_p, 9, backward=True)
    assert sorted((m.partition, m.offset) for m in newest) == [
        (p, o) for p in range(3) for o in (7, 8, 9)
    ]
    oldest = merge(by_p, 7, backward=False)
    taken = {p: sorted(m.offset for m in oldest if m.partition == p) for p in range(3)}
    assert taken == {0: [0, 1, 2], 1: [0, 1], 2: [0, 1]}
    # time still comes first: a newer record wins over any count
    by_p[2].append(_msg(2, 10, T0 + 1))
    assert [(m.partition, m.offset) for m in merge(by_p, 1, backward=True)] == [(2, 10)]


@pytest.mark.kafka
@pytest.mark.django_db
def test_a_burst_of_one_millisecond_is_one_read(topic_factory, produce, monkeypatch):
    t = topic_factory(partitions=12)
    produce(
        t,
        [
            {"value": f"{p}-{i}".encode(), "partition": p, "timestamp": T0}
            for p in range(12)
            for i in range(30)
        ],
    )
    reads = []
    real = sel._read

    def counted(*args, **kwargs):
        reads.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(sel, "_read", counted)
    page = browse_page(get_cluster("local"), t, Seek(), Render())
    assert len(page.views) == 50 and len(reads) == 1
    per_p = {}
    for v in page.views:
        per_p.setdefault(v.partition, []).append(v.offset)
    assert sorted(len(o) for o in per_p.values()) == [4] * 10 + [5] * 2
    for offs in per_p.values():  # the newest run of each partition
        assert sorted(offs) == list(range(30 - len(offs), 30))


@pytest.mark.kafka
@pytest.mark.django_db
def test_partitions_added_since_the_last_page_are_read(
    kafka, topic_factory, produce, client_for, monkeypatch
):
    t = topic_factory(partitions=1)
    produce(t, [{"value": b"first", "partition": 0, "timestamp": T0}])
    c = client_for("operator")
    url = reverse("topics:messages", args=["local", t])
    assert 'data-partition="0"' in c.get(url).content.decode()
    assert sel._known[("local", get_cluster("local").bootstrap_servers, t)] == (0,)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_partitions([NewPartitions(t, 3)])[t].result(30)
    for _ in range(50):  # until the producer's metadata shows the new partitions
        if len(admin.list_topics(t, timeout=10).topics[t].partitions) == 3:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    produce(t, [{"value": b"second", "partition": 2, "timestamp": T0 + 1}])
    used = []
    real = sel.topology

    def spy(cluster, topic, wanted, info=None, prefetch=None):
        used.append(prefetch is not None and prefetch.partitions)
        return real(cluster, topic, wanted, info, prefetch)

    monkeypatch.setattr(sel, "topology", spy)
    body = ""
    for _ in range(50):  # until the broker's metadata shows the new partitions
        body = c.get(url).content.decode()
        if 'data-partition="2"' in body:
            break
    assert 'data-partition="2"' in body and 'data-partition="0"' in body
    assert used[0] == [0]  # asked for the one partition known, then not used: 3 now
    # the next page asks for all three ahead, and gets the newest of each
    body = c.get(url).content.decode()
    assert used[-1] == [0, 1, 2]
    assert re.findall(r'data-partition="(\d)"', body) == ["2", "0"]


@pytest.mark.kafka
@pytest.mark.django_db
def test_the_seek_form_is_reused_per_query_and_role_never_with_errors(
    topic_factory, produce, client_for
):
    t = topic_factory(partitions=2)
    produce(t, [{"value": b"x", "partition": 0, "timestamp": T0}])
    url = reverse("topics:messages", args=["local", t])
    op, viewer = client_for("operator"), client_for("viewer")

    def form(body: str) -> str:
        return body[
            body.index('<form method="get"') : body.index("</form>", body.index("seek-form"))
        ]

    first = form(op.get(url, {"limit": "7"}).content.decode())
    again = form(op.get(url, {"limit": "7"}).content.decode())
    assert first == again and 'value="7"' in first and 'id="id_q"' in first
    seen = form(viewer.get(url, {"limit": "7"}).content.decode())
    assert 'id="id_q"' not in seen and "needs the operator role" in seen
    bad = op.get(url, {"limit": "7", "mode": "offset", "offset": "999"})
    assert bad.status_code == 400
    assert "beyond the end" in form(bad.content.decode())
    assert "beyond the end" not in form(op.get(url, {"limit": "7"}).content.decode())


def test_browse_forms_share_their_fields_and_never_change_them():
    import copy
    import pickle

    from topics.browse.forms import BrowseForm
    from topics.browse.views import SeekFields

    before = pickle.dumps({k: copy.deepcopy(f.__dict__) for k, f in BrowseForm.base_fields.items()})
    a = BrowseForm({"mode": "offset", "offset": "x", "limit": "0"}, partition_count=3)
    b = BrowseForm({"partitions": "9"}, partition_count=3)
    assert a.fields["q"] is b.fields["q"] is BrowseForm.base_fields["q"]
    assert a.fields is not b.fields
    assert not a.is_valid() and not b.is_valid()
    for form in (a, b):
        for can_read in (True, False):
            str(SeekFields(form, can_read))
    after = pickle.dumps({k: copy.deepcopy(f.__dict__) for k, f in BrowseForm.base_fields.items()})
    assert before == after
