"""Fixtures of the schema-page tests: clusters pointing at the real Apicurio registry (one
writable, one read-only), at nothing (down) and at a socket that never answers (slow), and
a small direct client of the registry to set up and check what the pages did."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
import uuid

import pytest

from console.clusters import Cluster, all_clusters, reset_clusters

CT = "application/vnd.schemaregistry.v1+json"


def avro(*fields: str | tuple[str, str, object]) -> str:
    """A record schema demo.User with `fields`: a name (string), or (name, type, default)."""
    out = []
    for f in fields:
        if isinstance(f, str):
            out.append({"name": f, "type": "string"})
        else:
            name, kind, default = f
            entry = {"name": name, "type": kind}
            if default is not ...:
                entry["default"] = default
            out.append(entry)
    return json.dumps({"type": "record", "name": "User", "namespace": "demo", "fields": out})


class Direct:
    """The registry's REST API, straight (not through the console)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": CT}
        )
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        body = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        return self.call("POST", f"/subjects/{subject}/versions", body)["id"]

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        try:
            return self.call(
                "GET", f"/subjects/{subject}/versions" + ("?deleted=true" if deleted else "")
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise

    def set_level(self, subject: str, level: str) -> None:
        self.call("PUT", f"/config/{subject}", {"compatibility": level})

    def level(self, subject: str) -> str:
        return self.call("GET", f"/config/{subject}?defaultToGlobal=true")["compatibilityLevel"]


@pytest.fixture
def registry_api(schema_registry) -> Direct:
    return Direct(schema_registry.url)


@pytest.fixture(scope="session")
def silent_url():
    """A TCP server that accepts connections and never answers: a hung registry."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    server.close()


@pytest.fixture
def sr_clusters(kafka, schema_registry, silent_url):
    """Clusters 'sr' (the registry), 'sr-ro' (read-only), 'sr-down', 'sr-slow'."""
    saved = all_clusters()
    boot = kafka.bootstrap_servers
    reset_clusters(
        [
            *saved,
            Cluster("sr", boot, schema_registry_url=schema_registry.url),
            Cluster("sr-ro", boot, read_only=True, schema_registry_url=schema_registry.url),
            Cluster("sr-down", boot, schema_registry_url="http://127.0.0.1:9"),
            Cluster("sr-slow", boot, schema_registry_url=silent_url),
        ]
    )
    yield
    reset_clusters(saved)


def unique_subject(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
