"""Broker config changes: one broker's dynamic configs (IncrementalAlterConfigs)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AlterConfigOpType, ConfigResource
from confluent_kafka.admin import ConfigEntry as KafkaConfigEntry

from console.kafka.client import admin_for, timeout, translate, wait
from console.kafka.cluster import broker_configs
from console.kafka.connection import Connection
from console.kafka.errors import InvalidRequest
from console.kafka.types import ConfigEntry


def broker_config_get(cluster: Connection, *, broker_id: int, key: str) -> ConfigEntry | None:
    """One config of a broker; None when brokers have no config of that name."""
    return next((e for e in broker_configs(cluster, broker_id) if e.name == key), None)


def broker_config_alter(
    cluster: Connection,
    *,
    broker_id: int,
    set_: dict[str, str],
    delete: Iterable[str] = (),
    validate_only: bool = False,
) -> None:
    """Set, or delete, dynamic config overrides of one broker (other overrides stay).

    `validate_only`: the broker checks names and values (a config that cannot change while
    the broker runs is refused) and changes nothing. Otherwise waits until the broker
    reports the change, so the page shown next sees it.
    """
    delete = list(delete)
    entries = [
        KafkaConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_.items()
    ]
    entries += [
        KafkaConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete
    ]
    res = ConfigResource(ConfigResource.Type.BROKER, str(broker_id), incremental_configs=entries)
    what = f"configs of broker {broker_id}"
    try:
        futures = admin_for(cluster).incremental_alter_configs(
            [res], request_timeout=timeout(), validate_only=validate_only
        )
    except KafkaException as exc:
        raise translate(exc, what=f"changing {what}") from None
    wait(futures[res], what=what)
    if validate_only:
        return
    deadline = time.monotonic() + timeout() * 2
    while not _applied(cluster, broker_id, set_, delete):
        if time.monotonic() > deadline:
            raise InvalidRequest(
                f"Kafka accepted the change, but broker {broker_id} did not report it within "
                f"{timeout() * 2:g} s; reload to see where it stands"
            )
        time.sleep(0.1)


def _applied(cluster: Connection, broker_id: int, set_: dict[str, str], delete: list[str]) -> bool:
    now = {e.name: e for e in broker_configs(cluster, broker_id)}
    return all(
        k in now and (now[k].value == v or now[k].is_sensitive) for k, v in set_.items()
    ) and all(k not in now or now[k].source != "dynamic broker" for k in delete)


__all__ = ["broker_config_alter", "broker_config_get"]
