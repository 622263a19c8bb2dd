"""A real Kafka Connect worker (distributed mode, tools/connect) against the session broker.

It is registered as Connect cluster ``main`` of cluster ``local``, and of a read-only twin
``local-ro``; ``down`` is a Connect URL whose socket accepts but never answers (the worst
case for a timeout). Nothing skips: a worker that cannot start fails loudly with its log.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.connect.local import ConnectStartError, LocalConnect

SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"

CONNECT_VARS = {
    "KAFKA_CLUSTERS_0_KAFKACONNECT_0_NAME": "main",
    "KAFKA_CLUSTERS_0_KAFKACONNECT_1_NAME": "down",
    "KAFKA_CLUSTERS_8_NAME": "local-ro",
    "KAFKA_CLUSTERS_8_READONLY": "true",
    "KAFKA_CLUSTERS_8_KAFKACONNECT_0_NAME": "main",
}


@pytest.fixture(scope="package")
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="package")
def connect_worker(kafka, silent_port) -> Iterator[LocalConnect]:
    """One Connect worker for the session's Connect tests (topic creation off: connectors
    never create their topics), registered on clusters ``local`` and ``local-ro`` as
    ``main``. Package-scoped: the worker and its registration go once tests/connect is
    done, so the rest of the suite sees the clusters it always saw."""
    from console.clusters import reset_clusters

    base = Path(tempfile.mkdtemp(prefix="connect-"))
    worker = LocalConnect(base, bootstrap=kafka.bootstrap_servers, topic_creation=False)
    try:
        worker.start(timeout=180)
    except ConnectStartError as exc:
        worker.stop()
        pytest.fail(f"the Kafka Connect worker did not start: {exc}")
    env = {
        **CONNECT_VARS,
        "KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS": worker.url,
        "KAFKA_CLUSTERS_0_KAFKACONNECT_1_ADDRESS": f"http://127.0.0.1:{silent_port}",
        "KAFKA_CLUSTERS_8_BOOTSTRAPSERVERS": kafka.bootstrap_servers,
        "KAFKA_CLUSTERS_8_KAFKACONNECT_0_ADDRESS": worker.url,
    }
    os.environ.update(env)
    reset_clusters()
    yield worker
    for key in env:
        os.environ.pop(key, None)
    reset_clusters()
    worker.destroy()


def cname(prefix: str = "conn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_state(worker: LocalConnect, name: str, state: str, timeout: float = 45, tasks=True):
    """Wait until the connector (and, with `tasks`, each of its tasks) is in `state`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = worker.get(f"/connectors/{name}/status")
            ok = last["connector"]["state"] == state and (
                not tasks or (last["tasks"] and all(t["state"] == state for t in last["tasks"]))
            )
            if ok:
                return last
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"connector {name} not {state} after {timeout}s: {last}")


def create_connector(worker: LocalConnect, name: str, config: dict[str, str]) -> None:
    """Create a connector straight through the REST API (set-up, not under test)."""
    import json
    import urllib.request

    req = urllib.request.Request(
        f"{worker.url}/connectors",
        data=json.dumps({"name": name, "config": config}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201


def connector_names(worker: LocalConnect) -> list[str]:
    return worker.get("/connectors")


@pytest.fixture
def lines_file(tmp_path):
    def make(n: int = 5, prefix: str = "line") -> str:
        f = tmp_path / f"{uuid.uuid4().hex[:6]}.txt"
        f.write_text("".join(f"{prefix}-{i}\n" for i in range(n)))
        return str(f)

    return make


@pytest.fixture
def running_source(connect_worker, lines_file):
    """Make a FileStreamSource connector named `prefix`-<random> that reads a fresh file of
    lines into `topic`, and return its name once it and its task are RUNNING."""

    def make(prefix: str, topic: str) -> str:
        name = cname(prefix)
        config = {"connector.class": SOURCE, "file": lines_file(), "topic": topic, "tasks.max": "1"}
        create_connector(connect_worker, name, config)
        wait_state(connect_worker, name, "RUNNING")
        return name

    return make


@pytest.fixture(autouse=True)
def _delete_connectors_afterwards(request):
    """Each test's connectors go when it ends: the session's worker stays light."""
    yield
    if "connect_worker" not in request.fixturenames:
        return
    import urllib.request

    worker = request.getfixturevalue("connect_worker")
    for name in worker.get("/connectors", timeout=10):
        req = urllib.request.Request(f"{worker.url}/connectors/{name}", method="DELETE")
        # gone already, or the worker is rebalancing: the next test's cleanup retries
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=30).close()
