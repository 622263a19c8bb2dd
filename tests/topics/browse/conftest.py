"""What the message browser's tests share."""

from __future__ import annotations

import json
import re

import pytest

from console.clusters import Cluster, MaskRule, all_clusters, reset_clusters

T0 = 1_700_000_000_000


@pytest.fixture
def filled(topic_factory, produce):
    """A topic of 3 partitions holding 60 JSON messages (i, i % 3): message i in partition
    i % 3 at offset i // 3, key k<i>, time T0 + i, headers h=v and h=w."""
    t = topic_factory(partitions=3)
    msgs = [
        {
            "value": json.dumps({"i": i, "p": i % 3}).encode(),
            "key": f"k{i}".encode(),
            "partition": i % 3,
            "timestamp": T0 + i,
            "headers": [("h", b"v"), ("h", b"w")],
        }
        for i in range(60)
    ]
    produce(t, msgs)
    return t


@pytest.fixture
def masked_cluster(kafka):
    """Cluster "masked" (the test broker) hides `$.email` and anything like ann@….com
    from operators; the other roles see it all."""
    saved = all_clusters()
    rules = (
        MaskRule(topics=re.compile(".*"), json_paths=("$.email",), roles=("operator",)),
        MaskRule(topics=re.compile(".*"), regex=re.compile(r"ann@\S+?\.com"), roles=("operator",)),
    )
    reset_clusters([Cluster("masked", kafka.bootstrap_servers, masking=rules)])
    yield "masked"
    reset_clusters(saved)
