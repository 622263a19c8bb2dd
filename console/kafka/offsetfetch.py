"""Committed offsets of consumer groups (OffsetFetch), through kafka-python's admin client.

Why not confluent-kafka's AdminClient.list_consumer_group_offsets: when an OffsetFetch answer
carries a coordinator error (COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
NOT_COORDINATOR: a new cluster making its offsets topic, a restarted broker loading it, a
coordinator that moved), librdkafka 2.15.1 hands it to the consumer-group handler to look
the coordinator up again, and an admin client has none: the process dies with SIGSEGV in
rd_kafka_cgrp_op (from rd_kafka_handle_OffsetFetch, seen under gdb; a new cluster's first
request, 2 runs in 6). A web process serving a group page, or the worker sampling lag,
would go down with it.

kafka-python answers the same request in Python: an error is an exception, never a crash.
One client per cluster and process, kept warm (its connections and coordinator look-ups
are reused; calls from several threads are safe: its I/O runs on a thread of its own). A
client that failed for any reason but an ACL denial is closed and made afresh on the next
call (so a coordinator that moved is looked up again). With OffsetFetch v8 (Kafka 3.0+)
the groups of one coordinator go in one request.

Connection settings kafka-python cannot take (console/kafka/security.py: GSSAPI, OAUTHBEARER,
key stores) raise Unsupported; the caller then uses librdkafka, with the risk
above.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from console.kafka import metrics
from console.kafka.client import timeout
from console.kafka.connection import Connection
from console.kafka.errors import ClusterUnavailable, KafkaConsoleError, NotAllowed
from console.kafka.logdirs import KafkaAdminClient, kafka_errors, kafka_python_config
from console.kafka.security import Unsupported

# A kept client of a cluster that went down retries its metadata in the background and
# logs each failure at ERROR; a request that needs the cluster reports it where it matters.
logging.getLogger("kafka.cluster").setLevel(logging.CRITICAL)

Partition = tuple[str, int]
Committed = dict[str, dict[Partition, int] | KafkaConsoleError]

__all__ = ["Unsupported", "committed", "fetch_with", "forget"]

_clients: dict[tuple[str, str], KafkaAdminClient] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()


def _key(cluster: Connection) -> tuple[str, str]:
    return (cluster.name, cluster.bootstrap_servers)


def _client(cluster: Connection) -> KafkaAdminClient:
    """The cluster's warm client, made (bootstrapped, bounded by the timeout) if there is none.
    Raises Unsupported, or kafka-python's error when no broker answers."""
    key = _key(cluster)
    found = _clients.get(key)
    if found is not None:
        return found
    config = kafka_python_config(cluster)  # Unsupported before any connection
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one bootstrap per cluster at a time; the others wait for it
        found = _clients.get(key)
        if found is None:
            wait_ms = int(timeout() * 1000)
            found = KafkaAdminClient(
                **config,
                client_id="kafka-console",
                request_timeout_ms=wait_ms,
                bootstrap_timeout_ms=wait_ms,
                reconnect_backoff_max_ms=1000,
            )
            _clients[key] = found
    return found


def _drop(cluster: Connection, client: KafkaAdminClient) -> None:
    key = _key(cluster)
    with _guard:
        if _clients.get(key) is client:
            del _clients[key]
        else:
            return
    with contextlib.suppress(Exception):  # a client that failed may fail to close too
        client.close()


def forget() -> None:
    """Close every client (the clusters' settings changed; tests)."""
    with _guard:
        clients = list(_clients.values())
        _clients.clear()
    for c in clients:
        with contextlib.suppress(Exception):
            c.close()


def _translate(exc: BaseException) -> KafkaConsoleError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, kafka_errors.AuthorizationError):
        return NotAllowed(f"Kafka's ACLs deny the console this operation ({text})")
    if isinstance(exc, _COORDINATOR_ERRORS):
        return ClusterUnavailable(
            f"the group's coordinator is moving or loading ({text}); try again in a moment",
            code=getattr(exc, "message", ""),
        )
    return ClusterUnavailable(f"cluster unreachable or too slow: {text} (timeout {timeout():g} s)")


def fetch_with(client: KafkaAdminClient, ids: list[str]) -> dict[str, dict[Partition, int]]:
    """The committed offsets of `ids` through `client` (raises kafka-python's errors)."""
    found = client.list_group_offsets(ids)
    return {
        gid: {
            (tp.topic, tp.partition): meta.offset
            for tp, meta in (found.get(gid) or {}).items()
            if meta.offset >= 0
        }
        for gid in ids
    }


_COORDINATOR_ERRORS = (
    kafka_errors.NotCoordinatorError,
    kafka_errors.CoordinatorNotAvailableError,
    kafka_errors.CoordinatorLoadInProgressError,
)

_MOVING = {e.message for e in _COORDINATOR_ERRORS}


@metrics.observed
def _committed(cluster: Connection, ids: list[str]) -> Committed:
    """`_committed_once`, again while a coordinator is being found (a new cluster creates
    its offsets topic on the first look-up; a restarted broker loads it), within the
    timeout, as librdkafka does."""
    deadline = time.monotonic() + timeout()
    pause = 0.05
    while True:
        out = _committed_once(cluster, ids)
        moving = [e for e in out.values() if isinstance(e, KafkaConsoleError) and e.code in _MOVING]
        if not moving or time.monotonic() + pause >= deadline:
            return out
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _committed_once(cluster: Connection, ids: list[str]) -> Committed:
    try:
        client = _client(cluster)
    except Unsupported:
        raise
    except Exception as exc:  # noqa: BLE001 - no broker answered the bootstrap, or refused it
        err = _translate(exc)
        return dict.fromkeys(ids, err)
    try:
        return dict(fetch_with(client, ids))
    except kafka_errors.AuthorizationError as exc:
        if len(ids) == 1:
            return {ids[0]: _translate(exc)}
        # One group denied fails the whole request: ask for each group alone, within the
        # timeout, so the others still show.
        out: Committed = {}
        deadline = time.monotonic() + timeout()
        for gid in ids:
            if time.monotonic() >= deadline:
                out[gid] = _translate(exc)
                continue
            try:
                out.update(fetch_with(client, [gid]))
            except kafka_errors.AuthorizationError as denied:
                out[gid] = _translate(denied)
            except Exception as failed:  # noqa: BLE001
                _drop(cluster, client)
                out.update(dict.fromkeys([g for g in ids if g not in out], _translate(failed)))
                break
        return out
    except Exception as exc:  # noqa: BLE001 - unreachable, timed out, a coordinator that moved
        _drop(cluster, client)
        err = _translate(exc)
        return dict.fromkeys(ids, err)


def committed(cluster: Connection, ids: list[str]) -> Committed:
    """Committed offsets of each group in `ids` (offsets below 0, "none committed", left
    out); a group that cannot be asked gets the reason instead. Raises Unsupported when
    kafka-python cannot take the cluster's connection settings."""
    if not ids:
        return {}
    metrics.using(cluster.name)
    return _committed(cluster, ids)
