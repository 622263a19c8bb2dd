"""Client life cycles, timeouts and error translation for every confluent_kafka call."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from django.conf import settings

from console.kafka import metrics
from console.kafka.errors import (
    AuthenticationFailed,
    ClusterUnavailable,
    InvalidRequest,
    KafkaConsoleError,
    NotAllowed,
    NotFound,
)

if TYPE_CHECKING:
    from console.kafka.connection import Connection

log = logging.getLogger(__name__)

UNAVAILABLE = {
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
    KafkaError._WAIT_COORD,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION,
    KafkaError.BROKER_NOT_AVAILABLE,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.NOT_COORDINATOR,
    KafkaError.NOT_CONTROLLER,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
}
AUTH = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError._SSL,
    KafkaError.ILLEGAL_SASL_STATE,
    KafkaError.UNSUPPORTED_SASL_MECHANISM,
}
NOT_FOUND = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError.GROUP_ID_NOT_FOUND,
    KafkaError.UNKNOWN_TOPIC_ID,
}
DENIED = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    KafkaError.DELEGATION_TOKEN_AUTHORIZATION_FAILED,
}


def timeout() -> float:
    """The bound, in seconds, on any one request to a cluster."""
    return float(settings.KAFKA_REQUEST_TIMEOUT)


def translate(
    err: KafkaError | KafkaException | BaseException, *, what: str = ""
) -> KafkaConsoleError:
    """Map a librdkafka error to the domain error a view knows how to show."""
    if isinstance(err, KafkaConsoleError):
        return err
    if isinstance(err, KafkaException) and err.args and isinstance(err.args[0], KafkaError):
        err = err.args[0]
    prefix = f"{what}: " if what else ""
    if isinstance(err, concurrent.futures.TimeoutError | TimeoutError):
        return ClusterUnavailable(f"{prefix}no answer from the cluster within {timeout():g} s")
    if isinstance(err, ValueError | TypeError):
        # The client library refuses an argument before any request is sent: a NUL byte or a
        # lone surrogate in a topic name, a value of the wrong type. Input, not the cluster.
        return InvalidRequest(f"{prefix}the Kafka client refused the input: {err}")
    if not isinstance(err, KafkaError):
        return KafkaConsoleError(f"{prefix}{err}")
    code = err.code()
    name = err.name()
    text = err.str()
    if code == KafkaError._SSL:
        return AuthenticationFailed(
            f"{prefix}TLS handshake failed: check the cluster's certificates and "
            f"ssl.ca.location ({text})",
            code=name,
        )
    if code in AUTH:
        return AuthenticationFailed(
            f"{prefix}authentication failed: check the cluster's credentials ({text})", code=name
        )
    if code in UNAVAILABLE:
        return ClusterUnavailable(
            f"{prefix}cluster unreachable or too slow: {text} (timeout {timeout():g} s)", code=name
        )
    if code in NOT_FOUND:
        return NotFound(f"{prefix}{text}", code=name)
    if code in DENIED:
        return NotAllowed(
            f"{prefix}Kafka's ACLs deny the console this operation ({text})", code=name
        )
    return InvalidRequest(f"{prefix}{text}", code=name)


def check_client_config(props: dict[str, str]) -> str:
    """librdkafka's verdict on client properties, without connecting ('' when they are fine)."""
    try:
        # No bootstrap servers: the client is built and validated but contacts nobody.
        Producer({**props, "bootstrap.servers": "", "log_level": 0})
    except KafkaException as exc:
        return exc.args[0].str() if exc.args else str(exc)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return ""


# Kafka's protocol writes names (topics, group ids, config values) with an int16 length:
# librdkafka sends a longer one anyway, the broker drops the connection, and every request
# sharing it fails for seconds (a 100 KB group id made all pages "cluster unreachable").
MAX_STRING_BYTES = 32767
# Where the library's request objects (NewTopic, ConfigResource, ConfigEntry, ...) keep them.
REQUEST_FIELDS = (
    "name",
    "topic",
    "group_id",
    "value",
    "config",
    "set_config_dict",
    "incremental_configs",
)


def _too_long(value: Any, depth: int = 0) -> int:
    """The byte length of the first string in `value` Kafka's protocol cannot carry, or 0."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_BYTES // 4:
            size = len(value.encode(errors="surrogatepass"))
            return size if size > MAX_STRING_BYTES else 0
        return 0
    if depth > 6:
        return 0
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    elif type(value).__module__.startswith(("confluent_kafka", "cimpl")):
        items = [getattr(value, a, None) for a in REQUEST_FIELDS]
    else:  # ints, None, bytes, callbacks: nothing the protocol writes as a name
        return 0
    return next((n for v in items if (n := _too_long(v, depth + 1))), 0)


class Guarded:
    """A client whose calls raise InvalidRequest, not ValueError or TypeError, for an argument
    the library refuses (e.g. a topic name with a NUL byte), whichever module calls it; with
    `names`, also for a string longer than Kafka's protocol carries (admin requests)."""

    __slots__ = ("_calls", "_client", "_names")

    def __init__(self, client: Any, *, names: bool = False) -> None:
        self._client = client
        self._names = names
        # One wrapper per method, made once: produce() runs per record on the hot path.
        self._calls: dict[str, Any] = {}

    @property
    def unchecked(self) -> Any:
        """The client itself: for a caller that checked its arguments once for a great many
        calls (e.g. one OffsetFetch per group of 50,000), so no call walks them again."""
        return self._client

    # The client's own protocol too: len(producer) is its queue, `with` closes it.
    def __len__(self) -> int:
        return len(self._client)

    def __bool__(self) -> bool:
        return bool(self._client)

    def __enter__(self) -> Guarded:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._client.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        if (call := self._calls.get(name)) is not None:
            return call
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr
        names = self._names

        def call(*args: Any, **kwargs: Any) -> Any:
            if names and (size := _too_long([args, kwargs])):
                raise InvalidRequest(
                    f"the Kafka client refused the input: a name or value of {size} bytes "
                    f"(Kafka takes at most {MAX_STRING_BYTES})"
                )
            try:
                return attr(*args, **kwargs)
            except (ValueError, TypeError) as exc:
                log.warning("Kafka client %s() refused its arguments: %r", name, exc)
                raise translate(exc) from exc

        self._calls[name] = call
        return call


_admins: dict[str, AdminClient] = {}
_admins_lock = threading.Lock()
# The latest error librdkafka reported for each cluster through error_cb (monotonic time,
# error). A failed request often says only "transport failure"; this tells why, e.g. that
# SASL authentication failed.
_last_errors: dict[str, tuple[float, KafkaError]] = {}
RECENT_S = 30.0


# How long a failed request on a TLS or SASL cluster waits for the client to report why: the
# request can fail ("transport failure") a moment before the handshake's error is delivered.
REFINE_WAIT_S = 0.5


def _error_cb_for(name: str):
    def record(err: KafkaError) -> None:
        now = time.monotonic()
        seen = _last_errors.get(name)
        if seen is not None:
            if err.code() == KafkaError._ALL_BROKERS_DOWN:
                return  # says less than what came before it
            if seen[1].code() in AUTH and err.code() not in AUTH and now - seen[0] < RECENT_S:
                return  # a recent cause (failed handshake) outranks the disconnects it causes
        _last_errors[name] = (now, err)

    return record


def _recent_auth_error(name: str) -> KafkaError | None:
    seen = _last_errors.get(name)
    if seen and time.monotonic() - seen[0] < RECENT_S and seen[1].code() in AUTH:
        return seen[1]
    return None


def refine(cluster: Connection, err: KafkaConsoleError) -> KafkaConsoleError:
    """Replace a vague "unreachable" with the cause the client reported, if any is recent.

    On a cluster with TLS or SASL, waits up to REFINE_WAIT_S for that cause: the request's
    failure and the handshake's error arrive separately. A plaintext cluster has no such
    cause and does not wait."""
    if not isinstance(err, ClusterUnavailable) or isinstance(err, AuthenticationFailed):
        return err
    client = _admins.get(cluster.name)
    if client is not None:
        client.poll(0)  # serve pending error callbacks
    found = _recent_auth_error(cluster.name)
    protocol = str(cluster.client_config().get("security.protocol", "plaintext")).lower()
    if found is None and client is not None and protocol != "plaintext":
        deadline = time.monotonic() + REFINE_WAIT_S
        while found is None and (left := deadline - time.monotonic()) > 0:
            client.poll(min(0.05, left))
            found = _recent_auth_error(cluster.name)
    return translate(found) if found is not None else err


def _base_config(cluster: Connection) -> dict[str, Any]:
    return {
        **cluster.client_config(),
        "client.id": "kafka-console",
        "socket.connection.setup.timeout.ms": int(timeout() * 1000),
        "reconnect.backoff.max.ms": 2000,
        # librdkafka logs every refused connection; once per broker is enough.
        "log.connection.close": False,
    }


def admin_for(cluster: Connection) -> AdminClient:
    """The cluster's AdminClient: one per cluster and process, reused across requests."""
    with _admins_lock:
        client = _admins.get(cluster.name)
        if client is None:
            client = AdminClient({**_base_config(cluster), "error_cb": _error_cb_for(cluster.name)})
            _admins[cluster.name] = client
    client.poll(0)  # serve error callbacks so they never pile up
    metrics.using(cluster.name)  # the waits that follow are this cluster's (for /metrics)
    return cast("AdminClient", Guarded(client, names=True))


def forget_clients() -> None:
    from console.kafka import offsetfetch  # it builds on this module

    with _admins_lock:
        _admins.clear()
        _last_errors.clear()
    close_pooled_consumers()
    offsetfetch.forget()


@metrics.observed
def wait(future: concurrent.futures.Future, *, what: str = "") -> Any:
    """Result of an admin future, bounded by the request timeout, errors translated."""
    try:
        return future.result(timeout=timeout() + 1)
    except KafkaException as exc:
        raise translate(exc, what=what) from None
    except concurrent.futures.TimeoutError as exc:
        raise translate(exc, what=what) from None


@metrics.observed
def wait_all(futures: dict[Any, concurrent.futures.Future], *, what: str = "") -> dict[Any, Any]:
    """Results of a dict of futures; exceptions are kept per key (translated), not raised.
    All of them within one bound (the request timeout), not one bound each."""
    out: dict[Any, Any] = {}
    deadline = time.monotonic() + timeout() + 1
    for key, fut in futures.items():
        try:
            out[key] = fut.result(timeout=max(0.0, deadline - time.monotonic()))
        except (KafkaException, concurrent.futures.TimeoutError) as exc:
            out[key] = translate(exc, what=what)
    return out


def consumer_config(cluster: Connection, **overrides: Any) -> dict[str, Any]:
    """Settings for a short-lived, read-only consumer: never commits, never joins a group."""
    conf = {
        **_base_config(cluster),
        # A group id is required by librdkafka even for assign(); it is never used to
        # commit or subscribe, so it never appears as a consumer group on the cluster.
        "group.id": f"kafka-console-browse-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        # Cap librdkafka's prefetch for short-lived browse consumers (default 64 MB).
        "queued.max.messages.kbytes": 8192,
        "fetch.wait.max.ms": 50,
        "session.timeout.ms": 45000,
    }
    conf.update(overrides)
    return conf


@contextlib.contextmanager
def consumer(cluster: Connection, **overrides: Any) -> Iterator[Consumer]:
    """A short-lived consumer that is always closed."""
    try:
        c = Consumer(consumer_config(cluster, **overrides))
    except KafkaException as exc:
        raise translate(exc, what="creating a consumer") from None
    try:
        yield cast("Consumer", Guarded(c))
    finally:
        c.close()


# A warm, bounded pool of read-only consumers per cluster for page reads (browse, search):
# a new consumer costs a bootstrap, a metadata round trip and a broker connection (about
# two thirds of a "newest 50" request); a pooled one is re-assigned and reads at once.
# Consumers never join a group and never commit, so reuse carries no state but the
# assignment, which is cleared before a consumer goes back to the pool.
POOL_SIZE = 4  # idle consumers kept per cluster and configuration (CONSOLE_KAFKA_CONSUMER_POOL)
POOL_IDLE_S = 60.0  # closed when unused for longer
_pool: dict[tuple, list[tuple[float, Consumer]]] = {}
_pool_lock = threading.Lock()


def _pool_key(cluster: Connection, overrides: dict[str, Any]) -> tuple:
    conf = {**_base_config(cluster), **overrides}
    return (cluster.name, tuple(sorted((k, repr(v)) for k, v in conf.items())))


def _take_pooled(key: tuple) -> Consumer | None:
    now = time.monotonic()
    stale: list[Consumer] = []
    found = None
    with _pool_lock:
        idle = _pool.get(key, [])
        while idle:
            since, c = idle.pop()
            if now - since > POOL_IDLE_S:
                stale.append(c)
            else:
                found = c
                break
        stale.extend(c for _since, c in idle if now - _since > POOL_IDLE_S)
        idle[:] = [(t, c) for t, c in idle if now - t <= POOL_IDLE_S]
    for c in stale:
        with contextlib.suppress(Exception):
            c.close()
    return found


def _pool_size() -> int:
    return int(getattr(settings, "CONSOLE_KAFKA_CONSUMER_POOL", POOL_SIZE))


def _give_back(key: tuple, c: Consumer) -> None:
    with _pool_lock:
        idle = _pool.setdefault(key, [])
        if len(idle) < _pool_size():
            idle.append((time.monotonic(), c))
            return
    c.close()


@contextlib.contextmanager
def pooled_consumer(cluster: Connection, **overrides: Any) -> Iterator[Consumer]:
    """`consumer`, from the cluster's warm pool: returned unassigned after a clean use,
    closed after an error (so a consumer in a doubtful state is never reused)."""
    key = _pool_key(cluster, overrides)
    c = _take_pooled(key)
    if c is None:
        try:
            c = Consumer(consumer_config(cluster, **overrides))
        except KafkaException as exc:
            raise translate(exc, what="creating a consumer") from None
    ok = False
    try:
        yield cast("Consumer", Guarded(c))
        ok = True
    except GeneratorExit:  # a reader left its loop early: the consumer is still sound
        ok = True
        raise
    finally:
        if ok:
            try:
                c.unassign()
            except Exception:  # noqa: BLE001 - a consumer that cannot unassign is closed
                ok = False
        if ok:
            _give_back(key, c)
        else:
            with contextlib.suppress(Exception):
                c.close()


def close_pooled_consumers() -> None:
    """Close every idle pooled consumer (tests; a cluster's settings changed)."""
    with _pool_lock:
        idle = [c for entries in _pool.values() for _t, c in entries]
        _pool.clear()
    for c in idle:
        with contextlib.suppress(Exception):
            c.close()


def producer(cluster: Connection, *, raw: bool = False, **overrides: Any) -> Producer:
    """A producer with Java-compatible key hashing (murmur2), so partition previews agree.

    `raw`: the library's own object, for loops that produce per record and catch its
    ValueError/TypeError themselves (the guard doubles the cost of each produce call)."""
    conf = {
        **_base_config(cluster),
        "partitioner": "murmur2_random",
        "message.timeout.ms": int(max(timeout() * 2, 10) * 1000),
    }
    conf.update(overrides)
    try:
        client = Producer(conf)
    except KafkaException as exc:
        raise translate(exc, what="creating a producer") from None
    return client if raw else cast("Producer", Guarded(client))
