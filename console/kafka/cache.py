"""Shared reads for pages: within one server process, pages asking for a cluster's metadata
or the same watermarks at the same moment wait for the one Kafka request in flight instead
of each sending their own; with a `max_age` above 0, an answer that recent serves them too.

Only the page layer opts in, for GET requests (`stale_reads`); operations (POSTs, Celery
tasks, the live tail) read fresh. With `max_age` 0 (the default) a page never sees data
older than the moment it was asked for plus one request in flight, so one page after
another still reads what the one before it changed, even behind the console's back. A
change made through this process (`invalidate`) drops the cluster's entries at once;
another process's copy is at most `max_age` old.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from console.kafka import metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

# How old (seconds) a finished shared read may be for the code running now; 0: only a read in
# flight is shared; FRESH (negative): nothing is shared.
FRESH = -1.0
_max_age: contextvars.ContextVar[float] = contextvars.ContextVar(
    "kafka_read_max_age", default=FRESH
)

_lock = threading.Lock()
_entries: dict[Hashable, tuple[float, Any]] = {}  # key -> (monotonic time it was asked, value)
_inflight: dict[Hashable, _Flight] = {}
_generation: dict[str, int] = {}  # cluster name -> bumped by invalidate()
MAX_ENTRIES = 4096
REFRESH_THREAD = "shared-read-refresh"  # the name of a background refresh's thread


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@contextlib.contextmanager
def stale_reads(max_age: float) -> Iterator[None]:
    """Let the reads inside share what is in flight, and answers up to `max_age` seconds
    old (a negative `max_age`: read fresh)."""
    token = _max_age.set(max_age)
    try:
        yield
    finally:
        _max_age.reset(token)


def allowed_age(max_age: float | None = None) -> float:
    """The age a read may have: the caller's explicit `max_age`, else the context's."""
    return _max_age.get() if max_age is None else max_age


def list_index_age() -> tuple[float | None, float]:
    """(max_age, stale_s) for the index a list page sorts and pages (every topic or group
    of a cluster): CONSOLE_LIST_INDEX_S / _STALE_S within a page; (None, 0): the caller's
    usual age (outside a page, or with the setting at 0)."""
    from django.conf import settings

    age = float(getattr(settings, "CONSOLE_LIST_INDEX_S", 0.0))
    if age <= 0 or allowed_age() < 0:
        return None, 0.0
    return max(age, allowed_age()), float(getattr(settings, "CONSOLE_LIST_INDEX_STALE_S", 0.0))


def shared(
    cluster: str,
    key: Hashable,
    max_age: float,
    load: Callable[[], T],
    *,
    stale_s: float = 0.0,
) -> T:
    """`load()`'s value, shared: with `max_age` >= 0, concurrent callers of the same key
    wait for the one load in flight (and get its value or its error), and an answer asked
    for less than `max_age` seconds ago is returned as it is. Errors are shared, never kept.
    A negative `max_age` loads afresh.

    With `stale_s` > 0 (and `max_age` > 0), an answer up to `max_age + stale_s` old is
    returned at once while one background thread asks for a newer one (the pages that list
    every topic or group of a large cluster: the caller never waits for the whole
    cluster's answer once there is one)."""
    if max_age < 0:
        metrics.shared_read(cluster, "fresh")
        return load()
    with _lock:
        generation = _generation.get(cluster, 0)
        full_key = (cluster, generation, key)
        entry = _entries.get(full_key)
        flight = _inflight.get(full_key)
        if entry is not None:
            age = time.monotonic() - entry[0]
            if age < max_age:
                metrics.shared_read(cluster, "shared")
                return entry[1]
            if max_age > 0 and age < max_age + stale_s:
                if flight is None:
                    flight = _inflight[full_key] = _Flight()
                    threading.Thread(
                        target=_load_quietly,
                        args=(cluster, generation, full_key, flight, load),
                        name=REFRESH_THREAD,
                        daemon=True,
                    ).start()
                metrics.shared_read(cluster, "stale")
                return entry[1]
        leader = flight is None
        if leader:
            flight = _inflight[full_key] = _Flight()
    metrics.shared_read(cluster, "load" if leader else "shared")
    if not leader:
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.value
    return _load(cluster, generation, full_key, flight, load)


def _load(
    cluster: str, generation: int, full_key: tuple, flight: _Flight, load: Callable[[], T]
) -> T:
    """Run `load()` for the callers waiting on `flight`; keep its answer unless the cluster
    was invalidated meanwhile."""
    asked = time.monotonic()
    try:
        flight.value = load()
    except BaseException as exc:
        flight.error = exc
        raise
    finally:
        with _lock:
            _inflight.pop(full_key, None)
            if flight.error is None and _generation.get(cluster, 0) == generation:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[full_key] = (asked, flight.value)
        flight.done.set()
    return flight.value


def _load_quietly(
    cluster: str, generation: int, full_key: tuple, flight: _Flight, load: Callable[[], Any]
) -> None:
    """A background refresh: a failure is logged and not kept (the next caller past the
    stale window asks itself and sees the error)."""
    try:
        _load(cluster, generation, full_key, flight, load)
    except Exception:  # noqa: BLE001 - a thread's outer edge
        log.warning("background refresh of %r on %s failed", full_key[2], cluster, exc_info=True)


def invalidate(cluster: str) -> None:
    """Forget every shared read of `cluster` (this process changed it). A load in flight
    still answers the callers waiting for it but is not kept."""
    with _lock:
        _generation[cluster] = _generation.get(cluster, 0) + 1
        for k in [k for k in _entries if k[0] == cluster]:
            del _entries[k]


def clear() -> None:
    with _lock:
        _entries.clear()
        for name in list(_generation):
            _generation[name] += 1
