"""Topic writes: each permission-checked, refused on read-only clusters, and audited."""

from __future__ import annotations

from console.access import Capability
from console.audit import mutation
from console.clusters import Cluster
from console.kafka import topics as kafka_topics
from console.kafka.errors import InvalidRequest
from console.kafka.offsets import Watermarks, watermarks


def topic_create(
    *, user, cluster: Cluster, name: str, partitions: int, replication: int, configs: dict[str, str]
) -> None:
    """Create a topic (operator)."""
    params = {"partitions": partitions, "replication": replication, "configs": configs}
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.create",
        target=name,
        capability=Capability.OPERATE,
        params=params,
    ):
        kafka_topics.topic_create(
            cluster, name=name, partitions=partitions, replication=replication, configs=configs
        )


def topic_delete(*, user, cluster: Cluster, name: str) -> None:
    """Delete a topic (admin)."""
    with mutation(
        user=user, cluster=cluster, action="topic.delete", target=name, capability=Capability.ADMIN
    ):
        kafka_topics.topic_delete(cluster, name=name)


def topic_partitions_add(*, user, cluster: Cluster, name: str, total: int) -> None:
    """Grow a topic's partition count (admin): keyed data will map to other partitions."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.partitions",
        target=name,
        capability=Capability.ADMIN,
        params={"total": total},
    ):
        kafka_topics.partitions_add(cluster, name=name, total=total)


def topic_config_set(*, user, cluster: Cluster, name: str, key: str, value: str | None) -> None:
    """Set one config override, or remove it when `value` is None (admin)."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.config",
        target=name,
        capability=Capability.ADMIN,
        params={"key": key, "value": value},
    ):
        if value is None:
            kafka_topics.configs_alter(cluster, name=name, set_={}, delete=[key])
        else:
            kafka_topics.configs_alter(cluster, name=name, set_={key: value})


def topic_records_purge(
    *, user, cluster: Cluster, name: str, partitions: list[int], offset: int | None
) -> dict[int, int]:
    """Delete records below `offset` (None: all) in the partitions (admin); new low marks."""
    with mutation(
        user=user,
        cluster=cluster,
        action="topic.purge",
        target=name,
        capability=Capability.ADMIN,
        params={"partitions": partitions, "offset": offset},
    ) as m:
        marks = watermarks(cluster, [(name, p) for p in partitions])
        before = {}
        for p in partitions:
            mark = marks[(name, p)]
            if not isinstance(mark, Watermarks):
                raise mark
            if offset is not None and offset > mark.high:
                raise InvalidRequest(
                    f"Partition {p} ends at offset {mark.high}; {offset} is beyond its end."
                )
            before[p] = mark.high if offset is None else offset
        m.before = {str(p): marks[(name, p)].low for p in partitions}
        lows = kafka_topics.records_delete(cluster, name=name, before=before)
        m.after = {str(p): low for p, low in lows.items()}
        return lows
