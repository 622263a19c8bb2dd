"""Topic reads and writes: configs, create, delete, partitions, config changes, purge, sampling."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from confluent_kafka.admin import (
    ConfigEntry as KafkaConfigEntry,
)

from console.kafka.cache import FRESH, invalidate
from console.kafka.client import admin_for, consumer, timeout, translate, wait, wait_all
from console.kafka.cluster import SOURCES, cluster_snapshot
from console.kafka.connection import Connection
from console.kafka.errors import InvalidRequest, KafkaConsoleError, NotFound
from console.kafka.messages import to_message
from console.kafka.offsets import Watermarks, watermarks
from console.kafka.types import ConfigEntry, Message

# librdkafka's describe_configs is batched per broker: ask for many topics per call.
CONFIG_BATCH = 500
# Broker configs behind a topic config that Kafka does not list as synonyms while the topic
# overrides it, because they need a unit conversion (Kafka's ServerTopicConfigSynonyms):
# the first one set wins, its value times the factor.
UNIT_SYNONYMS = {
    "retention.ms": (
        ("log.retention.ms", 1),
        ("log.retention.minutes", 60_000),
        ("log.retention.hours", 3_600_000),
    ),
    "segment.ms": (("log.roll.ms", 1), ("log.roll.hours", 3_600_000)),
    "segment.jitter.ms": (("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", 3_600_000)),
}
R = TypeVar("R")


def _changes(func: Callable[..., R]) -> Callable[..., R]:
    """A change to the cluster: the process's shared reads of it are dropped afterwards
    (also when it failed half-way), so the next page shows it."""

    @functools.wraps(func)
    def wrapper(cluster: Connection, *args: Any, **kwargs: Any) -> R:
        try:
            return func(cluster, *args, **kwargs)
        finally:
            invalidate(cluster.name)

    return wrapper


def _entry(e: KafkaConfigEntry) -> ConfigEntry:
    return ConfigEntry(
        name=e.name,
        value=e.value,
        source=SOURCES.get(e.source, str(e.source)),
        is_default=e.is_default,
        is_sensitive=e.is_sensitive,
        is_read_only=e.is_read_only,
    )


def _entries(raw: dict) -> list[ConfigEntry]:
    return sorted((_entry(e) for e in raw.values()), key=lambda e: e.name)


def topic_configs(
    cluster: Connection, names: Iterable[str]
) -> dict[str, list[ConfigEntry] | KafkaConsoleError]:
    """Every config of each topic with its source (default, broker, topic override)."""
    names = list(dict.fromkeys(names))
    out: dict[str, list[ConfigEntry] | KafkaConsoleError] = {}
    admin = admin_for(cluster)
    for i in range(0, len(names), CONFIG_BATCH):
        resources = [
            ConfigResource(ConfigResource.Type.TOPIC, n) for n in names[i : i + CONFIG_BATCH]
        ]
        try:
            futures = admin.describe_configs(resources, request_timeout=timeout())
        except KafkaException as exc:
            raise translate(exc, what="topic configs") from None
        for res, result in wait_all(futures, what="topic configs").items():
            out[res.name] = result if isinstance(result, KafkaConsoleError) else _entries(result)
    return out


def broker_defaults(cluster: Connection) -> dict[str, str]:
    """The cluster's defaults for new topics (num.partitions, default.replication.factor)."""
    snap = cluster_snapshot(cluster, topic=None)
    online = [b.id for b in snap.brokers if b.online]
    if not online:
        return {}
    res = ConfigResource(ConfigResource.Type.BROKER, str(online[0]))
    entries = wait(
        admin_for(cluster).describe_configs([res], request_timeout=timeout())[res],
        what="broker defaults",
    )
    keys = ("num.partitions", "default.replication.factor", "min.insync.replicas")
    return {k: entries[k].value for k in keys if k in entries and entries[k].value is not None}


@_changes
def topic_create(
    cluster: Connection, *, name: str, partitions: int, replication: int, configs: dict[str, str]
) -> None:
    """Create a topic; Kafka's refusal (exists, bad config, too few brokers) as InvalidRequest."""
    new = NewTopic(name, num_partitions=partitions, replication_factor=replication, config=configs)
    try:
        futures = admin_for(cluster).create_topics(
            [new], operation_timeout=timeout(), request_timeout=timeout()
        )
    except KafkaException as exc:
        raise translate(exc, what=f"creating {name}") from None
    wait(futures[name], what=f"creating topic {name!r}")
    _wait_for(lambda: _leaders_ready(cluster, name, partitions), f"topic {name} to get leaders")


def _leaders_ready(cluster: Connection, name: str, partitions: int) -> bool:
    try:
        (t,) = cluster_snapshot(cluster, topic=name, max_age=FRESH).topics
    except NotFound:
        return False
    return t.partition_count >= partitions and not t.offline


def _gone(cluster: Connection, name: str) -> bool:
    return name not in admin_for(cluster).list_topics(timeout=timeout()).topics


def _wait_for(check, what: str, limit: float | None = None) -> None:
    deadline = time.monotonic() + (limit or timeout() * 2)
    while not check():
        if time.monotonic() > deadline:
            raise InvalidRequest(
                f"Kafka accepted the change, but {what} took longer than "
                f"{limit or timeout() * 2:g} s; reload to see where it stands"
            )
        time.sleep(0.1)


@_changes
def topic_delete(cluster: Connection, *, name: str) -> None:
    """Delete a topic and wait until metadata no longer lists it."""
    try:
        futures = admin_for(cluster).delete_topics(
            [name], operation_timeout=timeout(), request_timeout=timeout()
        )
    except KafkaException as exc:
        raise translate(exc, what=f"deleting {name}") from None
    wait(futures[name], what=f"deleting topic {name!r}")
    _wait_for(lambda: _gone(cluster, name), f"topic {name} to disappear")


@_changes
def partitions_add(
    cluster: Connection, *, name: str, total: int, validate_only: bool = False
) -> None:
    """Grow a topic to `total` partitions (Kafka cannot shrink them).

    `validate_only`: the controller checks the request and changes nothing.
    """
    try:
        futures = admin_for(cluster).create_partitions(
            [NewPartitions(name, total)],
            operation_timeout=timeout(),
            request_timeout=timeout(),
            validate_only=validate_only,
        )
    except KafkaException as exc:
        raise translate(exc, what=f"adding partitions to {name}") from None
    wait(futures[name], what=f"adding partitions to {name!r}")
    if validate_only:
        return
    _wait_for(
        lambda: _leaders_ready(cluster, name, total), f"new partitions of {name} to get leaders"
    )


@_changes
def configs_alter(
    cluster: Connection,
    *,
    name: str,
    set_: dict[str, str],
    delete: Iterable[str] = (),
    validate_only: bool = False,
) -> None:
    """Incrementally set and delete topic config overrides (other overrides stay).

    `validate_only`: the broker checks names and values and changes nothing.
    """
    delete = list(delete)
    entries = [
        KafkaConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_.items()
    ]
    entries += [
        KafkaConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete
    ]
    res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    try:
        futures = admin_for(cluster).incremental_alter_configs(
            [res], request_timeout=timeout(), validate_only=validate_only
        )
    except KafkaException as exc:
        raise translate(exc, what=f"changing configs of {name}") from None
    wait(futures[res], what=f"config of {name!r}")
    if not validate_only:
        # Brokers apply the controller's change a moment later: wait, so the page shown next
        # (and any read after this call) sees it.
        _wait_for(
            lambda: _configs_applied(cluster, name, set_, delete),
            f"the config change of {name} to reach the brokers",
        )


def _configs_applied(
    cluster: Connection, name: str, set_: dict[str, str], delete: Iterable[str]
) -> bool:
    entries = topic_configs(cluster, [name])[name]
    if isinstance(entries, KafkaConsoleError):
        return False
    now = {e.name: e for e in entries}
    return all(k in now and now[k].value == v for k, v in set_.items()) and all(
        k not in now or now[k].source != "topic" for k in delete
    )


@dataclass(frozen=True, slots=True)
class ConfigValue:
    """One topic config now, and what it falls back to once its topic override goes."""

    entry: ConfigEntry
    fallback: str | None  # None: Kafka reported no value below the override
    fallback_source: str  # "default", "static broker", ...; "" when unknown


def topic_config_get(cluster: Connection, *, name: str, key: str) -> ConfigValue | None:
    """One config of a topic and its fallback; None when topics have no config of that name.

    The fallback is the broker's value for the first broker-level synonym (log.segment.bytes
    for segment.bytes), read from a live broker in the same request: the synonyms themselves
    come keyed by name, so a static and a default value of one name collapse into one.
    """
    brokers = [b.id for b in cluster_snapshot(cluster, topic=name).brokers if b.online]
    topic_res = ConfigResource(ConfigResource.Type.TOPIC, name)
    resources = [topic_res]
    if brokers:
        resources.append(ConfigResource(ConfigResource.Type.BROKER, str(brokers[0])))
    try:
        futures = admin_for(cluster).describe_configs(resources, request_timeout=timeout())
    except KafkaException as exc:
        raise translate(exc, what=f"configs of {name}") from None
    results = wait_all(futures, what=f"configs of topic {name!r}")
    topic_entries = results[topic_res]
    if isinstance(topic_entries, KafkaConsoleError):
        raise topic_entries
    raw = topic_entries.get(key)
    if raw is None:
        return None
    entry = _entry(raw)
    if entry.source != "topic":
        return ConfigValue(entry, entry.value, entry.source)
    broker_entries = results.get(resources[-1]) if brokers else None
    if isinstance(broker_entries, KafkaConsoleError):
        broker_entries = None
    for syn in (raw.synonyms or {}).values():  # in precedence order, topic level first
        if SOURCES.get(syn.source) == "topic":
            continue
        live = (broker_entries or {}).get(syn.name)
        if live is not None and live.value is not None:
            return ConfigValue(entry, live.value, SOURCES.get(live.source, str(live.source)))
        return ConfigValue(entry, syn.value, SOURCES.get(syn.source, str(syn.source)))
    for broker_key, factor in UNIT_SYNONYMS.get(key, ()):
        live = (broker_entries or {}).get(broker_key)
        if live is not None and live.value is not None and live.value.lstrip("-").isdigit():
            value = str(int(live.value) * factor)
            return ConfigValue(entry, value, SOURCES.get(live.source, str(live.source)))
    return ConfigValue(entry, None, "")


@_changes
def records_delete(cluster: Connection, *, name: str, before: dict[int, int]) -> dict[int, int]:
    """Delete records below the given offset per partition (-1: all); returns new low marks."""
    tps = [TopicPartition(name, p, off) for p, off in sorted(before.items())]
    try:
        futures = admin_for(cluster).delete_records(
            tps, operation_timeout=timeout(), request_timeout=timeout()
        )
    except KafkaException as exc:
        raise translate(exc, what=f"purging {name}") from None
    out = {}
    for tp, fut in futures.items():
        result = wait(fut, what=f"purging {name}[{tp.partition}]")
        out[tp.partition] = result.low_watermark
    return out


def newest_sample(
    cluster: Connection,
    name: str,
    *,
    per_partition: int,
    marks: dict[int, Watermarks],
    max_seconds: float = 3.0,
) -> tuple[list[Message], bool]:
    """Up to `per_partition` newest messages of each partition, read in batches.

    Stops at the high watermarks given (a live topic never keeps it waiting) and after
    `max_seconds`; returns the messages and whether the time bound cut the sample short.
    """
    wanted = {
        p: (max(m.low, m.high - per_partition), m.high) for p, m in marks.items() if m.high > m.low
    }
    if not wanted:
        return [], False
    out: list[Message] = []
    deadline = time.monotonic() + max_seconds
    with consumer(cluster) as c:
        c.assign([TopicPartition(name, p, start) for p, (start, _end) in wanted.items()])
        pending = set(wanted)
        while pending and time.monotonic() < deadline:
            # Ask for no more than is left: consume() waits out its timeout for a full batch.
            left = sum(end - start for start, end in wanted.values()) - len(out)
            for msg in c.consume(num_messages=max(1, min(1000, left)), timeout=0.5):
                p = msg.partition()
                if msg.error():
                    continue  # partition EOF or a transient error: the bounds decide
                if p in pending:
                    if msg.offset() < wanted[p][1]:
                        out.append(to_message(msg))
                    if msg.offset() >= wanted[p][1] - 1:
                        pending.discard(p)
            # a partition whose last offsets are transaction markers never yields them
            for p in list(pending):
                pos = c.position([TopicPartition(name, p)])[0].offset
                if pos >= wanted[p][1]:
                    pending.discard(p)
    return out, bool(pending)


__all__ = [
    "ConfigValue",
    "broker_defaults",
    "configs_alter",
    "newest_sample",
    "partitions_add",
    "records_delete",
    "topic_config_get",
    "topic_configs",
    "topic_create",
    "topic_delete",
    "watermarks",
]
