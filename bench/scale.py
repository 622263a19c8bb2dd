"""Scale: the first page of 20,000 topics, and of 50,000 groups sorted by lag, and the lag
sampler's pass at that size against its interval.

Setup (timed, not a goal): 20,000 one-partition topics created in CreateTopics requests of
1,000, then 50,000 groups committing offsets (AdminClient.alter_consumer_group_offsets, 500
requests in flight) on 50 of those topics. The broker runs as two nodes of one cluster: a
broker keeps every partition's log file open, and this machine's hard limit of 20,000 open
files per process is below 20,000 partitions plus the broker's own files.

Measured (median of RUNS after one warm-up, Django test client in-process, with the
console's default list index: CONSOLE_LIST_INDEX_S): the first topics page, and the same
with no index yet (cold); the lag sampler's pass (groups.tasks.lag_sample) against
CONSOLE_LAG_SAMPLE_S; the first groups page sorted by lag. References in the same run: one
AdminClient.list_topics and one AdminClient.list_consumer_groups of the whole cluster.
Goals: each first page < 0.5 s; a sampler pass shorter than its interval.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

from bench.common import logged_in_client, setup_django, start_kafka, timed_page, write_result
from bench.groups_list import commit_groups, fill_topics, raw_list_groups
from bench.topics_list import create_topics, raw_list_topics

TOPICS = 20_000
GROUPS = 50_000
GROUP_TOPICS = 50  # the groups commit on the first 50 topics
RUNS = 7
SAMPLER_RUNS = 5
COLD_RUNS = 3
GOAL_S = 0.5


def topic_names() -> list[str]:
    return [f"scale-{i:05d}" for i in range(TOPICS)]


def coordinators_ready(admin, topic: str, timeout: float = 300) -> None:
    """Wait until a commit succeeds: the first one creates __consumer_offsets, whose
    coordinators load while the brokers still take in 20,000 topics' metadata."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

    deadline = time.monotonic() + timeout
    while True:
        req = ConsumerGroupTopicPartitions("bench-group-00000", [TopicPartition(topic, 0, 0)])
        try:
            # librdkafka's timer past the wait: one that ended first aborted the process when
            # the answer came (console/kafka/groups.py COORDINATOR_REQUEST_S)
            admin.alter_consumer_group_offsets([req], request_timeout=90)[req.group_id].result(60)
            return
        except (KafkaException, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def populate(kafka, admin) -> dict[str, float]:
    """Create the topics and the groups; the seconds each took."""
    started = time.perf_counter()
    names = topic_names()
    create_topics(admin, names, batch=1000)
    topics_s = time.perf_counter() - started
    group_topics = names[:GROUP_TOPICS]
    fill_topics(kafka.bootstrap_servers, group_topics, 1, 100)
    coordinators_ready(admin, group_topics[0])
    groups_s = commit_groups(kafka.bootstrap_servers, GROUPS, group_topics, partitions=1, high=100)
    return {"create_topics_s": round(topics_s, 1), "commit_groups_s": round(groups_s, 1)}


def measure(admin) -> tuple[dict, dict]:
    """The figures and the references (Django set up, the cluster populated)."""
    from django.conf import settings

    from console.kafka import cache
    from groups.tasks import lag_sample

    client = logged_in_client("viewer")  # also migrates the database

    def topics_page() -> float:
        return timed_page(client, "/clusters/bench/topics/", b"data-topic=")

    def groups_page() -> float:
        return timed_page(client, "/clusters/bench/groups/?sort=lag", b"data-group=")

    def cold(page) -> float:
        """The page with no list index yet (a new process, or one idle past the stale
        window): it reads the whole cluster's list itself."""
        cache.clear()
        return page()

    topics_page()  # warm: connections, templates
    raw_list_topics(admin, TOPICS)
    topic_pages = [topics_page() for _ in range(RUNS)]
    raw_topics = [raw_list_topics(admin, TOPICS) for _ in range(RUNS)]
    topic_cold = [cold(topics_page) for _ in range(COLD_RUNS)]

    sampler, written = [], 0
    for _ in range(SAMPLER_RUNS):
        started = time.perf_counter()
        written = lag_sample()
        sampler.append(time.perf_counter() - started)

    groups_page()
    raw_list_groups(admin, GROUPS)
    group_pages = [groups_page() for _ in range(RUNS)]
    raw_groups = [raw_list_groups(admin, GROUPS) for _ in range(RUNS)]
    group_cold = [cold(groups_page) for _ in range(COLD_RUNS)]

    def r(xs):
        return [round(x, 4) for x in xs]

    interval = float(settings.CONSOLE_LAG_SAMPLE_S)
    sampler_s = statistics.median(sampler)
    figures = {
        "topics": TOPICS,
        "topics_first_page_s": round(statistics.median(topic_pages), 4),
        "topics_first_page_runs_s": r(topic_pages),
        "groups": GROUPS,
        "group_topics": GROUP_TOPICS,
        "groups_first_page_s": round(statistics.median(group_pages), 4),
        "groups_first_page_runs_s": r(group_pages),
        "topics_first_page_cold_s": round(statistics.median(topic_cold), 4),
        "groups_first_page_cold_s": round(statistics.median(group_cold), 4),
        "list_index_s": float(settings.CONSOLE_LIST_INDEX_S),
        "list_index_stale_s": float(settings.CONSOLE_LIST_INDEX_STALE_S),
        "lag_sampler_s": round(sampler_s, 2),
        "lag_sampler_runs_s": [round(x, 2) for x in sampler],
        "lag_sampler_max_s": round(max(sampler), 2),
        "lag_sampler_interval_s": interval,
        "lag_sampler_keeps_interval": max(sampler) < interval,
        "lag_samples_written": written,
    }
    reference = {
        "raw_list_topics_s": round(statistics.median(raw_topics), 4),
        "raw_list_topics_runs_s": r(raw_topics),
        "raw_list_groups_s": round(statistics.median(raw_groups), 4),
        "raw_list_groups_runs_s": r(raw_groups),
        "what": "AdminClient.list_topics and AdminClient.list_consumer_groups of the whole "
        "cluster, same run",
    }
    return figures, reference


def write(figures: dict, reference: dict, setup: dict) -> None:
    topics_s, groups_s = figures["topics_first_page_s"], figures["groups_first_page_s"]
    write_result(
        "scale",
        {**figures, "setup": setup},
        reference=reference,
        ratios={
            "topics_first_page_over_raw_list_topics": round(
                topics_s / reference["raw_list_topics_s"], 2
            ),
            "groups_first_page_over_raw_list_groups": round(
                groups_s / reference["raw_list_groups_s"], 2
            ),
            "lag_sampler_over_interval": round(
                figures["lag_sampler_max_s"] / figures["lag_sampler_interval_s"], 2
            ),
        },
        targets={
            "topics_first_page_s": f"< {GOAL_S}",
            "groups_first_page_s": f"< {GOAL_S}",
            "lag_sampler_s": "< lag_sampler_interval_s (every pass)",
        },
        notes=f"Two-node KRaft cluster (a broker keeps each partition's log open; the "
        f"machine allows 20,000 open files per process), 1 partition per topic, groups on "
        f"{GROUP_TOPICS} topics; pages through the Django test client in-process, median "
        f"of {RUNS} after one warm-up, with the console's list index (CONSOLE_LIST_INDEX_S "
        f"5, stale window 30: every topic / group from a shared answer refreshed in the "
        f"background); *_cold_s: median of {COLD_RUNS} with no index yet (the page reads "
        f"the whole list itself, as after a restart or 35 s idle); {SAMPLER_RUNS} sampler "
        f"passes back to back (groups.tasks.lag_sample, also writing the samples).",
    )


def main() -> None:
    kafka = start_kafka(
        nodes=2,
        heap_mb=1024,
        **{
            "num.partitions": "1",
            "offsets.topic.num.partitions": "12",
            "offsets.topic.replication.factor": "1",
        },
    )
    admin = None
    try:
        # The console's own default (tests/settings.py, which benchmarks use, turns it off).
        setup_django(CONSOLE_LIST_INDEX_S="5", CONSOLE_LIST_INDEX_STALE_S="30")
        from confluent_kafka.admin import AdminClient

        from console.clusters import reset_clusters

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        setup = populate(kafka, admin)
        figures, reference = measure(admin)
        write(figures, reference, setup)
    finally:
        # The clients go before the brokers: a coordinator request still out when its
        # broker stops can abort the process (librdkafka#4605), hiding what went wrong.
        del admin
        if "console.clusters" in sys.modules:
            sys.modules["console.clusters"].reset_clusters()
        gc.collect()
        kafka.destroy()


if __name__ == "__main__":
    main()
