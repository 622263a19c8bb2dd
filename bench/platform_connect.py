"""Kafka Connect's connector list: how fast the page is with 200 connectors.

    python -m bench platform_connect

A real Connect worker (tools/connect, distributed mode) against a fresh Kafka holds 200
FileStreamSource connectors, each with one running task. Timed: the connector list as HTML
from the view (Django test client in-process), and the htmx search fragment. Reference: the
worker's own GET /connectors?expand=status&expand=info, the one request the page makes, in
the same run. Target: < 0.3 s. Writes the "connect" key of bench/results/platform.json
(read, changed, written back: the other keys, e.g. "schemas", stay).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import fcntl
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import (
    LOAD_AT_START,
    RESULTS,
    git_commit,
    logged_in_client,
    setup_django,
    start_kafka,
)
from bench.platform import median_time

CONNECTORS = 200
TARGET_S = 0.3
SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"


def _create(url: str, name: str, config: dict[str, str]) -> None:
    body = json.dumps({"name": name, "config": config}).encode()
    for attempt in range(20):  # a rebalance in progress answers 409: try again
        req = urllib.request.Request(
            url + "/connectors",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                resp.read()
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 409 or attempt == 19:
                raise
            time.sleep(0.5)


def connect() -> dict[str, Any]:
    """Connector list with 200 connectors."""
    from tools.connect.local import LocalConnect

    kafka = start_kafka()
    worker = LocalConnect(
        Path(tempfile.mkdtemp(prefix="connect-bench-")),
        bootstrap=kafka.bootstrap_servers,
        heap_mb=768,
    )
    try:
        worker.start(timeout=180)
        os.environ["KAFKA_CLUSTERS_0_KAFKACONNECT_0_NAME"] = "main"
        os.environ["KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS"] = worker.url
        setup_django()
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import reset_clusters

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        admin.create_topics([NewTopic("bench-connect", 1, 1)])["bench-connect"].result(60)
        src = Path(tempfile.mkdtemp(prefix="connect-bench-files-")) / "in.txt"
        src.write_text("one\ntwo\n")

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda i: _create(
                        worker.url,
                        f"bench-{i:04d}",
                        {
                            "connector.class": SOURCE,
                            "file": str(src),
                            "topic": "bench-connect",
                            "tasks.max": "1",
                        },
                    ),
                    range(CONNECTORS),
                )
            )
        # wait until every connector reports one running task
        deadline = time.monotonic() + 300
        while True:
            raw = worker.get("/connectors?expand=status", timeout=30)
            running = sum(
                1
                for d in raw.values()
                if any(t["state"] == "RUNNING" for t in d["status"]["tasks"])
            )
            if len(raw) == CONNECTORS and running == CONNECTORS:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{running}/{len(raw)} connectors running after 300 s")
            time.sleep(1)
        load_s = time.monotonic() - started

        client = logged_in_client("viewer")

        def page() -> float:
            t0 = time.perf_counter()
            r = client.get("/clusters/bench/connect/main/")
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200, r.status_code
            assert r.content.count(b"<tr data-connector=") == CONNECTORS
            return elapsed

        def search() -> float:
            t0 = time.perf_counter()
            r = client.get("/clusters/bench/connect/main/?q=bench-019", HTTP_HX_REQUEST="true")
            elapsed = time.perf_counter() - t0
            rows = r.content.count(b"<tr data-connector=")
            assert r.status_code == 200 and rows == 10, (r.status_code, rows)
            return elapsed

        def raw_list() -> float:
            t0 = time.perf_counter()
            got = worker.get("/connectors?expand=status&expand=info", timeout=30)
            assert len(got) == CONNECTORS
            return time.perf_counter() - t0

        page_s, page_runs = median_time(page)
        search_s, _ = median_time(search)
        raw_s, _ = median_time(raw_list)
        return {
            "connectors": CONNECTORS,
            "worker": f"Kafka Connect {worker.get('/')['version']} (distributed, one worker)",
            "list_page_s": round(page_s, 4),
            "list_page_runs_s": [round(x, 4) for x in page_runs],
            "search_fragment_s": round(search_s, 4),
            "reference": {
                "raw_expand_status_info_s": round(raw_s, 4),
                "what": "the worker's GET /connectors?expand=status&expand=info (all 200), "
                "the one request the page makes",
            },
            "ratios": {"list_page_vs_raw_request": round(page_s / raw_s, 3)},
            "targets": {"list_page_s": TARGET_S, "met": page_s < TARGET_S},
            "setup": {"create_200_and_wait_running_s": round(load_s, 2)},
            "notes": "The whole list (no pages): name, state, type, class, tasks running, "
            "failed and total per connector. Django test client in-process, HTML rendered.",
        }
    finally:
        worker.destroy()
        kafka.destroy()


def write_part(name: str, figures: dict[str, Any]) -> Path:
    """Put `figures` under `name` in bench/results/platform.json, keeping the other keys."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "platform.json"
    with open(RESULTS / ".platform.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            doc = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            doc = {}
        doc[name] = {
            **figures,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine_cores": os.cpu_count(),
            "load_average": {
                "start": [round(x, 2) for x in LOAD_AT_START],
                "end": [round(x, 2) for x in os.getloadavg()],
            },
        }
        path.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({name: doc[name]}, indent=2))
    return path


def main() -> None:
    write_part("connect", connect())


if __name__ == "__main__":
    main()
