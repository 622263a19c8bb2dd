"""Live tail rows carry the re-produce link a role may follow: for roles that operate, on a
writable cluster, when the topic is not masked for them; never otherwise."""

from __future__ import annotations

import re

import pytest

from console.clusters import Cluster, MaskRule
from console.kafka.types import Message
from topics.tail.hub import View, render_batch

pytestmark = pytest.mark.django_db

MSG = Message(
    topic="orders",
    partition=2,
    offset=41,
    timestamp_ms=1_700_000_000_123,
    timestamp_type="create",
    key=b"k",
    value=b'{"email": "a@b.c"}',
)


def _links(cluster: Cluster, role: str) -> list[str]:
    view = View(role=role)
    out = render_batch(cluster, "orders", (MSG,), {view.key: view}, {})
    row = out["rows"][view.key][0]
    return re.findall(r'class="reproduce small" href="([^"]+)"', row)


def test_operators_and_admins_get_the_link_to_this_message():
    c = Cluster("w", "127.0.0.1:9")
    for role in ("operator", "admin"):
        assert _links(c, role) == [
            "/clusters/w/topics/orders/replay/message/?partition=2&amp;offset=41"
        ], role


def test_no_link_on_a_read_only_cluster_for_a_masked_role_or_a_viewer():
    assert _links(Cluster("ro", "127.0.0.1:9", read_only=True), "admin") == []
    masked = Cluster(
        "m",
        "127.0.0.1:9",
        masking=(MaskRule(topics=re.compile(".*"), json_paths=("$.email",), roles=("operator",)),),
    )
    assert _links(masked, "operator") == []
    assert _links(masked, "admin") != []  # the rule masks operators only
    assert _links(Cluster("w", "127.0.0.1:9"), "viewer") == []
