"""The services beside Kafka: how fast their pages are.

    python -m bench platform            # every part
    python -c "import bench.platform as b; b.main(['schemas'])"

Each part writes its own key of bench/results/platform.json (read, changed, written back),
so parts can run and be re-run on their own.

schemas: the subject list of a real Apicurio Registry holding 2,000 subjects, first page
(50 subjects, each with type, latest version and compatibility level) and a search, as
HTML from the view. Reference: the registry's own GET /subjects, and the 100 reads a page
needs made one after another, in the same run. Target: < 0.3 s.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import fcntl
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
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

SUBJECTS = 2000
TOPICS = 100  # subjects bench-<n>-value of these topics link to them
RUNS = 7
TARGET_S = 0.3


def _post(url: str, body: dict) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def median_time(fn: Callable[[], float], runs: int = RUNS) -> tuple[float, list[float]]:
    fn()  # warm: connections, template compilation
    times = [fn() for _ in range(runs)]
    return statistics.median(times), times


def schemas() -> dict[str, Any]:
    """Subject list with 2,000 subjects."""
    from tools.registry.local import LocalRegistry

    kafka = start_kafka()
    registry = LocalRegistry(Path(tempfile.mkdtemp(prefix="registry-bench-"))).start()
    try:
        os.environ["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"] = registry.url
        setup_django()
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import reset_clusters

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        for f in admin.create_topics(
            [NewTopic(f"bench-{i:05d}", 1, 1) for i in range(TOPICS)], operation_timeout=60
        ).values():
            f.result(120)

        def register(i: int) -> None:
            kind = ("AVRO", "JSON", "PROTOBUF")[i % 3]
            if kind == "AVRO":
                schema = json.dumps(
                    {
                        "type": "record",
                        "name": f"R{i}",
                        "namespace": "bench",
                        "fields": [{"name": "id", "type": "string"}],
                    }
                )
            elif kind == "JSON":
                schema = json.dumps({"type": "object", "properties": {"id": {"type": "string"}}})
            else:
                schema = f'syntax = "proto3";\npackage bench;\nmessage M{i} {{ string id = 1; }}\n'
            body = {"schema": schema} | ({} if kind == "AVRO" else {"schemaType": kind})
            _post(f"{registry.url}/subjects/bench-{i:05d}-value/versions", body)

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(SUBJECTS)))
        load_s = time.monotonic() - started

        client = logged_in_client("viewer")

        reads: list[float] = []  # the selector's own time, as the page states it

        def first_page() -> float:
            t0 = time.perf_counter()
            r = client.get("/clusters/bench/schemas/")
            elapsed = time.perf_counter() - t0
            reads.append(float(re.search(rb"Read in ([0-9.]+) s", r.content).group(1)))
            assert r.status_code == 200, r.status_code
            assert r.content.count(b"<tr data-subject=") == 50
            assert b"data-topic=" in r.content and b'class="error"' not in r.content
            return elapsed

        def search() -> float:
            t0 = time.perf_counter()
            r = client.get("/clusters/bench/schemas/?q=bench-0199", HTTP_HX_REQUEST="true")
            elapsed = time.perf_counter() - t0
            rows = r.content.count(b"<tr data-subject=")
            assert r.status_code == 200 and rows == 10, (r.status_code, rows, r.content[:3000])
            return elapsed

        def last_page() -> float:
            t0 = time.perf_counter()
            r = client.get("/clusters/bench/schemas/?page=40")
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200 and r.content.count(b"<tr data-subject=") == 50
            return elapsed

        def raw_subjects() -> float:
            t0 = time.perf_counter()
            names: list[str] = []
            while True:  # Apicurio answers at most 1,000 subjects a request
                url = f"{registry.url}/subjects?offset={len(names)}&limit=1000"
                with urllib.request.urlopen(url, timeout=30) as resp:
                    page = json.loads(resp.read())
                names += page
                if len(page) < 1000:
                    break
            assert len(names) == SUBJECTS
            return time.perf_counter() - t0

        def raw_page_reads() -> float:
            t0 = time.perf_counter()
            for i in range(50):
                for path in (
                    f"/subjects/bench-{i:05d}-value/versions/latest",
                    f"/config/bench-{i:05d}-value?defaultToGlobal=true",
                ):
                    with urllib.request.urlopen(registry.url + path, timeout=30) as resp:
                        resp.read()
            return time.perf_counter() - t0

        page_s, page_runs = median_time(first_page)
        search_s, _ = median_time(search)
        last_s, _ = median_time(last_page)
        raw_s, _ = median_time(raw_subjects)
        reads_s, _ = median_time(raw_page_reads, 3)
        return {
            "subjects": SUBJECTS,
            "registry": f"Apicurio Registry {registry.version} (ccompat API, in-memory)",
            "first_page_s": round(page_s, 4),
            "first_page_runs_s": [round(x, 4) for x in page_runs],
            "first_page_registry_and_kafka_reads_s": statistics.median(reads[1:]),
            "search_fragment_s": round(search_s, 4),
            "page_40_s": round(last_s, 4),
            "reference": {
                "raw_get_subjects_s": round(raw_s, 4),
                "raw_page_reads_sequential_s": round(reads_s, 4),
                "what": "GET /subjects of all 2,000 (in pages of 1,000, Apicurio's cap); the 100 reads one page needs (latest "
                "version and level of 50 subjects) made one after another",
            },
            "ratios": {"first_page_vs_sequential_reads": round(page_s / reads_s, 3)},
            "targets": {"first_page_s": TARGET_S, "met": page_s < TARGET_S},
            "setup": {"register_2000_s": round(load_s, 2), "topics": TOPICS},
            "notes": "First page = 50 subjects by name, each with type, latest version, "
            "schema id, compatibility level and topic link; the page's 101 registry reads run "
            "12 at a time. Django test client in-process, HTML rendered.",
        }
    finally:
        registry.stop()
        kafka.destroy()


PARTS: dict[str, Callable[[], dict[str, Any]]] = {"schemas": schemas}


def write_part(name: str, figures: dict[str, Any]) -> Path:
    """Put `figures` under `name` in bench/results/platform.json, keeping the other keys."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "platform.json"
    # The same lock as bench/platform_connect.py: two parts never lose each other's key.
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


def main(argv: list[str] | None = None) -> None:
    names = argv if argv else sys.argv[1:] or list(PARTS)
    for name in names:
        write_part(name, PARTS[name]())


if __name__ == "__main__":
    main()
