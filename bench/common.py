"""What every benchmark shares: a fresh Kafka, Django set up, and the results file.

Speed is reported as ratios against a reference run in the same process (for example raw
confluent-kafka consume), so figures from different machines compare.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Benchmarks use the test settings (private var dir and database); set before anything
# imports the console package, whose Celery module would default to console.settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
# The machine is shared: each result records the load average (1, 5, 15 min) when the
# benchmark started and when it wrote its figures, so a slow figure can be read in context.
LOAD_AT_START = os.getloadavg()
# Benchmarks' web processes run the test settings too (for the database), which change some
# of the console's defaults so tests see Kafka changes at once and stay quick: these are the
# deployed values (console/settings.py; tests/bench/test_bench_results.py keeps them equal),
# given back to every benchmark's web process. The identity is read once in 3 s, a topic's
# metadata kept for a second by the messages page, a live-tail viewer held 10,000 rows (a
# second at 10,000 msg/s; the tests' 2,000 dropped rows for viewers that kept up whenever
# the hub handed over a few polls at once).
DEPLOYED = {
    "CONSOLE_IDENTITY_RECENT_S": "3",
    "CONSOLE_BROWSE_METADATA_S": "1",
    "CONSOLE_TAIL_BUFFER": "10000",
}


def setup_django(**env: str) -> None:
    """Configure Django with the test settings (a private var dir and database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("CONSOLE_VAR_DIR", tempfile.mkdtemp(prefix="console-bench-"))
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def start_kafka(nodes: int = 1, heap_mb: int | None = None, **broker_config: str):
    """A fresh KRaft Kafka on free loopback ports, registered as cluster 'bench'."""
    from tools.kafka.local import LocalKafka

    kafka = LocalKafka(
        Path(tempfile.mkdtemp(prefix="kafka-bench-")),
        nodes=nodes,
        heap_mb=heap_mb,
        broker_config=broker_config or None,
        dies_with_us=True,
    )
    kafka.start()
    os.environ["KAFKA_CLUSTERS_0_NAME"] = "bench"
    os.environ["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] = kafka.bootstrap_servers
    from django.apps import apps

    if apps.ready:  # otherwise Django reads the variables when it is set up
        from console.clusters import reset_clusters

        reset_clusters()
    return kafka


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all the machine's cores have spent busy so far (/proc/stat: everything but
    idle and I/O wait), for the share of the cores a run's parts left to the rest."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def broker_settled(kafka, idle_cores: float = 0.05, timeout: float = 60.0) -> float:
    """Wait until the brokers of `kafka` use under `idle_cores` of CPU over a second (after
    a fill they flush and compact for a while); the seconds waited, at most `timeout`."""

    def cpu() -> float:
        return sum(cpu_s(node.process.pid) for node in kafka.nodes)

    started = time.monotonic()
    before = cpu()
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = cpu()
        if now - before < idle_cores:
            break
        before = now
    return round(time.monotonic() - started, 1)


# The host probe's work: about 2 ms of pure Python on this machine.
PROBE_LOOPS = 50_000


def host_probe() -> Callable[[], float]:
    """A fixed piece of pure-Python work, timed: run in turns with a benchmark's requests, its
    median says how fast the shared host ran while they were measured. On this 2-core VM the
    same loop (3,000,000 turns) took 282 to 382 ms in runs 5 s apart, with nothing else
    running: an absolute figure moves with the host by that much, a ratio to a reference
    measured in the same turns does not."""

    def once() -> float:
        t = time.perf_counter()
        total = 0
        for i in range(PROBE_LOOPS):
            total += i * i
        return time.perf_counter() - t

    return once


def python_build() -> dict[str, Any]:
    """The interpreter that ran the benchmark (and its web processes, started with the same
    one): builds differ in speed. On this machine the newest-50 page served by Debian's
    python3.11 took 11-13% less CPU than by the pyenv build the machine's `python3` names."""
    return {
        "version": platform.python_version(),
        "executable": sys.executable,
        "compiler": platform.python_compiler(),
    }


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_result(
    name: str,
    figures: dict[str, Any],
    *,
    reference: dict[str, Any] | None = None,
    ratios: dict[str, float] | None = None,
    targets: dict[str, Any] | None = None,
    notes: str = "",
) -> Path:
    """Write bench/results/<name>.json: figures, ratios, the reference run, date, commit,
    cores, and the load average at the start and the end of the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        **figures,
        "ratios": ratios or {},
        "reference": reference or {},
        "targets": targets or {},
        "notes": notes,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine_cores": os.cpu_count(),
        "python": python_build(),
        "load_average": {
            "start": [round(x, 2) for x in LOAD_AT_START],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
    }
    path = RESULTS / f"{name}.json"
    if path.exists():  # a cost curve (bench/curves.py record_curve) is kept with its own date
        previous = json.loads(path.read_text())
        if "curve" in previous and "curve" not in out:
            out["curve"] = previous["curve"]
    path.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n")
    print(json.dumps(out, indent=2))
    return path


def logged_in_client(role: str = "viewer"):
    """A Django test client logged in as a fresh user with `role` (database migrated)."""
    import uuid

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from console.access import grant_role

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:6]}", password="x")
    grant_role(user, role)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def timed_page(client, url: str, marker: bytes, rows: int = 50) -> float:
    """Seconds to GET `url` through the Django test client; the page must answer 200 with
    `rows` rows (counted by `marker`, e.g. b"data-topic=")."""
    import time

    started = time.perf_counter()
    r = client.get(url)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, (url, r.status_code)
    assert r.content.count(marker) == rows, (url, r.content.count(marker))
    return elapsed
