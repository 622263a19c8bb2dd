"""Helpers for group tests: commit known offsets, keep consumers alive in a group."""

import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

# A coordinator that is moving or still loading its offsets (a broker just started): retry.
RETRIABLE = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}


@pytest.fixture
def commit(kafka):
    """commit(group, {(topic, p): offset}) as a real consumer of that group would."""

    def do(group: str, offsets: dict, bootstrap: str | None = None) -> None:
        c = Consumer(
            {
                "bootstrap.servers": bootstrap or kafka.bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
            }
        )
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    c.commit(
                        offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                        asynchronous=False,
                    )
                    return
                except KafkaException as exc:
                    if exc.args[0].code() not in RETRIABLE or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            c.close()

    return do


@pytest.fixture
def live_members(kafka):
    """Start n consumers subscribed to a topic in one group; they stop at teardown."""
    stop = threading.Event()
    threads = []

    def start(group: str, topic: str, n: int, wait_for_assignment: bool = True) -> None:
        assigned = []

        def run(i):
            c = Consumer(
                {
                    "bootstrap.servers": kafka.bootstrap_servers,
                    "group.id": group,
                    "client.id": f"member-{i}",
                    "enable.auto.commit": False,
                    "session.timeout.ms": 6000,
                    "heartbeat.interval.ms": 500,
                }
            )
            c.subscribe([topic], on_assign=lambda cons, parts: assigned.append(i))
            while not stop.is_set():
                c.poll(0.2)
            c.close()

        for i in range(n):
            t = threading.Thread(target=run, args=(i,), daemon=True)
            t.start()
            threads.append(t)
        if wait_for_assignment:
            deadline = time.monotonic() + 30
            while len(set(assigned)) < n and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # let the rebalance settle to Stable

    yield start
    stop.set()
    for t in threads:
        t.join(10)
