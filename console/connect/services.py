"""Reads (``*_for``/``*_get``) and operations on Kafka Connect; every operation is
permission-checked, refused on read-only clusters and audited (console/audit.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.access import Capability
from console.audit import mutation
from console.clusters import SECRET_KEYS, Cluster, ConnectCluster
from console.connect.client import (
    ConnectClient,
    ConnectNotFound,
    Connector,
    ConnectRefused,
    Validation,
)
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError

# Keys a connector names its topics with (sources: topic/topics; sinks: topics).
TOPIC_KEYS = ("topic", "topics", "kafka.topic")


@dataclass(frozen=True, slots=True)
class Action:
    """One operation on a connector: who may do it, and what the preview says."""

    verb: str
    label: str
    capability: Capability
    effect: str
    after: str = ""  # the connector's state once done ("" : unchanged)
    needs_state: tuple[str, ...] = ()
    danger: bool = False


ACTIONS: dict[str, Action] = {
    a.verb: a
    for a in (
        Action(
            "pause",
            "Pause",
            Capability.OPERATE,
            "Its tasks stop processing records but keep their resources; a source stops "
            "reading, a sink stops consuming (its group's lag grows). Resume picks up where it "
            "stopped.",
            after="PAUSED",
        ),
        Action(
            "resume",
            "Resume",
            Capability.OPERATE,
            "Its tasks start processing records again from their committed offsets.",
            after="RUNNING",
        ),
        Action(
            "stop",
            "Stop",
            Capability.OPERATE,
            "Its tasks are shut down and release their resources; the configuration stays. "
            "Resume starts them again. A stopped connector's offsets can be reset.",
            after="STOPPED",
        ),
        Action(
            "restart",
            "Restart",
            Capability.OPERATE,
            "The connector and all its tasks are restarted on their workers (a failed task "
            "gets another try).",
        ),
        Action(
            "task-restart",
            "Restart task",
            Capability.OPERATE,
            "This one task is restarted on its worker; the others keep running.",
        ),
        Action(
            "reset-offsets",
            "Reset offsets",
            Capability.OPERATE,
            "Every committed offset of the connector is erased: on resume, a source starts "
            "reading from its beginning again (duplicates), a sink's consumer group from its "
            "auto.offset.reset position.",
            needs_state=("STOPPED",),
            danger=True,
        ),
        Action(
            "delete",
            "Delete",
            Capability.ADMIN,
            "The connector, its configuration and its tasks are removed from the Connect "
            "cluster. Its topics and data stay; its offsets stay too (a connector created "
            "again under this name resumes from them).",
            danger=True,
        ),
    )
}


def _settle(check, limit: float = 5.0) -> None:
    """Wait (bounded) until `check()` holds: a worker answers a create or delete before its
    own reads show it, and the next page must not say "not found" or show it still there."""
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except ConnectRefused:
            pass
        time.sleep(0.1)


def _exists(client: ConnectClient, name: str) -> bool:
    try:
        client.connector(name)
    except ConnectNotFound:
        return False
    return True


def client_for(connect: ConnectCluster) -> ConnectClient:
    return ConnectClient(connect)


def masked_config(config: dict[str, str]) -> list[tuple[str, str, bool]]:
    """(key, shown value, masked?) sorted by key: secret-looking values never reach a page."""
    return [
        (k, "******" if SECRET_KEYS.search(k) else v, bool(SECRET_KEYS.search(k)))
        for k, v in sorted(config.items())
    ]


def configured_topics(connector: Connector) -> list[str]:
    names: list[str] = []
    for key in TOPIC_KEYS:
        for t in re.split(r"[,\s]+", connector.config.get(key, "") or ""):
            if t and t not in names:
                names.append(t)
    return names


def sink_group(connector: Connector) -> str:
    """The consumer group a sink connector consumes with."""
    return connector.config.get("consumer.override.group.id") or f"connect-{connector.name}"


@dataclass(frozen=True, slots=True)
class ConnectorPage:
    connector: Connector
    topics: list[str]
    missing_topics: list[str]
    regex: str
    group: str
    offsets: list[dict] | None
    offsets_error: str = ""
    topics_checked: bool = True
    config: list[tuple[str, str, bool]] = field(default_factory=list)


def offsets_shown(raw: list[dict] | None) -> list[dict[str, str]] | None:
    """The worker's offsets with partition and offset as compact JSON, as a page shows them."""
    import json

    if raw is None:
        return None
    return [
        {
            "partition": json.dumps(o.get("partition"), separators=(", ", ": ")),
            "offset": json.dumps(o.get("offset"), separators=(", ", ": ")),
        }
        for o in raw
    ]


def existing_topics(cluster: Cluster) -> set[str] | None:
    """Topic names of the Kafka cluster, or None when it cannot be asked now."""
    try:
        return {t.name for t in cluster_snapshot(cluster).topics if not t.error}
    except KafkaConsoleError:
        return None


def connector_list_for(*, cluster: Cluster, connect: ConnectCluster) -> list[Connector]:
    """Every connector of `connect` with state, type, class and task states (one request)."""
    return client_for(connect).connectors()


def connector_page_get(*, cluster: Cluster, connect: ConnectCluster, name: str) -> ConnectorPage:
    """A connector with its config, tasks, topics (and which of them are missing), group and
    offsets."""
    client = client_for(connect)
    connector = client.connector(name)
    topics = configured_topics(connector)
    try:
        for t in client.active_topics(name):
            if t not in topics:
                topics.append(t)
    except ConnectRefused:
        pass  # topic tracking can be disabled on the worker
    offsets, offsets_error = None, ""
    try:
        offsets = offsets_shown(client.offsets(name))
    except ConnectRefused as exc:
        offsets_error = str(exc)
    known = existing_topics(cluster)
    missing = [t for t in topics if known is not None and t not in known]
    return ConnectorPage(
        connector=connector,
        topics=topics,
        missing_topics=missing,
        regex=connector.config.get("topics.regex", ""),
        group=sink_group(connector) if connector.type == "sink" else "",
        offsets=offsets,
        offsets_error=offsets_error,
        topics_checked=known is not None,
        config=masked_config(connector.config),
    )


def parse_config(text: str) -> dict[str, str]:
    """Connector config from a JSON object or ``key=value`` lines (``#`` comments).

    Raises ValueError with a message naming the faulty line."""
    import json

    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"This is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError("Give a JSON object of config keys and values.")
        if isinstance(raw.get("config"), dict):  # a whole {"name":..., "config": {...}} body
            raw = raw["config"]
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    config: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        m = re.match(r"^([^=:]+?)\s*[=:]\s*(.*)$", line)
        if not m:
            raise ValueError(f"Line {n} is not key=value: {line[:80]!r}")
        config[m.group(1)] = m.group(2)
    return config


def config_validate(
    *, connect: ConnectCluster, klass: str, name: str, config: dict[str, str]
) -> Validation:
    """The worker's own verdict on `config` (nothing is saved)."""
    return client_for(connect).validate(klass, {**config, "connector.class": klass, "name": name})


def config_diff(
    before: dict[str, str], after: dict[str, str]
) -> list[tuple[str, str | None, str | None]]:
    """(key, old, new) for every added, changed or removed key; secrets masked."""
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            if SECRET_KEYS.search(key):
                old = None if old is None else "******"
                new = None if new is None else "****** (changed)"
            rows.append((key, old, new))
    return rows


def connector_create(
    *, user, cluster: Cluster, connect: ConnectCluster, name: str, config: dict[str, str]
) -> None:
    """Create a connector, after the worker validated its config (refused with errors)."""
    klass = config.get("connector.class", "")
    with mutation(
        user=user,
        cluster=cluster,
        action="connect.create",
        target=f"{connect.name}/{name}",
        capability=Capability.OPERATE,
        params={"connect": connect.name, "class": klass, "keys": sorted(config)},
    ) as m:
        client = client_for(connect)
        check = client.validate(klass, {**config, "name": name})
        if check.error_count:
            m.detail = f"{check.error_count} config error(s)"
            raise ConnectRefused(
                f"The worker found {check.error_count} error(s) in this configuration: "
                + "; ".join(f"{f.name}: {' '.join(f.errors)}" for f in check.errors)
            )
        client.create(name, {**config, "name": name})
        m.detail = f"created {klass}"
    _settle(lambda: _exists(client, name))


def connector_config_update(
    *,
    user,
    cluster: Cluster,
    connect: ConnectCluster,
    name: str,
    config: dict[str, str],
) -> None:
    """Replace a connector's config (validated by the worker first); audited with the diff."""
    with mutation(
        user=user,
        cluster=cluster,
        action="connect.config",
        target=f"{connect.name}/{name}",
        capability=Capability.ADMIN,
        params={"connect": connect.name},
    ) as m:
        client = client_for(connect)
        before = client.connector(name).config
        diff = config_diff(before, {**config, "name": name})
        m.params["changes"] = [k for k, _o, _n in diff]
        m.before = {k: o for k, o, _n in diff}
        m.after = {k: n for k, _o, n in diff}
        klass = config.get("connector.class", before.get("connector.class", ""))
        check = client.validate(klass, {**config, "name": name})
        if check.error_count:
            raise ConnectRefused(
                f"The worker found {check.error_count} error(s) in this configuration: "
                + "; ".join(f"{f.name}: {' '.join(f.errors)}" for f in check.errors)
            )
        client.config_put(name, {**config, "name": name})


def connector_act(
    *,
    user,
    cluster: Cluster,
    connect: ConnectCluster,
    name: str,
    verb: str,
    task: int | None = None,
) -> str:
    """Run one of ACTIONS on a connector (or one task); return what the worker said."""
    action = ACTIONS[verb]
    target = f"{connect.name}/{name}" + (f"/task-{task}" if task is not None else "")
    with mutation(
        user=user,
        cluster=cluster,
        action=f"connect.{verb}",
        target=target,
        capability=action.capability,
        params={"connect": connect.name, **({"task": task} if task is not None else {})},
    ) as m:
        client = client_for(connect)
        current = client.connector(name)
        m.before = {"state": current.state}
        if action.needs_state and current.state not in action.needs_state:
            raise ConnectRefused(
                f"{action.label} needs the connector {' or '.join(action.needs_state)}; "
                f"it is {current.state}. Stop it first."
            )
        said = ""
        if verb == "pause":
            client.pause(name)
        elif verb == "resume":
            client.resume(name)
        elif verb == "stop":
            client.stop(name)
        elif verb == "restart":
            client.restart(name)
        elif verb == "task-restart":
            if task is None or all(t.id != task for t in current.tasks):
                raise ConnectRefused(f"Connector {name} has no task {task}.")
            client.task_restart(name, task)
        elif verb == "reset-offsets":
            m.before["offsets"] = client.offsets(name)
            said = client.offsets_reset(name)
        elif verb == "delete":
            m.before["config"] = {k: v for k, v, _secret in masked_config(current.config)}
            client.delete(name)
            _settle(lambda: not _exists(client, name))
        m.after = {"state": action.after} if action.after else None
        m.detail = said
        return said
