"""Fixtures: a real Kafka (one node, and three for replication), a real Celery worker,
a real ASGI server (console/serve.py: uvicorn) and headless Debian Chromium driven by Playwright.

Nothing here skips for want of a part: a missing Java, Maven, Redis or Chromium fails the
tests that need it, loudly, with what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.registry_fixture import schema_registry  # noqa: F401 - one registry for the session
from tools.kafka.local import LocalKafka, free_port, port_open

ROOT = Path(__file__).resolve().parent.parent
# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# under one unless told that this thread is really synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "pw-for-tests-1"


def _register_cluster(index: int, name: str, bootstrap: str, **extra: str) -> None:
    """Expose a cluster to this process and to the subprocesses started later."""
    from console.clusters import reset_clusters

    os.environ[f"KAFKA_CLUSTERS_{index}_NAME"] = name
    os.environ[f"KAFKA_CLUSTERS_{index}_BOOTSTRAPSERVERS"] = bootstrap
    for key, value in extra.items():
        os.environ[f"KAFKA_CLUSTERS_{index}_{key}"] = value
    reset_clusters()


def _forget_clients() -> None:
    """Drop cached clients before their brokers go, so they stop reconnecting (and logging)."""
    import gc

    from console.kafka.client import forget_clients

    forget_clients()
    gc.collect()


def _wait_metadata(bootstrap: str, brokers: int, timeout: float = 60) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while True:
        try:
            md = admin.list_topics(timeout=5)
            if len(md.brokers) >= brokers:
                return
        except Exception:  # noqa: BLE001 - still starting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Kafka at {bootstrap} did not show {brokers} broker(s) in {timeout}s"
            )
        time.sleep(0.3)


# Many tests write records stamped in 2023 (fixed timestamps they can assert on). Kafka's
# retention deletes a segment once its newest record is older than retention.ms (7 days by
# default), the active segment too, on a check 30 s after start and every 5 min after: a test
# whose records were written just before a check read an empty topic (CI on 56bdd22:
# test_browser_rows_show_iso_utc_with_epoch_ms_on_hover; a clean-clone run of 56bdd22:
# test_partitions_added_since_the_last_page_are_read). The session brokers keep records
# forever and check every second, so a test that depends on it fails every time, not by luck.
SESSION_BROKER_CONFIG = {
    "log.retention.ms": "-1",
    "log.retention.check.interval.ms": "1000",
    "log.initial.task.delay.ms": "0",
}


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    """A real single-node KRaft Kafka on loopback, for the whole session (cluster 'local')."""
    base = Path(tempfile.mkdtemp(prefix="kafka-1-"))
    cluster = LocalKafka(base, nodes=1, dies_with_us=True, broker_config=SESSION_BROKER_CONFIG)
    cluster.start()
    _wait_metadata(cluster.bootstrap_servers, 1)
    _register_cluster(0, "local", cluster.bootstrap_servers)
    yield cluster
    _forget_clients()
    cluster.destroy()


@pytest.fixture(scope="session")
def _kafka3_session() -> Iterator[LocalKafka]:
    base = Path(tempfile.mkdtemp(prefix="kafka-3-"))
    cluster = LocalKafka(base, nodes=3, dies_with_us=True, broker_config=SESSION_BROKER_CONFIG)
    cluster.start()
    _wait_metadata(cluster.bootstrap_servers, 3)
    _register_cluster(1, "triple", cluster.bootstrap_servers)
    yield cluster
    _forget_clients()
    cluster.destroy()


@pytest.fixture
def kafka3(_kafka3_session: LocalKafka) -> Iterator[LocalKafka]:
    """The three-broker cluster ('triple'); any broker a test stopped is restarted after it."""
    yield _kafka3_session
    for node in _kafka3_session.nodes:
        if node.process is None or node.process.poll() is not None:
            _kafka3_session.start_node(node.node_id)
        else:
            _kafka3_session.resume_node(node.node_id)
    _wait_metadata(_kafka3_session.bootstrap_servers, 3)


def group_describe(kafka: LocalKafka, group: str, topic: str) -> dict[int, tuple[int, int, int]]:
    """CURRENT-OFFSET, LOG-END-OFFSET and LAG per partition of `topic`, as Kafka's own
    `kafka-consumer-groups --describe` (ConsumerGroupCommand) prints them."""
    out = kafka.java_tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        kafka.bootstrap_servers,
        "--describe",
        "--group",
        group,
    )
    rows = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[1] == topic:
            rows[int(cols[2])] = (int(cols[3]), int(cols[4]), int(cols[5]))
    return rows


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic_factory(kafka: LocalKafka) -> Callable[..., str]:
    """Create a fresh, uniquely named topic on a cluster and wait until metadata shows it."""
    from confluent_kafka.admin import AdminClient, NewTopic

    def make(
        name: str | None = None,
        *,
        partitions: int = 3,
        replication: int = 1,
        config: dict[str, str] | None = None,
        bootstrap: str | None = None,
    ) -> str:
        name = name or unique()
        admin = AdminClient({"bootstrap.servers": bootstrap or kafka.bootstrap_servers})
        fut = admin.create_topics(
            [NewTopic(name, partitions, replication, config=config or {})], operation_timeout=20
        )[name]
        fut.result(30)
        deadline = time.monotonic() + 20
        while True:
            md = admin.list_topics(topic=name, timeout=5)
            t = md.topics.get(name)
            if (
                t
                and t.error is None
                and len(t.partitions) == partitions
                and all(p.leader >= 0 for p in t.partitions.values())
            ):
                return name
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {name} not ready")
            time.sleep(0.1)

    return make


@pytest.fixture
def topic(topic_factory) -> str:
    """A fresh 3-partition topic on the single-node cluster."""
    return topic_factory()


@pytest.fixture
def produce(kafka: LocalKafka) -> Callable[..., None]:
    """Produce messages straight with confluent-kafka (murmur2 like Java clients), each
    partition's in the order given: tests map the n-th message of a partition to offset n.
    Idempotence keeps that order through retries; without it librdkafka may resend a failed
    batch after the next one (up to 1,000,000 requests in flight)."""
    from confluent_kafka import Producer

    def send(topic: str, messages, *, bootstrap: str | None = None) -> None:
        p = Producer(
            {
                "bootstrap.servers": bootstrap or kafka.bootstrap_servers,
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                "enable.idempotence": True,
            }
        )
        errors = []
        for m in messages:
            if isinstance(m, dict):
                p.produce(topic, on_delivery=lambda e, _m: e and errors.append(e), **m)
            else:
                p.produce(topic, value=m, on_delivery=lambda e, _m: e and errors.append(e))
            p.poll(0)
        assert p.flush(30) == 0
        assert not errors, errors

    return send


# --- users and roles ---------------------------------------------------------------


@pytest.fixture
def make_user(django_user_model) -> Callable[[str], object]:
    from console.access import grant_role

    def make(role: str | None, username: str | None = None):
        user = django_user_model.objects.create_user(
            username or unique(role or "norole"), password=PASSWORD
        )
        if role:
            grant_role(user, role)
        return user

    return make


@pytest.fixture
def client_for(client, make_user) -> Callable[[str | None], object]:
    """A test client logged in as a fresh user holding `role` (None: no role)."""
    from django.test import Client

    def make(role: str | None):
        c = Client()
        c.force_login(make_user(role))
        return c

    return make


def wait_job(job_id, timeout: float = 60):
    """The Job once a worker finished it (fails the test after `timeout` seconds)."""
    from console.models import Job

    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(id=job_id)
        if job.finished:
            return job
        assert time.monotonic() < deadline, (
            f"job still {job.state} after {timeout}s: {job.progress}"
        )
        time.sleep(0.2)


# --- real processes: Celery worker, web process, Redis ------------------------------------


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        CONSOLE_TEST_SUBPROCESS="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def dies_with_us(args: list[str]) -> list[str]:
    """`args` run so that the process gets SIGTERM when the test process dies, even by a
    crash: no worker, server or Redis of a dead run stays behind, holding ports or taking
    the next run's jobs (util-linux's setpriv, in every Debian; exec keeps the pid)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *args] if setpriv else args


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.fh = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            dies_with_us(args), cwd=ROOT, stdout=self.fh, stderr=subprocess.STDOUT, env=env
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{what} exited ({self.popen.returncode}):\n{self.output()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready in {timeout}s:\n{self.output()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.fh.close()


def start_celery_worker(log_dir: Path, **env: str) -> Proc:
    args = [
        _bin("celery"),
        "-A",
        "console",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"test-{uuid.uuid4().hex[:6]}@%h",
    ]
    proc = Proc(args, log_dir / f"celery-{uuid.uuid4().hex[:6]}.log", _subprocess_env(**env))
    proc.wait_for(" ready.", 90, "Celery worker")
    return proc


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, kafka, tmp_path_factory) -> Iterator[Proc]:
    """A real Celery worker process on the test database (tests using it need transactional_db)."""
    proc = start_celery_worker(tmp_path_factory.mktemp("celery"))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """A private redis-server on a free loopback port; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server (CI does)")
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        dies_with_us(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(d),
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not port_open(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            pytest.fail("redis-server did not start")
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def start_asgi_server(log_dir: Path, **env: str) -> tuple[Proc, str]:
    port = free_port()
    from console.serve import command

    proc = Proc(command(port), log_dir / f"web-{port}.log", _subprocess_env(**env))
    deadline = time.monotonic() + 60
    while not port_open(port):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the web process did not start:\n{proc.output()[-3000:]}")
        time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, kafka, tmp_path_factory) -> Iterator[str]:
    """A real web process serving the console on the test database; its base URL."""
    proc, url = start_asgi_server(tmp_path_factory.mktemp("web"))
    yield url
    proc.stop()


# --- browser -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (CI does)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ],
    )
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def login(make_user) -> Callable:
    """Log a fresh user with `role` into the browser page at `base_url`; returns the user."""

    def do(page, base_url: str, role: str = "admin"):
        user = make_user(role)
        page.goto(f"{base_url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/clusters/")
        return user

    return do
