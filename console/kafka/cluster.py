"""Cluster-level reads: metadata snapshot, overview, broker configs."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    ConfigResource,
    ConfigSource,  # noqa: I001
)

from console.kafka.cache import FRESH, allowed_age, shared
from console.kafka.client import admin_for, refine, timeout, translate, wait
from console.kafka.connection import Connection
from console.kafka.errors import ClusterUnavailable, KafkaConsoleError, NotFound
from console.kafka.types import (
    BrokerInfo,
    ClusterOverview,
    ClusterSnapshot,
    ConfigEntry,
    PartitionInfo,
    TopicInfo,
)

SOURCES = {
    ConfigSource.DEFAULT_CONFIG.value: "default",
    ConfigSource.STATIC_BROKER_CONFIG.value: "static broker",
    ConfigSource.DYNAMIC_BROKER_CONFIG.value: "dynamic broker",
    ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value: "dynamic default",
    ConfigSource.DYNAMIC_TOPIC_CONFIG.value: "topic",
    ConfigSource.UNKNOWN_CONFIG.value: "unknown",
}
INTERNAL_PREFIXES = ("__",)


def cluster_snapshot(
    cluster: Connection,
    *,
    topic: str | None = None,
    max_age: float | None = None,
    stale_s: float = 0.0,
) -> ClusterSnapshot:
    """All brokers and topics (or one topic) from one metadata request.

    `max_age` (default: what the page layer allows; fresh outside a page) lets the answer
    come from the process's shared snapshot of the whole cluster: the one in flight, or one
    that recent (console/kafka/cache.py). A topic the shared snapshot lacks, or shows with an
    error, is asked for afresh: a topic just created is never reported missing. `stale_s`:
    an older shared snapshot, up to `max_age + stale_s`, is returned while a newer one is
    read in the background (cache.shared).
    """
    age = allowed_age(max_age)
    if age >= 0:
        full = shared(
            cluster.name,
            ("snapshot", cluster.bootstrap_servers),
            age,
            lambda: _snapshot(cluster, None),
            stale_s=stale_s,
        )
        if topic is None:
            return full
        found = [t for t in full.topics if t.name == topic and not t.error]
        if found:
            return ClusterSnapshot(full.cluster_id, full.controller_id, full.brokers, tuple(found))
    return shared(cluster.name, None, FRESH, lambda: _snapshot(cluster, topic))  # fresh


def _snapshot(cluster: Connection, topic: str | None) -> ClusterSnapshot:
    try:
        md = admin_for(cluster).list_topics(topic=topic, timeout=timeout())
    except KafkaException as exc:
        raise refine(cluster, translate(exc, what=f"metadata of {cluster.name}")) from None
    topics = []
    leaders: dict[int, int] = {}
    replicas: dict[int, int] = {}
    for t in md.topics.values():
        if t.error is not None and topic is not None:
            raise translate(t.error, what=f"topic {t.topic!r}")
        parts = []
        for p in sorted(t.partitions.values(), key=lambda p: p.id):
            parts.append(PartitionInfo(t.topic, p.id, p.leader, tuple(p.replicas), tuple(p.isrs)))
            if p.leader >= 0:
                leaders[p.leader] = leaders.get(p.leader, 0) + 1
            for r in p.replicas:
                replicas[r] = replicas.get(r, 0) + 1
        internal = t.topic.startswith(INTERNAL_PREFIXES)
        topics.append(TopicInfo(t.topic, internal, tuple(parts), str(t.error) if t.error else ""))
    brokers = {
        b.id: BrokerInfo(
            id=b.id,
            host=b.host,
            port=b.port,
            rack=None,
            is_controller=b.id == md.controller_id,
            online=True,
            leader_count=leaders.get(b.id, 0),
            replica_count=replicas.get(b.id, 0),
        )
        for b in md.brokers.values()
    }
    # A broker that replicas name but metadata does not list is down: show it, offline.
    for rid in replicas:
        if rid not in brokers:
            brokers[rid] = BrokerInfo(rid, "", 0, None, False, False, 0, replicas[rid])
    return ClusterSnapshot(
        cluster_id=md.cluster_id,
        controller_id=md.controller_id,
        brokers=tuple(sorted(brokers.values(), key=lambda b: b.id)),
        topics=tuple(sorted(topics, key=lambda t: t.name)),
    )


def broker_racks(cluster: Connection) -> dict[int, str | None]:
    """Rack of each live broker (DescribeCluster; metadata in Python omits racks)."""
    desc = wait(admin_for(cluster).describe_cluster(request_timeout=timeout()), what="brokers")
    return {n.id: n.rack for n in desc.nodes}


def _tcp_refusals(cluster: Connection) -> str:
    """'' if any bootstrap server accepts a TCP connection, else why none did.

    librdkafka retries a refused connection until the request timeout; a refused TCP
    connect tells at once that the broker is down, so the page need not wait.
    """
    reasons = []
    for server in cluster.bootstrap_servers.split(","):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout(), 2)):
                return ""
        except OSError as exc:
            reasons.append(f"{server}: {exc.strerror or exc}")
    return "no bootstrap server accepts connections (" + "; ".join(reasons) + ")"


def cluster_overview(cluster: Connection) -> ClusterOverview:
    """Health of one cluster; never raises for an unreachable cluster, reports it instead."""
    started = time.monotonic()
    try:
        refused = _tcp_refusals(cluster)
        if refused:
            raise ClusterUnavailable(refused)
        snap = cluster_snapshot(cluster)
        racks = broker_racks(cluster)
    except KafkaConsoleError as exc:
        return ClusterOverview(
            name=cluster.name,
            bootstrap_servers=cluster.bootstrap_servers,
            read_only=cluster.read_only,
            reachable=False,
            error=str(exc),
            elapsed_s=time.monotonic() - started,
        )
    brokers = tuple(
        BrokerInfo(
            b.id,
            b.host,
            b.port,
            racks.get(b.id),
            b.is_controller,
            b.online,
            b.leader_count,
            b.replica_count,
        )
        for b in snap.brokers
    )
    snap = ClusterSnapshot(snap.cluster_id, snap.controller_id, brokers, snap.topics)
    return ClusterOverview(
        name=cluster.name,
        bootstrap_servers=cluster.bootstrap_servers,
        read_only=cluster.read_only,
        reachable=True,
        snapshot=snap,
        elapsed_s=time.monotonic() - started,
    )


def cluster_overviews(clusters: list[Connection]) -> list[ClusterOverview]:
    """Every cluster's overview, fetched in parallel so one slow cluster delays no other."""
    if not clusters:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(clusters))) as pool:
        return list(pool.map(cluster_overview, clusters))


def broker_configs(cluster: Connection, broker_id: int) -> list[ConfigEntry]:
    """Every config of one broker with its source (default, static, dynamic)."""
    live = {b.id for b in cluster_snapshot(cluster).brokers if b.online}
    if broker_id not in live:
        raise NotFound(f"broker {broker_id} is not online in {cluster.name}")
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker_id))
    futures = admin_for(cluster).describe_configs([resource], request_timeout=timeout())
    entries = wait(futures[resource], what=f"configs of broker {broker_id}")
    return sorted(
        (
            ConfigEntry(
                name=e.name,
                value=e.value,
                source=SOURCES.get(e.source, str(e.source)),
                is_default=e.is_default,
                is_sensitive=e.is_sensitive,
                is_read_only=e.is_read_only,
            )
            for e in entries.values()
        ),
        key=lambda e: e.name,
    )
