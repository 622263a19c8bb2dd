"""Which Kafka clusters the console knows: loaded once from a TOML file and the environment.

Sources, in order (names must be unique across them):
1. ``CONSOLE_CLUSTERS_FILE`` (TOML)::

       [[clusters]]
       name = "prod"
       bootstrap_servers = "kafka-1:9092,kafka-2:9092"
       read_only = true
       schema_registry_url = "http://registry:8081"      # optional
       lag_metrics = true                                 # optional: lag gauges on /metrics
       connect = [{ name = "main", url = "http://connect:8083" }]   # optional: Kafka Connect
       [clusters.properties]                              # any librdkafka client property
       "security.protocol" = "SASL_SSL"
       "sasl.mechanism" = "SCRAM-SHA-512"
       "sasl.username" = "console"
       "sasl.password" = "${PROD_KAFKA_PASSWORD}"         # secrets only from the environment

2. Kafka UI's variables, so a deployment can switch without rewriting:
   ``KAFKA_CLUSTERS_<n>_NAME``, ``_BOOTSTRAPSERVERS``, ``_READONLY``, ``_SCHEMAREGISTRY``,
   ``_LAGMETRICS``, ``_KAFKACONNECT_<m>_NAME`` / ``_KAFKACONNECT_<m>_ADDRESS`` and
   ``_PROPERTIES_<PROP>`` (``SECURITY_PROTOCOL`` -> ``security.protocol``). A Java
   ``sasl.jaas.config`` with ``username="..." password="..."`` becomes librdkafka's
   ``sasl.username``/``sasl.password``.

Any mistake stops the start with ``ImproperlyConfigured`` naming the source, key and fault.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from console.kafka.connection import Connection

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KAFKA_UI_VAR = re.compile(r"^KAFKA_CLUSTERS_(\d+)_([A-Z0-9_]+)$")
# Properties whose values are secrets: never rendered, logged or put in error messages.
SECRET_KEYS = re.compile(r"(password|secret|jaas|token|key\.pem|keystore|credentials)", re.I)
# Client properties the console sets itself.
RESERVED = {"bootstrap.servers", "group.id", "client.id"}


ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True, slots=True)
class MaskRule:
    """Hide parts of message values on topics matching `topics` from users in `roles`."""

    topics: re.Pattern[str]
    json_paths: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    roles: tuple[str, ...] = ("viewer", "operator")

    def applies(self, topic: str, role: str) -> bool:
        return role in self.roles and self.topics.fullmatch(topic) is not None


@dataclass(frozen=True, slots=True)
class ConnectCluster:
    """A Kafka Connect cluster (its REST API) that works with a Kafka cluster."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Cluster(Connection):
    """A configured cluster: the door's connection settings plus what only the pages need."""

    schema_registry_url: str = ""
    source: str = ""
    masking: tuple[MaskRule, ...] = field(default=(), hash=False, compare=False)
    # Export every group's lag per partition on /metrics (from the lag sampler): opt-in,
    # as a cluster with many groups makes many series.
    lag_metrics: bool = False
    # Kafka Connect clusters by REST URL (console/connect/).
    connect: tuple[ConnectCluster, ...] = field(default=(), hash=False, compare=False)

    def connect_cluster(self, name: str) -> ConnectCluster | None:
        return next((c for c in self.connect if c.name == name), None)

    def public_properties(self) -> dict[str, str]:
        """The properties with secret values masked, safe to show on a page."""
        return {k: ("******" if SECRET_KEYS.search(k) else v) for k, v in self.properties.items()}


def _expand(value: str, where: str, environ: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in environ:
            raise ImproperlyConfigured(f"{where}: environment variable {var} is not set")
        return environ[var]

    return ENV_REF.sub(sub, value)


def _jaas_to_librdkafka(props: dict[str, str]) -> dict[str, str]:
    jaas = props.pop("sasl.jaas.config", None)
    if jaas is None:
        return props
    for key in ("username", "password"):
        m = re.search(rf'{key}\s*=\s*"([^"]*)"', jaas)
        if m:
            props.setdefault(f"sasl.{key}", m.group(1))
    return props


def validate_properties(props: dict[str, str], where: str) -> None:
    """Let librdkafka itself judge each property (no network: no bootstrap servers given)."""
    from console.kafka.client import check_client_config

    for key in props:
        if key in RESERVED:
            raise ImproperlyConfigured(f"{where}: property {key!r} is set by the console itself")
    problem = check_client_config(props)
    if problem:
        raise ImproperlyConfigured(f"{where}: {problem}")


def _make(raw: dict, where: str, environ: dict[str, str]) -> Cluster:
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{where}: expected a table with name and bootstrap_servers")
    known = {
        "name",
        "bootstrap_servers",
        "properties",
        "read_only",
        "schema_registry_url",
        "masking",
        "lag_metrics",
        "connect",
    }
    unknown = set(raw) - known
    if unknown:
        raise ImproperlyConfigured(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(sorted(known))}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ImproperlyConfigured(
            f"{where}: name {name!r} must be 1-63 letters, digits, '.', '_' or '-'"
        )
    servers = raw.get("bootstrap_servers", "")
    if isinstance(servers, list):
        servers = ",".join(servers)
    if not isinstance(servers, str) or not servers.strip():
        raise ImproperlyConfigured(f"{where} (cluster {name!r}): bootstrap_servers is empty")
    for server in servers.split(","):
        if not re.match(r"^\s*(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}\s*$", server):
            raise ImproperlyConfigured(
                f"{where} (cluster {name!r}): bootstrap server {server!r} is not host:port"
            )
    read_only = raw.get("read_only", False)
    if not isinstance(read_only, bool):
        raise ImproperlyConfigured(f"{where} (cluster {name!r}): read_only must be true or false")
    lag_metrics = raw.get("lag_metrics", False)
    if not isinstance(lag_metrics, bool):
        raise ImproperlyConfigured(f"{where} (cluster {name!r}): lag_metrics must be true or false")
    props_raw = raw.get("properties", {}) or {}
    if not isinstance(props_raw, dict):
        raise ImproperlyConfigured(f"{where} (cluster {name!r}): properties must be a table")
    props = {
        str(k): _expand(str(v).lower() if isinstance(v, bool) else str(v), f"{where} {k}", environ)
        for k, v in props_raw.items()
    }
    props = _jaas_to_librdkafka(props)
    validate_properties(props, f"{where} (cluster {name!r})")
    registry = raw.get("schema_registry_url", "") or ""
    if registry and not re.match(r"^https?://", registry):
        raise ImproperlyConfigured(
            f"{where} (cluster {name!r}): schema_registry_url must start with http:// or https://"
        )
    masking = tuple(
        _mask_rule(rule, f"{where} (cluster {name!r}) masking #{i + 1}")
        for i, rule in enumerate(raw.get("masking", []) or [])
    )
    connect = _connect_clusters(raw.get("connect", []) or [], f"{where} (cluster {name!r})")
    return Cluster(
        connect=connect,
        masking=masking,
        name=name,
        bootstrap_servers=",".join(s.strip() for s in servers.split(",")),
        properties=props,
        read_only=read_only,
        schema_registry_url=registry,
        source=where,
        lag_metrics=lag_metrics,
    )


def _connect_clusters(raw, where: str) -> tuple[ConnectCluster, ...]:
    """connect = [{ name = "main", url = "http://connect:8083" }, ...]"""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ImproperlyConfigured(f"{where}: connect must be a list of {{name, url}} tables")
    found: list[ConnectCluster] = []
    for i, item in enumerate(raw):
        at = f"{where} connect #{i + 1}"
        if not isinstance(item, dict) or set(item) - {"name", "url"}:
            raise ImproperlyConfigured(f"{at}: expected a table with name and url only")
        cname, url = item.get("name", ""), str(item.get("url", "")).rstrip("/")
        if not isinstance(cname, str) or not NAME_RE.match(cname):
            raise ImproperlyConfigured(
                f"{at}: name {cname!r} must be 1-63 letters, digits, '.', '_' or '-'"
            )
        if not re.match(r"^https?://[^/\s]+", url):
            raise ImproperlyConfigured(f"{at}: url must start with http:// or https://")
        if any(c.name == cname for c in found):
            raise ImproperlyConfigured(f"{at}: Connect cluster {cname!r} is defined twice")
        found.append(ConnectCluster(cname, url))
    return tuple(found)


def _mask_rule(raw: dict, where: str) -> MaskRule:
    """[[clusters.masking]] topics = "payments.*", json_paths = ["$.card"], regex = "...",
    roles = ["viewer", "operator"]."""
    from console.messages.filters import FilterError, parse_path

    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{where}: expected a table")
    unknown = set(raw) - {"topics", "json_paths", "regex", "roles"}
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        topics = re.compile(raw.get("topics", ".*"))
        regex = re.compile(raw["regex"]) if raw.get("regex") else None
    except re.error as exc:
        raise ImproperlyConfigured(f"{where}: bad regular expression: {exc}") from None
    paths = tuple(raw.get("json_paths", []))
    for path in paths:
        try:
            parse_path(path)
        except FilterError as exc:
            raise ImproperlyConfigured(f"{where}: {exc}") from None
    if not paths and regex is None:
        raise ImproperlyConfigured(f"{where}: give json_paths, regex or both")
    roles = tuple(raw.get("roles", ["viewer", "operator"]))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise ImproperlyConfigured(f"{where}: unknown role(s) {bad}; roles are {ROLES}")
    return MaskRule(topics=topics, json_paths=paths, regex=regex, roles=roles)


def _from_file(path: Path, environ: dict[str, str]) -> list[Cluster]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ImproperlyConfigured(f"CONSOLE_CLUSTERS_FILE: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"{path}: malformed TOML: {exc}") from None
    clusters = data.get("clusters")
    if not isinstance(clusters, list):
        raise ImproperlyConfigured(f"{path}: expected one or more [[clusters]] tables")
    return [_make(raw, f"{path} [[clusters]] #{i + 1}", environ) for i, raw in enumerate(clusters)]


def _parse_bool(value: str, where: str) -> bool:
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no", ""}:
        return False
    raise ImproperlyConfigured(f"{where}={value!r}: expected true or false")


def _from_kafka_ui_env(environ: dict[str, str]) -> list[Cluster]:
    by_index: dict[int, dict] = {}
    for var, value in environ.items():
        m = KAFKA_UI_VAR.match(var)
        if not m:
            continue
        idx, rest = int(m.group(1)), m.group(2)
        raw = by_index.setdefault(idx, {"properties": {}, "_vars": []})
        raw["_vars"].append(var)
        if rest == "NAME":
            raw["name"] = value
        elif rest == "BOOTSTRAPSERVERS":
            raw["bootstrap_servers"] = value
        elif rest == "READONLY":
            raw["read_only"] = _parse_bool(value, var)
        elif rest == "SCHEMAREGISTRY":
            raw["schema_registry_url"] = value
        elif rest == "LAGMETRICS":
            raw["lag_metrics"] = _parse_bool(value, var)
        elif m2 := re.match(r"^KAFKACONNECT_(\d+)_(NAME|ADDRESS)$", rest):
            slot = raw.setdefault("_connect", {}).setdefault(int(m2.group(1)), {})
            slot["name" if m2.group(2) == "NAME" else "url"] = value
        elif rest.startswith("PROPERTIES_"):
            raw["properties"][rest[len("PROPERTIES_") :].lower().replace("_", ".")] = value
        else:
            raise ImproperlyConfigured(
                f"{var}: unknown setting {rest!r}; expected NAME, BOOTSTRAPSERVERS, READONLY, "
                "SCHEMAREGISTRY, LAGMETRICS, KAFKACONNECT_<m>_NAME/_ADDRESS or PROPERTIES_<PROP>"
            )
    clusters = []
    for idx in sorted(by_index):
        raw = by_index[idx]
        raw.pop("_vars")
        if "_connect" in raw:
            slots = raw.pop("_connect")
            raw["connect"] = [slots[k] for k in sorted(slots)]
        if "name" not in raw:
            raise ImproperlyConfigured(f"KAFKA_CLUSTERS_{idx}_NAME is not set")
        clusters.append(_make(raw, f"KAFKA_CLUSTERS_{idx}_*", environ))
    return clusters


def load_clusters(environ: dict[str, str] | None = None, file: str | None = None) -> list[Cluster]:
    """Read every source; raise ImproperlyConfigured on the first fault found."""
    environ = dict(os.environ if environ is None else environ)
    file = settings.CONSOLE_CLUSTERS_FILE if file is None else file
    clusters: list[Cluster] = []
    if file:
        clusters += _from_file(Path(file), environ)
    clusters += _from_kafka_ui_env(environ)
    seen: dict[str, Cluster] = {}
    for c in clusters:
        if c.name in seen:
            raise ImproperlyConfigured(
                f"cluster name {c.name!r} is defined twice ({seen[c.name].source} and {c.source})"
            )
        seen[c.name] = c
    return clusters


_lock = threading.Lock()
_clusters: dict[str, Cluster] | None = None


def all_clusters() -> list[Cluster]:
    """The configured clusters, in configuration order (loaded once per process)."""
    global _clusters
    with _lock:
        if _clusters is None:
            _clusters = {c.name: c for c in load_clusters()}
        return list(_clusters.values())


def get_cluster(name: str) -> Cluster | None:
    all_clusters()
    assert _clusters is not None
    return _clusters.get(name)


def reset_clusters(clusters: list[Cluster] | None = None) -> None:
    """Forget the loaded clusters (tests, or after the environment changed)."""
    global _clusters
    from console.kafka.client import forget_clients

    with _lock:
        _clusters = None if clusters is None else {c.name: c for c in clusters}
    forget_clients()
