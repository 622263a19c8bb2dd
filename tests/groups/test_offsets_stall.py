"""Group calls while the offsets topic is made or reloaded, and while the broker stalls:
the process asking survives.

librdkafka's admin client (confluent-kafka 2.15.1) killed the process with SIGSEGV when an
OffsetFetch answer carried a coordinator error, as on a new cluster's first request (2 runs
in 6) or while a restarted broker loads its offsets topic (rd_kafka_cgrp_op from
rd_kafka_handle_OffsetFetch, under gdb); console/kafka/offsetfetch.py asks through
kafka-python instead. Its DescribeGroups, OffsetCommit and DeleteGroups aborted the process
when its own timer ended a request the broker answered later (groups.COORDINATOR_REQUEST_S). The asking runs in a child
process, so a crash fails a test instead of ending the session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from tools.kafka.local import LocalKafka

ROOT = Path(__file__).resolve().parents[2]


# What every child starts with: Django, the cluster, and until when it asks (its argv[1]).
PRELUDE = """
import json, sys, time
import django
django.setup()
from console.clusters import get_cluster
from console.kafka.errors import KafkaConsoleError
cluster = get_cluster("stall")
stop = time.monotonic() + float(sys.argv[1])
"""


def _child(k: LocalKafka, code: str, *args: str, timeout_s: str) -> subprocess.Popen:
    """PRELUDE and `code` in a child process with the test settings and `k` as cluster
    "stall"."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "KAFKA_CLUSTERS_0_NAME": "stall",
        "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": k.bootstrap_servers,
        "CONSOLE_KAFKA_TIMEOUT": timeout_s,
    }
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


CHILD = """
from console.kafka.groups import committed_offsets
ok = failed = 0
while time.monotonic() < stop:
    # a group never seen before each time (as on a page of many groups): its coordinator
    # is looked up, on a cluster making its offsets topic, then reloading it
    fresh = f"stall-none-{ok + failed}"
    got = committed_offsets(cluster, [fresh])[fresh]
    if isinstance(got, KafkaConsoleError):
        failed += 1
    else:
        assert got == {}, got
        ok += 1
    time.sleep(0.01)
deadline = time.monotonic() + 30
while isinstance(got := committed_offsets(cluster, ["stall-group"])["stall-group"], KafkaConsoleError):
    assert time.monotonic() < deadline, got
    time.sleep(0.2)
assert got == {(sys.argv[2], 0): 7}, got
print(ok, failed, flush=True)
"""


@pytest.mark.kafka
def test_offsets_asked_while_the_offsets_topic_is_made_and_reloaded_never_crash(tmp_path):
    """From the first request on a new cluster (the offsets topic is made on the first
    coordinator look-up) and through two broker restarts (it is loaded again): answers or
    reasons, and the process lives."""
    k = LocalKafka(tmp_path / "stall", nodes=1).start()
    try:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient, NewTopic

        topic = "stall-topic"
        admin = AdminClient({"bootstrap.servers": k.bootstrap_servers})
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
        seconds = 25
        child = _child(k, CHILD, str(seconds), topic, timeout_s="2")
        time.sleep(4)  # the child's first requests made the offsets topic
        c = Consumer({"bootstrap.servers": k.bootstrap_servers, "group.id": "stall-group"})
        deadline = time.monotonic() + 30
        while True:
            try:
                c.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
                break
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.3)
        c.close()
        for _ in range(2):  # killed and started again: the offsets topic is loaded again
            k.kill_node(1)
            k.start_node(1)
            time.sleep(1)
        out, err = child.communicate(timeout=seconds + 60)
        assert child.returncode == 0, (child.returncode, err[-2000:])
        ok, failed = map(int, out.split())
        assert ok > 0, (ok, failed)
    finally:
        k.destroy()


CALLS_CHILD = """
from concurrent.futures import ThreadPoolExecutor
from console.kafka.groups import group_delete, group_descriptions, offsets_alter

def describe(n):
    got = group_descriptions(cluster, [f"stall-d-{n}", "stall-d"])
    bad = [v for v in got.values() if isinstance(v, KafkaConsoleError)]
    if bad:
        raise bad[0]

def reset(n):  # a group with no members: Kafka takes the commit
    offsets_alter(cluster, f"stall-r-{n}", {(sys.argv[2], 0): 0})

def delete(n):
    try:
        group_delete(cluster, f"stall-x-{n}")
    except KafkaConsoleError as exc:
        if exc.code != "GROUP_ID_NOT_FOUND":  # the answer when it is not stalled
            raise

calls = {"describe": describe, "reset": reset, "delete": delete}
answers = dict.fromkeys(calls, 0)
reasons = {name: [] for name in calls}

def timed(name, n):
    started = time.monotonic()
    try:
        calls[name](n)
        answers[name] += 1
    except KafkaConsoleError as exc:
        reasons[name].append(str(exc))
    assert time.monotonic() - started < 1.5 + 1.5, (name, time.monotonic() - started)  # bounded

n = 0
with ThreadPoolExecutor(len(calls)) as pool:  # all three are out when a stall starts
    while time.monotonic() < stop:
        list(pool.map(timed, calls, [n] * len(calls)))
        n += 1
        time.sleep(0.05)
print(json.dumps({"answers": answers, "reasons": reasons}), flush=True)
"""


@pytest.mark.kafka
def test_group_calls_through_stalls_longer_than_the_timeout_never_crash(tmp_path):
    """A broker that stalls for 3 s against a 1.5 s timeout while groups are described,
    reset and deleted: each call answers or says why within the timeout, and the late
    answers that come after do not abort the process (librdkafka's own timer at the
    cluster timeout did, for each of the three: groups.COORDINATOR_REQUEST_S). A reset or
    delete that timed out says Kafka may still apply it."""
    k = LocalKafka(tmp_path / "stall", nodes=1).start()
    try:
        from confluent_kafka.admin import AdminClient, NewTopic

        topic = "stall-topic"
        admin = AdminClient({"bootstrap.servers": k.bootstrap_servers})
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
        del admin
        seconds = 16
        child = _child(k, CALLS_CHILD, str(seconds), topic, timeout_s="1.5")
        time.sleep(3)  # the child has made its calls
        for _ in range(3):
            k.pause_node(1)
            time.sleep(3)
            k.resume_node(1)
            time.sleep(1)
        out, err = child.communicate(timeout=seconds + 60)
        assert child.returncode == 0, (child.returncode, err[-2000:])
        got = json.loads(out)
        for name in ("describe", "reset", "delete"):
            assert got["answers"][name] > 0 and got["reasons"][name], (name, got)
        for name, change in (("reset", "apply this reset"), ("delete", "delete it")):
            unknown = [r for r in got["reasons"][name] if f"Kafka may still {change}" in r]
            assert unknown, got["reasons"][name]
    finally:
        k.destroy()
