"""Copy between the single-node and the three-node test clusters; a refused delivery stops a
copy with "N delivered, M not sent"; a cancel stops it between checkpoints."""

import pytest
from confluent_kafka import Producer

from console.clusters import get_cluster
from console.jobs import job_cancel
from console.kafka.offsets import watermarks
from console.kafka.replay import read_ranges
from tests.topics.replay.conftest import copy_job, copy_params
from topics.replay.services import plan

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def _fill(bootstrap, topic, n, partitions, big_at=None):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})
    for i in range(n):
        value = b"x" * 20_000 if i == big_at else f"v{i}".encode()
        p.produce(
            topic,
            key=f"k{i}".encode(),
            value=value,
            partition=i % partitions,
            headers=[("n", str(i).encode())],
        )
    assert p.flush(60) == 0


@pytest.mark.kafka3
def test_copy_to_the_three_node_cluster(kafka, kafka3, topic_factory, run_copy):
    src = topic_factory(partitions=3)
    dst = topic_factory(partitions=3, replication=3, bootstrap=kafka3.bootstrap_servers)
    _fill(kafka.bootstrap_servers, src, 3000, 3)
    params = copy_params(src, dst, n=3000, parts=3, keep=False, target_cluster="triple")
    dry = plan(get_cluster("local"), get_cluster("triple"), params)
    assert dry["to_send"] == 3000
    result = run_copy(params)
    assert result["delivered"] == 3000 and result["failed"] == 0
    triple = get_cluster("triple")
    marks = watermarks(triple, [(dst, p) for p in range(3)], max_age=-1)
    assert {f"{dst}:{p}": marks[(dst, p)].high for p in range(3)} == dry["per_target"]
    got = list(read_ranges(triple, dst, {p: (0, marks[(dst, p)].high) for p in range(3)}))
    src_recs = list(read_ranges(get_cluster("local"), src, dict.fromkeys(range(3), (0, 1000))))
    assert sorted((r[2], r[3], r[4], r[5]) for r in got) == sorted(
        (r[2], r[3], r[4], r[5]) for r in src_recs
    )


def test_a_refused_record_stops_the_copy_with_counts(kafka, topic_factory, run_copy):
    src = topic_factory(partitions=1)
    dst = topic_factory(partitions=1, config={"max.message.bytes": "5000"})
    _fill(kafka.bootstrap_servers, src, 20_000, 1, big_at=15_000)
    params = copy_params(src, dst, n=20_000, parts=1)
    result = run_copy(params)
    assert result["failed"] >= 1 and result["stopped_on_failure"]
    assert result["delivered"] <= 15_000 and result["not_sent"] > 0
    assert result["delivered"] + result["not_sent"] == 20_000
    high = watermarks(get_cluster("local"), [(dst, 0)], max_age=-1)[(dst, 0)].high
    assert high == result["delivered"]
    assert any("larger" in e or "too large" in e.lower() for e in result["errors"])


def test_cancel_stops_at_a_checkpoint(kafka, topic_factory, run_copy, settings):
    settings.CONSOLE_REPLAY_CHECKPOINT_S = 0.0
    src, dst = topic_factory(partitions=2), topic_factory(partitions=2)
    _fill(kafka.bootstrap_servers, src, 20_000, 2)
    params = copy_params(src, dst, n=20_000, parts=2)
    job = copy_job(params)
    job_cancel(job.id)  # asked before the first checkpoint: it stops at it
    result = run_copy(params, job=job)
    assert result["cancelled"] and 0 < result["delivered"] < 20_000
    assert result["not_sent"] == 20_000 - result["delivered"]
