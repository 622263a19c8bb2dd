"""Server time of every page of the console on the demo data: median and p95 of 20 loads.

Seeds a fresh one-node Kafka the way `make demo` does (`manage.py demo_seed`: topics clicks
and orders, 22,000 messages, group clicks-analytics half-way through clicks; `demo_crowd`:
group clicks-dashboard with 8 live members), takes a few rounds of the throughput and lag
samplers (the charts' data), and makes one produce job through its form (a job page and
audit entries). Then loads every page of the URL conf that answers GET, as an admin (who
sees the most), with the Django test client in this process: the time is the server's
(middleware, view, Kafka reads, template), without network or browser. Loads go round
robin, page after page, so a burst of load on the shared machine spreads over all pages.
The first load of each page (connections, template compilation) is kept apart as first_s.
Every URL name is measured, or skipped with its reason (SKIPPED, SKIPPED_AREAS), or listed
in the result's not_measured (URLs newer than this list: add them here).
Target: no page's median over 0.150 s.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time

from bench.common import ROOT, logged_in_client, setup_django, start_kafka, write_result

LOADS = 20
TARGET_S = 0.150
CLUSTER = "bench"
GROUP = "clicks-analytics"  # demo_seed: committed half-way, so it has lag
CROWD = "clicks-dashboard"  # demo_crowd: 8 live members

# URL names not measured, and why.
SKIPPED = {
    "console:home": "a redirect to the clusters list",
    "console:worker_check": "POST only (sends a probe task to the worker)",
    "console:job_cancel": "POST only",
    "topics:produce_message": "POST only (queues a job)",
    "topics:produce_generate": "POST only (queues a job)",
    "topics:messages_download": "a download streamed to its end, not a page",
    "topics:message_record": "one record as JSON for a row's copy button, not a page",
    "groups:undo": "needs a finished offset reset to undo",
    "topics:replay_copy": "POST only (a preview of a copy; its form is on topics:replay)",
    "topics:replay_redrive": "POST only (a preview of a redrive; its form is on topics:replay)",
    "topics:replay_import": "POST only (an uploaded file)",
    "topics:replay_confirm": "POST only (queues a job)",
    "login": "public form, no Kafka read",
    "logout": "POST only",
    "healthz": "probe, not a page",
    "readyz": "probe, not a page",
    "metrics": "scrape endpoint, not a page",
}
# Whole areas not measured, and why.
SKIPPED_AREAS = {
    "connect:": "Kafka Connect pages: the demo stack has no Connect cluster",
    "schemas:": "Schema Registry pages: the demo stack has no registry",
}


def _pages(job_id: str, broker_id: int) -> dict[str, tuple[str, str, dict[str, str]]]:
    """label -> (URL name, path, extra headers): every page, and the live-refresh fragments
    dashboards poll (htmx requests), on the demo data."""
    c, t = f"/clusters/{CLUSTER}", f"/clusters/{CLUSTER}/topics/clicks"
    g = f"/clusters/{CLUSTER}/groups"
    hx = {"HTTP_HX_REQUEST": "true"}
    return {
        "clusters": ("console:clusters", "/clusters/", {}),
        "cluster_overview": ("console:cluster", f"{c}/", {}),
        "cluster_overview_refresh": ("console:cluster", f"{c}/", hx),
        "broker": ("console:broker", f"{c}/brokers/{broker_id}/", {}),
        "audit": ("console:audit", "/audit/", {}),
        "job": ("console:job", f"/jobs/{job_id}/", {}),
        "topic_list": ("topics:list", f"{c}/topics/", {}),
        "topic_list_refresh": ("topics:list", f"{c}/topics/", hx),
        "topic_list_by_size": ("topics:list", f"{c}/topics/?sort=size&desc=1", {}),
        "topic_create": ("topics:create", f"{c}/topics/+new/", {}),
        "topic_partitions": ("topics:detail", f"{t}/", {}),
        "topic_partitions_refresh": ("topics:detail", f"{t}/", hx),
        "topic_configs": ("topics:configs", f"{t}/configs/", {}),
        "topic_config_edit_preview": (
            "topics:config_edit",
            f"{t}/configs/edit/?name=retention.ms&value=86400000",
            {},
        ),
        "topic_skew": ("topics:skew", f"{t}/skew/", {}),
        "topic_consumers": ("groups:for_topic", f"{g}/+for-topic/clicks/", {}),
        "topic_messages": ("topics:messages", f"{t}/messages/", {}),
        "topic_messages_oldest": ("topics:messages", f"{t}/messages/?mode=oldest", {}),
        # A search runs in chunks of about a second each; its first chunk, for a value held
        # by one message (the whole topic scanned), and for a word in one click of six (a
        # chunk full of matches: bounded by the results a chunk may send, not by time).
        "topic_search_first_chunk": (
            "topics:messages_search",
            f"{t}/messages/search/?mode=oldest&q=%22seq%22%3A12345%2C",
            {},
        ),
        "topic_search_many_matches_first_chunk": (
            "topics:messages_search",
            f"{t}/messages/search/?mode=oldest&q=checkout",
            {},
        ),
        "topic_tail": ("topics:tail", f"{t}/tail/", {}),
        "topic_produce": ("topics:produce", f"{t}/produce/", {}),
        "topic_produce_preview": ("topics:produce_preview", f"{t}/produce/preview/?key=u-1", {}),
        "topic_replay": ("topics:replay", f"{t}/replay/", {}),
        "topic_replay_message_form": (
            "topics:replay_message",
            f"{t}/replay/message/?partition=0&offset=5",
            {},
        ),
        "topic_operations": ("topics:operations", f"{t}/operations/", {}),
        "topic_delete_preview": ("topics:delete", f"{t}/delete/", {}),
        "topic_partitions_add_preview": ("topics:partitions_add", f"{t}/partitions/?total=8", {}),
        "topic_purge_preview": ("topics:purge", f"{t}/purge/", {}),
        "group_list": ("groups:list", f"{g}/", {}),
        "group_list_refresh": ("groups:list", f"{g}/", hx),
        "group_list_by_time_lag": ("groups:list", f"{g}/?sort=time_lag&desc=1", {}),
        "group_detail": ("groups:detail", f"{g}/{GROUP}/", {}),
        "group_detail_refresh": ("groups:detail", f"{g}/{GROUP}/", hx),
        "group_detail_live_members": ("groups:detail", f"{g}/{CROWD}/", {}),
        "group_reset_form": ("groups:reset", f"{g}/{GROUP}/reset/", {}),
        "group_reset_preview": (
            "groups:reset",
            f"{g}/{GROUP}/reset/?topic=clicks&all_partitions=on&target=earliest",
            {},
        ),
        "group_delete_preview": ("groups:delete", f"{g}/{GROUP}/delete/", {}),
    }


def _url_names() -> set[str]:
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, ns=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, ns + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                yield ns + p.name

    return set(walk(get_resolver().url_patterns))


def _seed(bootstrap: str) -> subprocess.Popen:
    """Demo topics, messages and groups as `make demo` makes them; the crowd keeps running."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("demo_seed", cluster=CLUSTER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crowd = subprocess.Popen(
        [sys.executable, "manage.py", "demo_crowd", "--cluster", CLUSTER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 90
    while True:  # the crowd's members joined and were assigned the partitions
        desc = admin.describe_consumer_groups([CROWD])[CROWD]
        try:
            if len(desc.result(10).members) == 8:
                break
        except Exception:  # noqa: BLE001 - not there yet
            pass
        assert time.monotonic() < deadline, "demo_crowd's group did not form"
        time.sleep(1)
    return crowd


def _samples() -> None:
    """A few rounds of the samplers Celery beat runs (charts, rates, sorted lag)."""
    from console.tasks import throughput_sample
    from groups.tasks import lag_sample

    for _ in range(4):
        throughput_sample()
        lag_sample()
        time.sleep(1)


def _produce_job(admin) -> str:
    """One message produced through the form, its task run here as a worker runs it."""
    from console.models import Job
    from topics.produce.tasks import message_produce_task

    r = admin.post(
        f"/clusters/{CLUSTER}/topics/orders/produce/message/",
        {"key": "bench", "value": '{"bench": true}', "value_format": "json", "compression": "none"},
    )
    assert r.status_code == 302, (r.status_code, r.content[-2000:])
    job_id = re.search(r"/jobs/([0-9a-f-]+)/", r["Location"]).group(1)
    message_produce_task.apply(kwargs={"job_id": job_id})
    job = Job.objects.get(id=job_id)
    assert job.state == Job.State.SUCCEEDED, (job.state, job.error)
    return job_id


def main() -> None:
    kafka = start_kafka()
    crowd = None
    try:
        setup_django()
        from console.clusters import reset_clusters

        reset_clusters()
        t0 = time.perf_counter()
        crowd = _seed(kafka.bootstrap_servers)
        admin = logged_in_client("admin")
        _samples()
        job_id = _produce_job(admin)
        seed_s = time.perf_counter() - t0
        from confluent_kafka.admin import AdminClient

        brokers = AdminClient({"bootstrap.servers": kafka.bootstrap_servers}).list_topics(
            timeout=10
        )
        broker_id = min(brokers.brokers)
        pages = _pages(job_id, broker_id)

        names = _url_names()
        skipped = {
            **SKIPPED,
            **{n: why for n in names for area, why in SKIPPED_AREAS.items() if n.startswith(area)},
        }
        skipped = {n: why for n, why in sorted(skipped.items()) if n in names}
        # URLs added since this list was written: reported, to be measured here next time.
        not_measured = sorted(names - {n for n, _, _ in pages.values()} - set(skipped))

        first: dict[str, float] = {}
        sizes: dict[str, int] = {}
        for label, (_name, path, headers) in pages.items():
            started = time.perf_counter()
            r = admin.get(path, **headers)
            first[label] = time.perf_counter() - started
            assert r.status_code == 200, (label, path, r.status_code, r.content[-1500:])
            sizes[label] = len(r.content)
        times: dict[str, list[float]] = {label: [] for label in pages}
        for _ in range(LOADS):
            for label, (_name, path, headers) in pages.items():
                started = time.perf_counter()
                r = admin.get(path, **headers)
                times[label].append(time.perf_counter() - started)
                assert r.status_code == 200, (label, r.status_code)

        per_page = {}
        for label, ts in times.items():
            ts = sorted(ts)
            per_page[label] = {
                "url": pages[label][1] + (" (htmx refresh)" if pages[label][2] else ""),
                "median_s": round(statistics.median(ts), 4),
                "p95_s": round(ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))], 4),
                "first_s": round(first[label], 4),
                "bytes": sizes[label],
            }
        over = sorted(k for k, v in per_page.items() if v["median_s"] > TARGET_S)
        p95_over = sorted(k for k, v in per_page.items() if v["p95_s"] > TARGET_S)
        slowest = max(per_page, key=lambda k: per_page[k]["median_s"])
        write_result(
            "pages",
            {
                "pages": per_page,
                "loads_per_page": LOADS,
                "max_median_s": per_page[slowest]["median_s"],
                "slowest_page": slowest,
                "max_p95_s": max(v["p95_s"] for v in per_page.values()),
                "over_target_median": over,
                "over_target_p95": p95_over,
                "skipped": skipped,
                "not_measured": not_measured,
                "seed_s": round(seed_s, 1),
            },
            targets={"median_s": f"<= {TARGET_S} for every page"},
            notes="Django test client in process (server time: middleware, view, Kafka reads, "
            "template; no network, no browser), logged in as admin, one-node Kafka on "
            "loopback with the demo data (demo_seed + demo_crowd), 20 loads per page taken "
            "round robin after one first load per page (first_s). Pages share Kafka "
            "metadata and watermark reads within a process for a moment, as they do when "
            "several people watch the same dashboard.",
        )
    finally:
        if crowd is not None:
            crowd.terminate()
            crowd.wait(30)
        kafka.destroy()


if __name__ == "__main__":
    main()
