"""Topics list with 2,000 topics: time to render the first page.

Reference: a raw confluent-kafka AdminClient.list_topics of the same cluster, same run.
Target: first page < 1 s. bench/scale.py reuses the helpers at 20,000 topics.
"""

from __future__ import annotations

import statistics
import time

from bench.common import logged_in_client, setup_django, start_kafka, timed_page, write_result

TOPICS = 2000
RUNS = 7


def create_topics(admin, names: list[str], *, partitions: int = 1, batch: int = 200) -> None:
    """Create `names` (replication 1) in CreateTopics requests of `batch` topics, then wait
    until the metadata shows every one of them."""
    from confluent_kafka.admin import NewTopic

    for i in range(0, len(names), batch):
        futures = admin.create_topics(
            [NewTopic(n, partitions, 1) for n in names[i : i + batch]], operation_timeout=120
        )
        for f in futures.values():
            f.result(300)
    wanted = set(names)
    deadline = time.monotonic() + 300
    while not wanted <= set(admin.list_topics(timeout=60).topics):
        assert time.monotonic() < deadline, "topics not all visible"
        time.sleep(1)


def raw_list_topics(admin, at_least: int) -> float:
    """Seconds for one AdminClient.list_topics of the whole cluster (the reference)."""
    started = time.perf_counter()
    md = admin.list_topics(timeout=60)
    elapsed = time.perf_counter() - started
    assert len(md.topics) >= at_least
    return elapsed


def main() -> None:
    kafka = start_kafka()
    try:
        setup_django(
            KAFKA_CLUSTERS_0_NAME="bench", KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS=kafka.bootstrap_servers
        )
        from confluent_kafka.admin import AdminClient

        from console.clusters import reset_clusters

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        create_topics(admin, [f"bench-{i:05d}" for i in range(TOPICS)])

        client = logged_in_client("viewer")

        def first_page() -> float:
            return timed_page(client, "/clusters/bench/topics/", b"data-topic=")

        def raw() -> float:
            return raw_list_topics(admin, TOPICS)

        first_page()  # warm: client connections, template compilation
        raw()
        pages = [first_page() for _ in range(RUNS)]
        raws = [raw() for _ in range(RUNS)]
        by_messages = []
        for _ in range(3):
            started = time.perf_counter()
            client.get("/clusters/bench/topics/?sort=messages&desc=1")
            by_messages.append(time.perf_counter() - started)
        page_s, raw_s = statistics.median(pages), statistics.median(raws)
        write_result(
            "topics_list",
            {
                "topics": TOPICS,
                "first_page_s": round(page_s, 4),
                "first_page_runs_s": [round(x, 4) for x in pages],
                "sorted_by_messages_s": round(statistics.median(by_messages), 4),
            },
            reference={
                "raw_list_topics_s": round(raw_s, 4),
                "what": "AdminClient.list_topics of the whole cluster",
            },
            ratios={"first_page_over_raw_metadata": round(page_s / raw_s, 2)},
            targets={"first_page_s": "< 1.0"},
            notes="Django test client in-process, median of 7 runs after one warm-up; "
            "first page = 50 topics with watermarks and cleanup.policy for that page; "
            "sorted_by_messages needs watermarks of all 2,000 partitions.",
        )
    finally:
        kafka.destroy()


if __name__ == "__main__":
    main()
