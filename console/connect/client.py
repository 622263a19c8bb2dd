"""The one door to a Kafka Connect worker's REST API: bounded timeouts, plain dataclasses,
and a few errors with messages a person can act on."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from console.clusters import ConnectCluster


def timeout_s() -> float:
    return float(os.environ.get("CONSOLE_CONNECT_TIMEOUT_S", "5"))


class ConnectError(Exception):
    """Base: something went wrong talking to Kafka Connect."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class ConnectUnavailable(ConnectError):
    """The worker did not answer within the timeout (down, unreachable or too slow)."""


class ConnectNotFound(ConnectError):
    """No such connector, task or plugin."""


class ConnectRefused(ConnectError):
    """The worker answered with an error (bad config, a rebalance in progress, wrong state)."""


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: int
    state: str
    worker_id: str
    trace: str = ""


@dataclass(frozen=True, slots=True)
class Connector:
    name: str
    type: str  # source, sink or unknown
    state: str
    worker_id: str
    config: dict[str, str]
    tasks: tuple[TaskStatus, ...]
    trace: str = ""

    @property
    def connector_class(self) -> str:
        return self.config.get("connector.class", "")

    @property
    def short_class(self) -> str:
        return self.connector_class.rsplit(".", 1)[-1]

    @property
    def running_tasks(self) -> int:
        return sum(t.state == "RUNNING" for t in self.tasks)

    @property
    def failed_tasks(self) -> int:
        return sum(t.state == "FAILED" for t in self.tasks)

    @property
    def failed(self) -> bool:
        return self.state == "FAILED" or self.failed_tasks > 0


@dataclass(frozen=True, slots=True)
class Plugin:
    klass: str
    type: str
    version: str

    @property
    def short(self) -> str:
        return self.klass.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """One config field as the worker's validation saw it."""

    name: str
    group: str
    required: bool
    value: str | None
    default: str | None
    documentation: str
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Validation:
    error_count: int
    fields: tuple[FieldCheck, ...] = field(default=())

    @property
    def errors(self) -> tuple[FieldCheck, ...]:
        return tuple(f for f in self.fields if f.errors)


class ConnectClient:
    """Calls to one Connect cluster; every call is bounded by `timeout` seconds."""

    def __init__(self, connect: ConnectCluster, timeout: float | None = None) -> None:
        self.connect = connect
        self.timeout = timeout if timeout is not None else timeout_s()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.connect.url + path,
            data=data,
            method=method,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        where = f"Kafka Connect {self.connect.name!r} ({self.connect.url})"
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read() or b"{}").get("message") or exc.reason
            except (ValueError, AttributeError):
                message = str(exc.reason)
            if exc.code == 404:
                raise ConnectNotFound(str(message), status=404) from None
            raise ConnectRefused(
                f"{where} refused {method} {path}: {message}", status=exc.code
            ) from None
        except TimeoutError:
            raise ConnectUnavailable(f"{where} did not answer within {self.timeout:g} s.") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectUnavailable(f"{where} is unreachable: {reason}.") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ConnectUnavailable(f"{where} answered something that is not JSON.") from None

    @staticmethod
    def _q(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    # --- reads -----------------------------------------------------------------------

    def version(self) -> dict[str, str]:
        return self._call("GET", "/")

    def connectors(self) -> list[Connector]:
        """Every connector with its status, from one request (expand=status, expand=info)."""
        raw = self._call("GET", "/connectors?expand=status&expand=info") or {}
        return sorted(
            (
                _connector(name, d.get("info") or {}, d.get("status") or {})
                for name, d in raw.items()
            ),
            key=lambda c: c.name,
        )

    def connector(self, name: str) -> Connector:
        info = self._call("GET", f"/connectors/{self._q(name)}")
        try:
            status = self._call("GET", f"/connectors/{self._q(name)}/status")
        except ConnectNotFound:
            status = {}
        return _connector(name, info, status)

    def active_topics(self, name: str) -> list[str]:
        raw = self._call("GET", f"/connectors/{self._q(name)}/topics") or {}
        return sorted((raw.get(name) or {}).get("topics") or [])

    def offsets(self, name: str) -> list[dict]:
        raw = self._call("GET", f"/connectors/{self._q(name)}/offsets") or {}
        return raw.get("offsets") or []

    def plugins(self) -> list[Plugin]:
        raw = self._call("GET", "/connector-plugins") or []
        return [Plugin(p["class"], p.get("type", ""), p.get("version", "")) for p in raw]

    def validate(self, klass: str, config: dict[str, str]) -> Validation:
        """The worker's own validation of `config` for plugin `klass`, field by field."""
        raw = self._call("PUT", f"/connector-plugins/{self._q(klass)}/config/validate", {**config})
        fields = []
        for c in raw.get("configs", []):
            d, v = c.get("definition", {}), c.get("value", {})
            fields.append(
                FieldCheck(
                    name=d.get("name") or v.get("name", ""),
                    group=d.get("group") or "",
                    required=bool(d.get("required")),
                    value=v.get("value"),
                    default=d.get("default_value"),
                    documentation=d.get("documentation") or "",
                    errors=tuple(v.get("errors") or ()),
                )
            )
        return Validation(int(raw.get("error_count", 0)), tuple(fields))

    # --- writes ----------------------------------------------------------------------

    def create(self, name: str, config: dict[str, str]) -> None:
        self._call("POST", "/connectors", {"name": name, "config": config})

    def config_put(self, name: str, config: dict[str, str]) -> None:
        self._call("PUT", f"/connectors/{self._q(name)}/config", config)

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{self._q(name)}/pause")

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{self._q(name)}/resume")

    def stop(self, name: str) -> None:
        self._call("PUT", f"/connectors/{self._q(name)}/stop")

    def restart(self, name: str) -> None:
        self._call("POST", f"/connectors/{self._q(name)}/restart?includeTasks=true")

    def task_restart(self, name: str, task: int) -> None:
        self._call("POST", f"/connectors/{self._q(name)}/tasks/{int(task)}/restart")

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{self._q(name)}")

    def offsets_reset(self, name: str) -> str:
        raw = self._call("DELETE", f"/connectors/{self._q(name)}/offsets") or {}
        return raw.get("message", "")


def _connector(name: str, info: dict, status: dict) -> Connector:
    conn = status.get("connector") or {}
    tasks = tuple(
        TaskStatus(
            id=int(t.get("id", 0)),
            state=t.get("state", "UNKNOWN"),
            worker_id=t.get("worker_id", ""),
            trace=t.get("trace", "") or "",
        )
        for t in sorted(status.get("tasks") or [], key=lambda t: t.get("id", 0))
    )
    return Connector(
        name=name,
        type=info.get("type") or status.get("type") or "unknown",
        state=conn.get("state", "UNKNOWN"),
        worker_id=conn.get("worker_id", ""),
        config=dict(info.get("config") or {}),
        tasks=tasks,
        trace=conn.get("trace", "") or "",
    )
