"""Committed offsets of many groups (the lag sampler's read): one OffsetFetch per
coordinator gives what one request per group gives, against the real broker."""

import pytest

from console.clusters import get_cluster
from console.kafka import groups as kafka_groups
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def test_many_groups_in_one_request_per_coordinator_match_one_request_each(
    kafka, topic_factory, commit, monkeypatch
):
    t = topic_factory(partitions=2)
    ids = [unique("many") for _ in range(5)]
    for i, group in enumerate(ids):
        commit(group, {(t, 0): i, (t, 1): 10 + i})
    never = unique("never-committed")
    cluster = get_cluster("local")
    one_each = kafka_groups.committed_offsets(cluster, [*ids, never])
    monkeypatch.setattr(kafka_groups, "MANY_GROUPS", 1)
    monkeypatch.setattr(
        kafka_groups,
        "committed_offsets",
        lambda *a: pytest.fail("fell back to one request per group"),
    )
    many = kafka_groups.committed_offsets_many(cluster, [*ids, never])
    assert many == one_each
    assert many[ids[3]] == {(t, 0): 3, (t, 1): 13}
    assert many[never] == {}
