"""Generator throughput: a clickstream run as a real Celery task vs plain confluent-kafka.

Task run: the operator's form POST enqueues the job; a real Celery worker (embedded SQLite
broker, as in the demo) generates and produces the events, recording progress in the
database; the clock runs from the POST until the job is recorded as done (delivery
awaited). Reference: the same events, generated beforehand (generation not timed), produced
with a plain confluent-kafka Producer of the same settings (linger 10 ms, lz4, idempotent,
murmur2_random), then flushed. Target: ratio >= 0.5.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import logged_in_client, setup_django, start_kafka, write_result

EVENTS = 300_000
PARTITIONS = 6


def main() -> None:
    os.environ["CONSOLE_TEST_SUBPROCESS"] = "1"  # the bench and its worker share one database
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp(prefix="console-bench-")
    kafka = start_kafka()
    worker = None
    try:
        setup_django()
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import reset_clusters
        from console.generators import events
        from console.models import Job
        from tests.conftest import start_celery_worker

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        for f in admin.create_topics(
            [NewTopic(t, PARTITIONS, 1) for t in ("gen-raw", "gen-task")]
        ).values():
            f.result(60)
        client = logged_in_client("operator")  # also migrates the database
        worker = start_celery_worker(Path(tempfile.mkdtemp(prefix="bench-celery-")))

        # Reference: plain confluent-kafka on pre-generated events.
        pre = list(events(template="clickstream", seed=7, start=0, count=EVENTS))
        p = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "linger.ms": 10,
                "compression.type": "lz4",
                "enable.idempotence": True,
                "batch.num.messages": 10000,
                "partitioner": "murmur2_random",
            }
        )
        delivered = 0

        def on_delivery(err, _msg) -> None:
            nonlocal delivered
            delivered += err is None

        t0 = time.perf_counter()
        for i, (key, value, _headers) in enumerate(pre):
            while True:
                try:
                    p.produce("gen-raw", value=value, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
            if i % 1000 == 0:
                p.poll(0)
        p.flush(120)
        raw_s = time.perf_counter() - t0
        assert delivered == EVENTS, delivered
        del pre

        # The task, end to end.
        t0 = time.perf_counter()
        r = client.post(
            "/clusters/bench/topics/gen-task/produce/generate/",
            {"template": "clickstream", "count": EVENTS},
        )
        assert r.status_code == 302, r.content[-2000:]
        job_id = r.url.rstrip("/").split("/")[-1]
        while not (job := Job.objects.get(id=job_id)).finished:
            time.sleep(0.02)
            assert time.perf_counter() - t0 < 600, job.progress
        task_s = time.perf_counter() - t0
        assert job.state == "succeeded", job.error
        assert job.result["delivered"] == EVENTS, job.result
        task_rate = EVENTS / task_s
        raw_rate = EVENTS / raw_s
        write_result(
            "produce",
            {
                "events": EVENTS,
                "task_events_per_s": round(task_rate),
                "raw_events_per_s": round(raw_rate),
                "ratio": round(task_rate / raw_rate, 3),
                "task_s": round(task_s, 2),
                "in_task_events_per_s": job.result["events_per_s"],
                "per_partition": job.result["per_partition"],
            },
            reference={"raw_s": round(raw_s, 2), "raw_events_per_s": round(raw_rate)},
            ratios={"task_vs_raw": round(task_rate / raw_rate, 3)},
            targets={"ratio": ">= 0.5"},
            notes="task time runs from the form POST to the job recorded done (worker pickup, "
            "generation, produce, flush, progress writes); the reference excludes generation.",
        )
    finally:
        if worker is not None:
            worker.stop()
        kafka.stop()


if __name__ == "__main__":
    main()
