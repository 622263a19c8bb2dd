"""Load: simulated users walking the console's pages, served by the web process.

A deployment as the README's "Production" describes it: web process(es) (console/serve.py)
with the production settings (DEBUG off, cached templates, manifest static files), PostgreSQL,
Redis (Celery broker and channel layer), a Celery worker and beat; two Kafka clusters:
`bench` with the demo data (`manage.py demo_seed`: clicks, orders, a lagging group) and
`other`, a second one-node cluster that the frozen run stops with SIGSTOP.

Each simulated user is a closed loop (asyncio streams on uvloop, HTTP/1.1 keep-alive, its
own session cookie): it asks for a page, waits for the whole answer, thinks 0.25 s on average
(uniform 0.125 to 0.375 s), and asks for the next one, in this mix (weights):
cluster overview 15, topic list 20, a topic's partitions 15, newest messages 15, a
search chunk 5 (the first chunk of a search of the clicks' values for "checkout"),
group list 15, group detail 14, produce one message (POST) 1. Every
request counts as a page view; a status other than 200 (302 for the produce POST), a
timeout (10 s) or a connection error is an error. The first 5 s of each run are a warm-up
and not counted.

Runs: 20, 100, 200 users on one process; 100 and 200 users on two (each user alternates
between the two ports, a trivial round-robin); 400 users on one and on two (at 200 users
two processes serve near the 800/s that 200 users thinking 0.25 s can ask for, while one
is saturated: at 400 both are); 100 users on one with cluster `other` frozen
(the users ask only for `bench`: the frozen one must not slow them); and, as references
for the shared Kafka reads in the same run, 100 users on one process with
CONSOLE_KAFKA_SHARED_READS_S=1 (answers shared for a second) and =-1 (every page reads
Kafka afresh); the other runs use the default, 0 (pages share the requests in flight); and
100 users with the shared page copies off (CONSOLE_SHARED_PAGE_S=0; the default is 1 s);
and 200 users on one process, then on two, each process limited to half a core by a control
group of its own (a container's CPU limit): on 2 cores shared with the client, Kafka,
PostgreSQL, Redis and Celery, an unlimited process takes a whole core, and a second one only
what is left. Per run: page views/s, p50, p99, errors, the server processes' CPU per page
(ms: independent of the machine's other load), the metadata and watermark requests they
sent to Kafka per page, page views per core the servers used, the cores busy on the whole
machine and what the servers and the client left of them to the rest (Kafka, PostgreSQL,
Redis, Celery, the kernel), the client's CPU, and the load average before and after.

Reference in the same run: /healthz (no database, no Kafka, no template) at 100 users
with the same think time: what the server and the client alone cost on this machine now.

Targets (the "Production for real" issue): one process >= 300 page views/s at 100 users
with p99 < 0.25 s; no collapse (200 users >= 20 users); two processes >= 1.7x one;
frozen cluster: p99 within 2x of the unfrozen 100-user run; 0 errors.

`python -m bench.load [--seconds 60] [--runs 20,100,100-1s,100-fresh,100-noshare,200,2x100,2x200,400,2x400,frozen,200-half,2x200-half]`
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, cpu_s, machine_busy_s, write_result
from console.serve import command

THINK_S = 0.25
WARMUP_S = 5.0
REQUEST_TIMEOUT_S = 10.0
PASSWORD = "load-bench-pw-1"
USER_ACCOUNTS = 10  # simulated users share these accounts, each with a session of its own

MIX = [
    # (name, weight, method, path)
    ("cluster", 15, "GET", "/clusters/bench/"),
    ("topics", 20, "GET", "/clusters/bench/topics/"),
    ("partitions", 15, "GET", "/clusters/bench/topics/clicks/"),
    ("messages", 15, "GET", "/clusters/bench/topics/clicks/messages/"),
    (
        "search",
        5,
        "GET",
        "/clusters/bench/topics/clicks/messages/search/?q=checkout&field=value&kind=contains",
    ),
    ("groups", 15, "GET", "/clusters/bench/groups/"),
    ("group", 14, "GET", "/clusters/bench/groups/clicks-analytics/"),
    ("produce", 1, "POST", "/clusters/bench/topics/orders/produce/message/"),
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- the client: a child process running the simulated users ------------------------------


class _Tab:
    """One keep-alive HTTP/1.1 connection per server, as a browser tab keeps: requests written
    and answers read on asyncio streams (Content-Length or chunked bodies), reconnecting after
    an error. The client shares the machine's 2 cores with the servers it measures: with
    aiohttp it used 0.36 ms of CPU a request (8.6 s for 23,900 requests, 100 users, the run
    of c09406b), with this 0.13-0.18 ms, left to the servers."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, int], tuple] = {}

    async def request(self, base: str, method: str, path: str, headers: str, body=b"") -> int:
        host, port = base.removeprefix("http://").split(":")
        key = (host, int(port))
        streams = self.streams.get(key)
        try:
            if streams is None:
                streams = self.streams[key] = await asyncio.open_connection(host, int(port))
            reader, writer = streams
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}"
            if body:
                head += (
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\n"
                )
            writer.write(head.encode() + b"\r\n" + body)
            raw = await reader.readuntil(b"\r\n\r\n")
            status = int(raw[9:12])
            lower = raw.lower()
            if b"transfer-encoding: chunked" in lower:
                while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
            else:
                at = lower.find(b"content-length:")
                if at >= 0:
                    await reader.readexactly(int(lower[at + 15 : lower.index(b"\r\n", at)]))
            if b"connection: close" in lower:
                self.close(key)
            return status
        except BaseException:
            self.close(key)  # a half-read answer: the next request starts a new connection
            raise

    def close(self, key=None) -> None:
        for k in [key] if key is not None else list(self.streams):
            streams = self.streams.pop(k, None)
            if streams is not None:
                streams[1].close()


async def _user(tab: _Tab, bases: list[str], cookie: str, csrf: str, stop_at: float, out, rng):
    from urllib.parse import urlencode

    names = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    pages = {m[0]: m for m in MIX}
    turn = rng.randrange(len(bases))
    headers = f"Cookie: sessionid={cookie}; csrftoken={csrf}\r\n"
    await asyncio.sleep(rng.uniform(0, THINK_S * 2))  # do not start in lockstep
    while time.monotonic() < stop_at:
        name = rng.choices(names, weights)[0]
        _, _, method, path = pages[name]
        base = bases[turn % len(bases)]
        turn += 1
        started = time.monotonic()
        status = 0
        try:
            if method == "POST":
                data = {
                    "csrfmiddlewaretoken": csrf,
                    "key": f"load-{rng.randrange(1000)}",
                    "value": '{"from": "bench.load"}',
                    "value_format": "json",
                    "compression": "none",
                }
                status = await asyncio.wait_for(
                    tab.request(
                        base,
                        "POST",
                        path,
                        f"{headers}Referer: {base}{path}\r\nOrigin: {base}\r\n",
                        urlencode(data).encode(),
                    ),
                    REQUEST_TIMEOUT_S,
                )
                ok = status == 302
            else:
                status = await asyncio.wait_for(
                    tab.request(base, "GET", path, headers), REQUEST_TIMEOUT_S
                )
                ok = status == 200
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            ok = False
            status = type(exc).__name__
        out.append((started, time.monotonic() - started, name, ok, status))
        await asyncio.sleep(rng.uniform(THINK_S / 2, THINK_S * 1.5))


async def _clients(bases, sessions, users, seconds, only_path) -> list:
    global MIX
    if only_path:
        MIX = [("healthz", 1, "GET", only_path)]
    out: list = []
    stop_at = time.monotonic() + seconds
    tabs = [_Tab() for _ in range(users)]
    tasks = []
    for i, tab in enumerate(tabs):
        cookie, csrf = sessions[i % len(sessions)]
        tasks.append(_user(tab, bases, cookie, csrf, stop_at, out, random.Random(i)))
    await asyncio.gather(*tasks)
    for tab in tabs:
        tab.close()
    return out


def _client_main(bases, sessions, users, seconds, only_path, queue) -> None:
    import uvloop

    started = time.process_time()
    out = uvloop.run(_clients(bases, sessions, users, seconds, only_path))
    queue.put((out, time.process_time() - started))


def run_load(
    bases: list[str], sessions, users: int, seconds: float, server_pids: list[int], only_path=""
) -> dict:
    """`users` closed-loop users for WARMUP_S + `seconds`; the counted figures."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    load_before = os.getloadavg()
    client = ctx.Process(
        target=_client_main,
        args=(bases, sessions, users, WARMUP_S + seconds, only_path, queue),
    )
    t0 = time.monotonic()
    client.start()
    # CPU of the servers over the counted window only.
    time.sleep(WARMUP_S)
    cpu0 = sum(cpu_s(p) for p in server_pids)
    busy0, client0 = machine_busy_s(), cpu_s(client.pid)
    kafka0 = sum(_kafka_requests(b) for b in set(bases))
    shared0 = _shared_pages(set(bases))
    c0 = time.monotonic()
    time.sleep(seconds)
    cpu1 = sum(cpu_s(p) for p in server_pids)
    busy1, client1 = machine_busy_s(), cpu_s(client.pid)
    kafka1 = sum(_kafka_requests(b) for b in set(bases))
    shared1 = _shared_pages(set(bases))
    c1 = time.monotonic()
    out, client_cpu = queue.get(timeout=seconds + 120)
    client.join(30)
    load_after = os.getloadavg()
    counted_from = t0 + WARMUP_S
    counted = [r for r in out if r[0] >= counted_from - 0.5]
    window = max(r[0] + r[1] for r in out) - counted_from if counted else seconds
    window = min(max(window, 1.0), seconds + REQUEST_TIMEOUT_S)
    latencies = [r[1] for r in counted]
    errors = [r for r in counted if not r[3]]
    per_page = {}
    for name in sorted({r[2] for r in counted}):
        lat = [r[1] for r in counted if r[2] == name]
        per_page[name] = {
            "n": len(lat),
            "p50_s": round(percentile(lat, 0.5), 4),
            "p99_s": round(percentile(lat, 0.99), 4),
        }
    error_kinds: dict[str, int] = {}
    for r in errors:
        key = f"{r[2]}:{r[4]}"
        error_kinds[key] = error_kinds.get(key, 0) + 1
    return {
        "users": users,
        "processes": len(set(bases)),
        "page_views_per_s": round(len(counted) / window, 1),
        "p50_s": round(percentile(latencies, 0.5), 4),
        "p99_s": round(percentile(latencies, 0.99), 4),
        "errors": len(errors),
        "error_kinds": error_kinds,
        "page_views": len(counted),
        "seconds": round(window, 1),
        "server_cpu_ms_per_page": round(1000 * (cpu1 - cpu0) / max(1, len(counted)), 2)
        if not only_path
        else round(1000 * (cpu1 - cpu0) / max(1, len(counted)), 3),
        "server_cpu_cores_used": round((cpu1 - cpu0) / (c1 - c0), 2),
        # Page views per second for each core the servers used: the same with one process
        # and with two is scaling that only the cores given bound.
        "page_views_per_server_core_s": round(len(counted) / max(0.001, cpu1 - cpu0), 1),
        # The machine's cores busy over the counted window, and what the servers and the
        # client left of that to the rest (Kafka, PostgreSQL, Redis, Celery, the kernel).
        "machine_cores_busy": round((busy1 - busy0) / (c1 - c0), 2),
        "other_cores_busy": round(
            ((busy1 - busy0) - (cpu1 - cpu0) - (client1 - client0)) / (c1 - c0), 2
        ),
        "client_cores_used": round((client1 - client0) / (c1 - c0), 2),
        # Metadata and watermark requests the servers sent to Kafka, per page view.
        "kafka_reads_per_page": round((kafka1 - kafka0) / max(1, len(counted)), 2),
        # How the shared pages were answered (console/shared_pages.py): door (before
        # Django), hit (the copy, through Django), miss (rendered and kept), bypass.
        "shared_pages": {k: int(shared1.get(k, 0) - shared0.get(k, 0)) for k in shared1},
        "client_cpu_s": round(client_cpu, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "per_page": per_page,
    }


def _metric_lines(base: str, name: str) -> list[tuple[str, float]]:
    """(labels, value) of each sample of `name` on the server's /metrics."""
    import urllib.request

    with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
        text = r.read().decode()
    return [
        (line[len(name) : line.rindex(" ")], float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith(name + "{")
    ]


def _kafka_requests(base: str) -> float:
    """Metadata and watermark requests sent to Kafka (shared-read loads and fresh reads),
    summed over clusters, from the server's /metrics."""
    return sum(
        value
        for labels, value in _metric_lines(base, "console_kafka_shared_reads_total")
        if 'outcome="load"' in labels or 'outcome="fresh"' in labels
    )


def _shared_pages(bases: set[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for base in bases:
        for labels, value in _metric_lines(base, "console_shared_pages_total"):
            result = labels.split('result="', 1)[1].split('"', 1)[0]
            out[result] = out.get(result, 0.0) + value
    return out


# --- the deployment ----------------------------------------------------------------------


class Stack:
    """PostgreSQL, Redis, two Kafka clusters, a worker, beat and web processes."""

    def __init__(self) -> None:
        from tools.kafka.local import LocalKafka
        from tools.postgres.local import LocalPostgres

        self.base = Path(tempfile.mkdtemp(prefix="load-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.servers: dict[int, subprocess.Popen] = {}
        self.server_env: dict[str, str] = {}
        self.server_cores = 0.0
        self.cpu_groups: dict[int, Path] = {}  # port -> its web process's control group
        self.kafka = LocalKafka(
            Path(tempfile.mkdtemp(prefix="kafka-load-")), nodes=1, dies_with_us=True
        )
        self.other = LocalKafka(
            Path(tempfile.mkdtemp(prefix="kafka-load-other-")), nodes=1, dies_with_us=True
        )
        self.kafka.start()
        self.other.start()
        self.pg = LocalPostgres().start()
        self.redis_port = _free_port()
        self.procs.append(
            subprocess.Popen(
                [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port)]
                + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        )
        var = self.base / "var"
        var.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "CONSOLE_", "KAFKA_CLUSTERS_", "CELERY_"))
            and k not in {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="console.settings",
            CONSOLE_SECRET_KEY="load-bench-secret-" + "x" * 40,
            CONSOLE_VAR_DIR=str(var),
            CONSOLE_POSTGRES_DSN=self.pg.dsn,
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            KAFKA_CLUSTERS_0_NAME="bench",
            KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS=self.kafka.bootstrap_servers,
            KAFKA_CLUSTERS_1_NAME="other",
            KAFKA_CLUSTERS_1_BOOTSTRAPSERVERS=self.other.bootstrap_servers,
            CONSOLE_LOG_LEVEL="WARNING",
            CONSOLE_METRICS_ALLOW="127.0.0.1",
            PYTHONPATH=str(ROOT),
        )
        self.env = env
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        for i in range(USER_ACCOUNTS):
            self.manage("ensure_user", f"load-{i}", "--role", "operator", "--password", PASSWORD)
        print(self.manage("demo_seed", "--cluster", "bench").strip(), flush=True)
        bin_dir = Path(sys.executable).parent
        for args in (
            ["worker", "--concurrency=1", "--loglevel=WARNING", "-n", "load@%h"],
            ["beat", "--loglevel=WARNING", f"--schedule={var}/celerybeat-schedule"],
        ):
            self.procs.append(
                subprocess.Popen(
                    [str(bin_dir / "celery"), "-A", "console", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=open(self.base / f"celery-{args[0]}.log", "wb"),  # noqa: SIM115
                    stderr=subprocess.STDOUT,
                )
            )

    def manage(self, *args: str) -> str:
        r = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def sessions(self, n: int) -> list[tuple[str, str]]:
        """n logged-in sessions through the real log-in form; their cookies."""
        import http.client

        found = []
        for i in range(n):
            port = next(iter(self.servers))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/accounts/login/")
            r = conn.getresponse()
            r.read()
            csrf = re.search(r"csrftoken=([^;]+)", r.getheader("Set-Cookie", "")).group(1)
            body = f"username=load-{i % USER_ACCOUNTS}&password={PASSWORD}"
            conn.request(
                "POST",
                "/accounts/login/",
                body=body + f"&csrfmiddlewaretoken={csrf}",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": f"csrftoken={csrf}",
                    "Referer": f"http://127.0.0.1:{port}/accounts/login/",
                },
            )
            r = conn.getresponse()
            r.read()
            cookies = ";".join(r.headers.get_all("Set-Cookie") or [])
            session = re.search(r"sessionid=([^;]+)", cookies)
            assert r.status == 302 and session, (r.status, cookies)
            csrf = re.search(r"csrftoken=([^;]+)", cookies).group(1)
            found.append((session.group(1), csrf))
            conn.close()
        return found

    def start_servers(
        self, n: int, extra_env: dict[str, str] | None = None, cores: float = 0.0
    ) -> list[str]:
        """n web processes; with `cores`, each in a control group of its own limited to that
        much CPU (as a container's CPU limit would)."""
        from tools.kafka.local import port_open

        self.stop_servers()
        self.server_env = dict(extra_env or {})
        self.server_cores = cores
        env = {**self.env, **self.server_env}
        for _ in range(n):
            port = _free_port()
            join = None
            if cores:
                group = self.cpu_groups[port] = cpu_limit(f"load-bench-web-{port}", cores)

                def join(procs: Path = group / "cgroup.procs") -> None:
                    procs.write_text(str(os.getpid()))

            self.servers[port] = subprocess.Popen(
                command(port),
                cwd=ROOT,
                env=env,
                stdout=open(self.base / f"web-{port}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                preexec_fn=join,  # noqa: PLW1509 (writes one file, before exec)
            )
        deadline = time.monotonic() + 120
        for port in self.servers:
            while not port_open(port):
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.2)
        return [f"http://127.0.0.1:{p}" for p in self.servers]

    def warm(self, bases: list[str], sessions) -> None:
        """Every page once per server (imports, template compilation, Kafka clients)."""
        import http.client

        for base in bases:
            port = int(base.rsplit(":", 1)[1])
            for _, _, method, path in MIX:
                if method != "GET":
                    continue
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path, headers={"Cookie": f"sessionid={sessions[0][0]}"})
                r = conn.getresponse()
                r.read()
                assert r.status == 200, (path, r.status)
                conn.close()

    def stop_servers(self) -> None:
        for p in self.servers.values():
            p.terminate()
            p.wait(30)
        self.servers.clear()
        for group in self.cpu_groups.values():
            group.rmdir()  # empty: its process has exited
        self.cpu_groups.clear()

    def destroy(self) -> None:
        self.stop_servers()
        for p in self.procs:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        for k in (self.kafka, self.other):
            k.resume_node(k.nodes[0].node_id)
            k.destroy()
        self.pg.destroy()


# --- CPU limits ----------------------------------------------------------------------------
# A web process in a control group of its own, with a CPU quota: what a container's CPU limit
# (Kubernetes' `limits.cpu`) does. With the machine's 2 cores shared by the users' client,
# Kafka, PostgreSQL, Redis and Celery, one unlimited process takes a whole core at 200 users,
# and a second one can only take what is left; with half a core each, two processes fit
# beside the rest, and the runs show whether a second process adds what the first gives.
CGROUP_PERIOD_US = 20_000  # short periods: a throttled process waits at most ~10 ms


def _cpu_cgroup_root() -> tuple[Path, str]:
    """The writable cgroup hierarchy with the cpu controller: v2 (cpu.max) or v1 (cfs)."""
    v2 = Path("/sys/fs/cgroup")
    control = v2 / "cgroup.subtree_control"
    if control.exists() and "cpu" in control.read_text().split():
        return v2, "v2"
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        return v1, "v1"
    raise SystemExit("CPU-limited runs need a writable cgroup cpu controller (run as root)")


def cpu_limit(name: str, cores: float) -> Path:
    """Control group `name`, made with `cores` of CPU (processes join through cgroup.procs)."""
    root, version = _cpu_cgroup_root()
    group = root / name
    group.mkdir(exist_ok=True)
    quota = int(cores * CGROUP_PERIOD_US)
    if version == "v2":
        (group / "cpu.max").write_text(f"{quota} {CGROUP_PERIOD_US}")
    else:
        (group / "cpu.cfs_period_us").write_text(str(CGROUP_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    return group


def _free_port() -> int:
    from tools.kafka.local import free_port

    return free_port()


RUNS = {
    # name: (users, server processes, freeze cluster "other", server environment[, cores])
    "20": (20, 1, False, {}),
    "100": (100, 1, False, {}),
    "200": (200, 1, False, {}),
    "2x100": (100, 2, False, {}),
    # At 100 users one process now serves near what 100 users thinking 0.25 s can ask for
    # (under 400/s): two processes are compared with one at 200 users too.
    "2x200": (200, 2, False, {}),
    # At 200 users two processes serve near what 200 users thinking 0.25 s can ask for
    # (under 800/s) while one is saturated: each at 400 users too, both saturated.
    "400": (400, 1, False, {}),
    "2x400": (400, 2, False, {}),
    "frozen": (100, 1, True, {}),
    # Each web process limited to half a core (see cpu_limit): one, then two.
    "200-half": (200, 1, False, {}, 0.5),
    "2x200-half": (200, 2, False, {}, 0.5),
    # References for the shared Kafka reads (the runs above share only requests in flight,
    # the default): the same 100 users with answers shared for 1 s, and reading afresh.
    "100-1s": (100, 1, False, {"CONSOLE_KAFKA_SHARED_READS_S": "1"}),
    "100-fresh": (100, 1, False, {"CONSOLE_KAFKA_SHARED_READS_S": "-1"}),
    # And for the shared page copies (console/shared_pages.py, 1 s by default): turned off.
    "100-noshare": (100, 1, False, {"CONSOLE_SHARED_PAGE_S": "0"}),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--seconds", type=float, default=60.0, help="counted seconds per run")
    parser.add_argument(
        "--runs",
        default="20,100,100-1s,100-fresh,100-noshare,200,2x100,2x200,400,2x400,frozen,200-half,"
        "2x200-half",
        help="comma-separated: "
        + ",".join(RUNS)
        + "; a run may add server settings: 100+CONSOLE_HTTP_THREADS=8+CONSOLE_X=1",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument(
        "--py-spy", default="", help="record the first server of each run with py-spy to FILE-<run>"
    )
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    wanted = [r for r in args.runs.split(",") if r]
    stack = Stack()
    runs = []
    reference = {}
    try:
        bases = stack.start_servers(1)
        sessions = stack.sessions(max(RUNS[r.split("+")[0]][0] for r in wanted))
        for name in wanted:
            base, *extra = name.split("+")
            users, processes, frozen, server_env, *limit = RUNS[base]
            cores = limit[0] if limit else 0.0
            server_env = {**server_env, **dict(e.split("=", 1) for e in extra)}
            if (
                len(stack.servers) != processes
                or stack.server_env != server_env
                or stack.server_cores != cores
            ):
                bases = stack.start_servers(processes, server_env, cores)
            stack.warm(bases, sessions)
            if frozen:
                stack.other.pause_node(stack.other.nodes[0].node_id)
            try:
                print(f"== {name}: {users} users, {processes} process(es)", flush=True)
                spy = None
                if args.py_spy:
                    spy = subprocess.Popen(
                        [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"]
                        + ["--rate", "50", "--nonblocking", "--threads"]
                        + ["-o", f"{args.py_spy}-{name}.txt", "--pid", str(_pids(stack)[0])]
                        + ["--duration", str(int(WARMUP_S + args.seconds))],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                result = run_load(bases, sessions, users, args.seconds, list(_pids(stack)))
                if spy is not None:
                    spy.wait(60)
            finally:
                if frozen:
                    stack.other.resume_node(stack.other.nodes[0].node_id)
            result["run"] = name
            result["frozen_cluster"] = frozen
            result["cores_per_process"] = cores or None
            print(result, flush=True)
            runs.append(result)
        # The reference: the web server's floor on this machine in the same run.
        bases = stack.start_servers(1)
        ref = run_load(
            bases, sessions, 100, min(args.seconds, 20), list(_pids(stack)), only_path="/healthz"
        )
        reference = {"what": "/healthz, 100 users, same think time, one process", **ref}
        print({"reference": reference}, flush=True)
    finally:
        stack.destroy()

    by = {r["run"]: r for r in runs}
    ratios = {}
    if "100" in by and "2x100" in by:
        ratios["two_processes_over_one_at_100"] = round(
            by["2x100"]["page_views_per_s"] / by["100"]["page_views_per_s"], 2
        )
    if "200" in by and "2x200" in by:
        ratios["two_processes_over_one_at_200"] = round(
            by["2x200"]["page_views_per_s"] / by["200"]["page_views_per_s"], 2
        )
    if "400" in by and "2x400" in by:
        ratios["two_processes_over_one_at_400"] = round(
            by["2x400"]["page_views_per_s"] / by["400"]["page_views_per_s"], 2
        )
        ratios["two_processes_cores_over_one_at_400"] = round(
            by["2x400"]["server_cpu_cores_used"] / by["400"]["server_cpu_cores_used"], 2
        )
        ratios["two_processes_page_views_per_core_over_one_at_400"] = round(
            by["2x400"]["page_views_per_server_core_s"] / by["400"]["page_views_per_server_core_s"],
            2,
        )
    if "200-half" in by and "2x200-half" in by:
        ratios["two_processes_over_one_at_200_half_core_each"] = round(
            by["2x200-half"]["page_views_per_s"] / by["200-half"]["page_views_per_s"], 2
        )
    if "20" in by and "200" in by:
        ratios["200_users_over_20_users"] = round(
            by["200"]["page_views_per_s"] / by["20"]["page_views_per_s"], 2
        )
    if "100" in by and "frozen" in by:
        ratios["frozen_p99_over_unfrozen_p99"] = round(
            by["frozen"]["p99_s"] / by["100"]["p99_s"], 2
        )
    for run in ("100", "100-1s"):
        if run in by and "100-fresh" in by:
            ratios[f"cpu_per_page_{run}_over_fresh"] = round(
                by[run]["server_cpu_ms_per_page"] / by["100-fresh"]["server_cpu_ms_per_page"], 2
            )
    if "100" in by and reference:
        ratios["page_cpu_over_healthz_cpu"] = round(
            by["100"]["server_cpu_ms_per_page"] / max(0.001, reference["server_cpu_ms_per_page"]),
            1,
        )
    figures = {
        "runs": runs,
        "think_time_s": THINK_S,
        "seconds_per_run": args.seconds,
        "mix": {m[0]: m[1] for m in MIX},
        "machine_load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    targets = {
        "100 users, 1 process": ">= 300 page views/s, p99 < 0.25 s",
        "200 users vs 20": "page views/s at 200 >= at 20",
        "2 processes vs 1": ">= 1.7x (at 100 and at 200 users; and with half a core each)",
        "frozen cluster": "p99 within 2x of the unfrozen 100-user run",
        "errors": 0,
    }
    if args.no_write:
        print(figures, ratios)
        return
    write_result(
        "load",
        figures,
        reference=reference,
        ratios=ratios,
        targets=targets,
        notes=__doc__.split("\n\n")[1].replace("\n", " "),
    )


def _pids(stack: Stack) -> list[int]:
    return [p.pid for p in stack.servers.values()]


if __name__ == "__main__":
    main()
