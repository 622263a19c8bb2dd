"""Bulk offsets against the real broker."""

import time

import pytest

from console.clusters import get_cluster
from console.kafka.errors import NotFound
from console.kafka.offsets import Watermarks, offsets_for_timestamp, watermarks

pytestmark = pytest.mark.kafka


def test_watermarks_of_many_partitions_in_one_call(kafka, topic_factory, produce):
    a = topic_factory(partitions=2)
    b = topic_factory(partitions=1, config={"retention.ms": "-1"})
    produce(a, [{"value": b"x", "partition": 0}] * 5 + [{"value": b"y", "partition": 1}] * 2)
    marks = watermarks(get_cluster("local"), [(a, 0), (a, 1), (b, 0)])
    assert marks == {(a, 0): Watermarks(0, 5), (a, 1): Watermarks(0, 2), (b, 0): Watermarks(0, 0)}
    assert marks[(a, 0)].count == 5


def test_missing_partition_maps_to_its_error(kafka, topic):
    marks = watermarks(get_cluster("local"), [(topic, 0), (topic, 99)])
    assert marks[(topic, 0)] == Watermarks(0, 0)
    assert isinstance(marks[(topic, 99)], NotFound)


def test_offsets_for_timestamp_between_messages_and_after_the_end(kafka, topic_factory, produce):
    t = topic_factory(partitions=1)
    base = int(time.time() * 1000) - 10_000
    produce(t, [{"value": b"m", "partition": 0, "timestamp": base + i * 1000} for i in range(5)])
    cluster = get_cluster("local")
    assert offsets_for_timestamp(cluster, [(t, 0)], base + 1500) == {(t, 0): 2}
    assert offsets_for_timestamp(cluster, [(t, 0)], base - 1) == {(t, 0): 0}
    assert offsets_for_timestamp(cluster, [(t, 0)], base + 60_000) == {(t, 0): 5}


def test_the_clients_own_call_answers_as_the_wrapper_does(
    kafka, topic_factory, produce, monkeypatch
):
    """Offsets are asked for through the client's own ListOffsets call (one future for the
    batch, console/kafka/offsets.py), which confluent-kafka's AdminClient.list_offsets wraps:
    every kind of answer is the wrapper's, and the call is really the one used."""
    from console.kafka import offsets

    t = topic_factory(partitions=3)
    base = int(time.time() * 1000) - 10_000
    produce(
        t, [{"value": b"m", "partition": i % 2, "timestamp": base + i * 1000} for i in range(6)]
    )
    cluster = get_cluster("local")
    calls = []
    own = offsets._C_LIST_OFFSETS
    monkeypatch.setattr(offsets, "_C_LIST_OFFSETS", lambda *a, **k: calls.append(1) or own(*a, **k))

    def answers():
        parts = [(t, 0), (t, 1), (t, 2), (t, 7)]
        return (
            watermarks(cluster, parts),
            offsets_for_timestamp(cluster, parts[:3], base + 1500),
            offsets.last_stable_offsets(cluster, parts[:3]),
        )

    fast = answers()
    assert calls, "the client's own call was not used"
    assert fast[0][(t, 0)] == Watermarks(0, 3) and fast[1] == {(t, 0): 1, (t, 1): 1, (t, 2): 0}
    assert isinstance(fast[0][(t, 7)], NotFound)
    monkeypatch.setattr(offsets, "_C_LIST_OFFSETS", None)
    wrapped = answers()
    assert {k: str(v) for k, v in fast[0].items()} == {k: str(v) for k, v in wrapped[0].items()}
    assert fast[1:] == wrapped[1:]
