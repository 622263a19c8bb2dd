"""Plain, frozen results of ``console.kafka`` calls: what views and templates see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    id: int
    host: str
    port: int
    rack: str | None
    is_controller: bool
    online: bool
    leader_count: int
    replica_count: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.host else "—"


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    topic: str
    id: int
    leader: int  # -1: no leader (offline)
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def out_of_sync(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.isr)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    internal: bool
    partitions: tuple[PartitionInfo, ...]
    error: str = ""

    @property
    def partition_count(self) -> int:
        return len(self.partitions)

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    @property
    def under_replicated(self) -> int:
        return sum(p.under_replicated for p in self.partitions)

    @property
    def offline(self) -> int:
        return sum(p.offline for p in self.partitions)


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """One metadata request's view of a cluster: brokers and every topic's partitions."""

    cluster_id: str | None
    controller_id: int
    brokers: tuple[BrokerInfo, ...]
    topics: tuple[TopicInfo, ...]

    @property
    def partition_count(self) -> int:
        return sum(t.partition_count for t in self.topics)

    @property
    def under_replicated(self) -> int:
        return sum(t.under_replicated for t in self.topics)

    @property
    def offline_partitions(self) -> int:
        return sum(t.offline for t in self.topics)

    @property
    def offline_brokers(self) -> tuple[BrokerInfo, ...]:
        return tuple(b for b in self.brokers if not b.online)


@dataclass(frozen=True, slots=True)
class ClusterOverview:
    """A cluster's health for the clusters page; ``error`` set when it could not be reached."""

    name: str
    bootstrap_servers: str
    read_only: bool
    reachable: bool
    error: str = ""
    snapshot: ClusterSnapshot | None = None
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: str  # "default", "static broker", "dynamic broker", "dynamic default", "topic", ...
    is_default: bool
    is_sensitive: bool
    is_read_only: bool

    @property
    def shown_value(self) -> str:
        if self.is_sensitive:
            return "******"
        return "" if self.value is None else self.value


@dataclass(frozen=True, slots=True)
class Message:
    """One record as read from Kafka: raw bytes; decoding happens outside the Kafka door."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    timestamp_type: str  # "create", "log-append" or "none"
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def size(self) -> int:
        """Bytes of key, value and headers (what the record carries, not its batch overhead)."""
        return (
            len(self.key or b"")
            + len(self.value or b"")
            + sum(len(k.encode()) + len(v or b"") for k, v in self.headers)
        )
