"""Groups list with 5,000 groups over 50 topics: first page sorted by lag.

Page first, then describe: only the 50 shown groups are described and their offsets
fetched; the order by lag comes from the lag sampler's latest run (run once here, timed
separately). Reference: one raw ListGroups call (AdminClient.list_consumer_groups).
Target: first page < 2 s. bench/scale.py reuses the helpers at 50,000 groups.
"""

from __future__ import annotations

import random
import statistics
import time

from bench.common import logged_in_client, setup_django, start_kafka, timed_page, write_result

GROUPS = 5000
TOPICS = 50
PARTITIONS = 2
RUNS = 5


def fill_topics(bootstrap: str, topics: list[str], partitions: int, per_partition: int) -> None:
    """Write `per_partition` one-byte messages to every partition of `topics`."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for t in topics:
        for part in range(partitions):
            for _ in range(per_partition):
                p.produce(t, b"x", partition=part)
        p.poll(0)
    p.flush(60)


def commit_groups(
    bootstrap_servers: str,
    count: int,
    topics: list[str],
    *,
    partitions: int,
    high: int,
    seed: int = 5,
    in_flight: int = 16,
) -> float:
    """Commit offsets for `count` groups bench-group-00000... (each on 1-3 of `topics`, every
    partition, an offset in 0..`high`) through kafka-python's admin client (alter_group_offsets,
    `in_flight` at once). Returns the seconds it took.

    Not confluent-kafka's alter_consumer_group_offsets (500 in flight): 2 of 3 scale runs on
    2026-11-27 aborted in librdkafka 2.15.1 (assertion eonce->refcnt > 0, librdkafka issue
    4605), taken to be these requests (not traced); librdkafka's group admin calls aborted
    the same way in traced runs (console/kafka/groups.py COORDINATOR_REQUEST_S)."""
    from concurrent.futures import ThreadPoolExecutor

    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.structs import OffsetAndMetadata

    bootstrap = [b.strip() for b in bootstrap_servers.split(",") if b.strip()]
    rng = random.Random(seed)
    plans = []
    for g in range(count):
        chosen = rng.sample(topics, rng.randint(1, 3))
        plans.append(
            (
                f"bench-group-{g:05d}",
                {
                    TopicPartition(t, part): OffsetAndMetadata(rng.randint(0, high), "", -1)
                    for t in chosen
                    for part in range(partitions)
                },
            )
        )
    kp = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=120_000,
        max_in_flight_requests_per_connection=in_flight * 2,
    )

    def commit(plan: tuple[str, dict]) -> None:
        group, offsets = plan
        deadline = time.monotonic() + 120
        while True:
            try:
                errors = kp.alter_group_offsets(group, offsets)
            except Exception:  # noqa: BLE001 - a coordinator loading or moving: again
                assert time.monotonic() < deadline, group
                time.sleep(0.5)
                continue
            bad = {tp: e for tp, e in errors.items() if e.__name__ != "NoError"}
            if bad and all(e.retriable for e in bad.values()) and time.monotonic() < deadline:
                # NotCoordinator in the answer: the group's coordinator moved (the run of
                # 2026-11-27 18:13 stopped here), or is still loading: ask it again.
                time.sleep(0.5)
                continue
            assert not bad, (group, bad)
            return

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(commit, plans))
    finally:
        kp.close()
    return time.perf_counter() - started


def raw_list_groups(admin, at_least: int) -> float:
    """Seconds for one AdminClient.list_consumer_groups (the reference)."""
    t0 = time.perf_counter()
    result = admin.list_consumer_groups(request_timeout=60).result()
    elapsed = time.perf_counter() - t0
    assert len(result.valid) >= at_least
    return elapsed


def main() -> None:
    kafka = start_kafka(**{"offsets.topic.num.partitions": "6"})
    try:
        setup_django()
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import reset_clusters
        from groups.tasks import lag_sample

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        topics = [f"gt-{i:02d}" for i in range(TOPICS)]
        for f in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics]).values():
            f.result(60)
        time.sleep(2)
        fill_topics(kafka.bootstrap_servers, topics, PARTITIONS, 100)
        setup_s = commit_groups(
            kafka.bootstrap_servers, GROUPS, topics, partitions=PARTITIONS, high=100
        )

        client = logged_in_client("viewer")  # also migrates the database
        started = time.perf_counter()
        written = lag_sample()
        sampler_s = time.perf_counter() - started

        def first_page() -> float:
            return timed_page(client, "/clusters/bench/groups/?sort=lag", b"data-group=")

        def raw() -> float:
            return raw_list_groups(admin, GROUPS)

        first_page()
        raw()
        pages = [first_page() for _ in range(RUNS)]
        raws = [raw() for _ in range(RUNS)]
        page_s, raw_s = statistics.median(pages), statistics.median(raws)
        write_result(
            "groups_list",
            {
                "groups": GROUPS,
                "topics": TOPICS,
                "first_page_s": round(page_s, 4),
                "first_page_runs_s": [round(x, 4) for x in pages],
                "lag_sampler_s": round(sampler_s, 2),
                "lag_samples_written": written,
                "setup_commit_s": round(setup_s, 1),
            },
            reference={
                "raw_list_groups_s": round(raw_s, 4),
                "what": "AdminClient.list_consumer_groups (one ListGroups)",
            },
            ratios={"first_page_over_raw_list_groups": round(page_s / raw_s, 2)},
            targets={"first_page_s": "< 2.0"},
            notes="Sorted by lag from the sampler's latest run; the 50 shown groups are "
            "described, their committed offsets fetched concurrently and their end "
            "offsets in one ListOffsets; Django test client in-process; median of 5.",
        )
    finally:
        kafka.destroy()


if __name__ == "__main__":
    main()
