"""The live tail hub: per server process, one Kafka consumer per (cluster, topic).

The first viewer of a topic in this process starts a `TopicTail`: an asyncio task that
polls a `console.kafka.tail.TailReader` (assigned to every partition at the log end, never
committing, never in a consumer group) in a worker thread of its own. Each poll's
messages are decoded, masked and rendered once per *view* (the role's masking rules and
the decoders a viewer chose), each viewer's filter is evaluated once per distinct filter,
and the batch is handed to every viewer of this process. Later viewers join; the last one
to leave stops the task, which closes the consumer. The hub lives in the ASGI process, not
in Celery: a tail is an open-ended stream, not a bounded job.

Delivery is in process: the hub calls each viewer's consumer directly with the same batch
object (rows compressed once per view: topics.tail.frames), not through the channel
layer. A channel-layer group send copies the event once per viewer (the in-memory layer
deep-copies it; Redis serialises it and stores it once per channel), which at hundreds of
viewers and tens of batches a second cost more than the tail; and with Redis several
server processes share the channel layer while each runs its own consumer for its own
viewers, so a viewer must hear its own process's batches only anyway. `group_name` still names a tail
(`tail.<cluster>.<topic>.<process>`) in logs.

Every batch carries the running count of messages published (`first`, `count`), and a
heartbeat carries the total: a viewer that misses a batch counts exactly what it missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from console import metrics
from console.access import ROLES, Capability
from console.clusters import Cluster
from console.kafka.errors import ClusterUnavailable, KafkaConsoleError, NotAllowed, NotFound
from console.kafka.tail import TailReader, open_readers
from console.kafka.types import Message
from console.messages.decoding import decode_with
from console.messages.filters import MessageFilter
from console.messages.masking import mask_view, rules_for
from console.messages.presenters import MessageView, present
from console.messages.schema_registry import registry_for
from topics.rows import message_row
from topics.tail import frames

log = logging.getLogger(__name__)

# This process's part of the group names (see the module docstring).
PROCESS_TOKEN = uuid.uuid4().hex[:10]
HEARTBEAT_S = 1.0
POLL_S = 0.25  # the longest a poll waits for a first message
GATHER_S = 0.02  # then how long it gathers more: at most ~50 batches a second to fan out
MAX_BATCH = 500
RENDER_SLICE = 25  # rows rendered at a time
# Rendering yields to the event loop after this long: short enough that no send or
# acknowledgement waits long, long enough that a batch is not stretched over many turns of
# a busy loop (yielding every 25 rows, a 500-row batch took 20 turns of a loop busy with
# 200 viewers' frames, and the tail fell behind a topic it had the CPU for).
RENDER_TURN_S = 0.005
RETRY_MAX_S = 10.0
_GROUP_OK = re.compile(r"[A-Za-z0-9._-]+")


def group_name(cluster: str, topic: str) -> str:
    """The channel-layer group of this process's tail of `topic`.

    Channels allows fewer than 100 characters of [A-Za-z0-9._-]; Kafka topic names may be
    249 characters long, so long names are hashed.
    """
    name = f"tail.{cluster}.{topic}.{PROCESS_TOKEN}"
    if len(name) < 100 and _GROUP_OK.fullmatch(name):
        return name
    digest = hashlib.sha256(f"{cluster}\0{topic}".encode()).hexdigest()[:32]
    return f"tail.h{digest}.{PROCESS_TOKEN}"


@dataclass(frozen=True, slots=True)
class View:
    """How one viewer sees messages: the role (masking rules) and the decoders chosen."""

    role: str
    key_mode: str = "auto"
    value_mode: str = "auto"

    @property
    def key(self) -> str:
        return f"{self.role}|{self.key_mode}|{self.value_mode}"


@dataclass
class Viewer:
    view: View
    serial: int = 0  # set by the hub on join: which batches and statuses are for this viewer
    filter: MessageFilter | None = None
    filter_key: str = ""  # the filter's canonical text: equal filters are evaluated once
    # Where the hub delivers: an object with `on_batch(event)` (called synchronously, the
    # event shared by every viewer: read it, never change it), and coroutines
    # `tail_status(event)` and `tail_error(event)` (the WebSocket consumer).
    sink: Any = field(default=None, repr=False, compare=False)

    @property
    def match_key(self) -> str:
        return f"{self.view.key}|{self.filter_key}"


@dataclass(frozen=True, slots=True)
class TailStats:
    """What the tail page says about how it is fed."""

    viewers: int
    consumers: int
    state: str = "stopped"
    message: str = ""

    @property
    def summary(self) -> str:
        return summary(self.viewers, self.consumers)


def summary(viewers: int, consumers: int) -> str:
    """ "7 viewers in this process share 1 Kafka consumer (no consumer group, …)"."""
    if viewers == 0:
        return (
            "No viewer in this process: no Kafka consumer runs for this topic. The first "
            "viewer starts one (no consumer group, no committed offsets)."
        )
    who = (
        "1 viewer in this process uses"
        if viewers == 1
        else f"{viewers} viewers in this process share"
    )
    what = "1 Kafka consumer" if consumers == 1 else f"{consumers} Kafka consumers"
    return f"{who} {what} (no consumer group, no committed offsets)"


def _row_html(view: MessageView, reproduce_url: str = "") -> str:
    return message_row(view, reproduce_url=reproduce_url)


def _reproduce_url(cluster: Cluster, topic: str, role: str, masked: bool) -> str:
    """The re-produce form's address for rows a role sees: none on a read-only cluster, for
    a role that may not operate, or one that sees the topic masked (refused there)."""
    if cluster.read_only or masked or Capability.OPERATE not in ROLES.get(role, ()):
        return ""
    return reverse("topics:replay_message", args=[cluster.name, topic])


def _seen_as(view: MessageView) -> Message:
    """The message as a masked viewer sees it: filters must not probe hidden values."""
    m = view.message
    return Message(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        timestamp_ms=m.timestamp_ms,
        timestamp_type=m.timestamp_type,
        key=None if m.key is None else view.key.text.encode(),
        value=None if m.value is None else view.value.text.encode(),
        headers=tuple((k, v.encode()) for k, v in view.headers),
    )


def render_batch(
    cluster: Cluster,
    topic: str,
    messages: tuple[Message, ...],
    views: dict[str, View],
    filters: dict[str, tuple[View, MessageFilter]],
) -> dict[str, Any]:
    """Rows (HTML, oldest first) per view and matching indexes per filter, for one batch.

    Decoding, masking and rendering happen once per message and view, whatever the
    viewer count.
    """
    registry = registry_for(cluster.schema_registry_url)
    rows: dict[str, list[str]] = {}
    shown: dict[str, list[MessageView]] = {}
    masked: dict[str, bool] = {}
    for key, view in views.items():
        rules = rules_for(cluster, topic, view.role)
        masked[key] = bool(rules)
        presented = [
            mask_view(
                present(
                    m,
                    key_mode=view.key_mode,
                    value=decode_with(m.value, view.value_mode, registry),
                ),
                rules,
            )
            for m in messages
        ]
        shown[key] = presented
        url = _reproduce_url(cluster, topic, view.role, masked[key])
        rows[key] = [_row_html(v, url) for v in presented]
    matches: dict[str, list[int]] = {}
    for match_key, (view, filt) in filters.items():
        presented = shown[view.key]
        if masked[view.key]:
            candidates = [(_seen_as(v), None) for v in presented]
        else:  # the filter sees the value as decoded for display
            candidates = [(v.message, v.value) for v in presented]
        matches[match_key] = [
            i for i, (m, value) in enumerate(candidates) if filt.matches(m, value)
        ]
    meta = [(m.partition, m.offset, m.timestamp_ms) for m in messages]
    return {"meta": meta, "rows": rows, "matches": matches}


async def render_batch_async(
    cluster: Cluster,
    topic: str,
    messages: tuple[Message, ...],
    views: dict[str, View],
    filters: dict[str, tuple[View, MessageFilter]],
) -> dict[str, Any]:
    """The `tail.batch` event's contents: `render_batch` on the event loop, a few rows
    at a time.

    Rendering is pure Python: in a worker thread it would hold the GIL against the event
    loop, which then waits up to the interpreter's switch interval (5 ms) at each of its
    many wake-ups (acknowledgements, sends) and falls behind. On the loop, yielding every
    RENDER_TURN_S, no wake-up waits much longer than that.
    """
    out: dict[str, Any] = {
        "meta": [],
        "rows": {key: [] for key in views},
        "matches": {key: [] for key in filters},
    }
    turn_ends = time.perf_counter() + RENDER_TURN_S
    for start in range(0, len(messages), RENDER_SLICE):
        part = render_batch(cluster, topic, messages[start : start + RENDER_SLICE], views, filters)
        out["meta"] += part["meta"]
        for key, rows in part["rows"].items():
            out["rows"][key] += rows
        for key, picked in part["matches"].items():
            out["matches"][key] += [start + i for i in picked]
        if time.perf_counter() >= turn_ends:
            await asyncio.sleep(0)
            turn_ends = time.perf_counter() + RENDER_TURN_S
    # Compressed once here rather than by each viewer (topics.tail.frames): a viewer
    # without a filter forwards the batch as two byte strings, the same objects for every
    # such viewer of the view.
    filtered = {view.key for view, _filter in filters.values()}
    return {
        "meta": frames.pack(frames.meta_text(out["meta"])),
        "rows": {key: frames.pack("".join(reversed(rows))) for key, rows in out["rows"].items()},
        # Row by row only for filtered viewers, who pick the rows that matched.
        "meta_list": out["meta"] if filtered else [],
        "row_lists": {key: out["rows"][key] for key in filtered},
        "matches": out["matches"],
        "picked": {},  # match key -> (meta, rows) packed: viewers with one filter share it
    }


def picked_rows(event: dict[str, Any], viewer: Viewer) -> tuple[bytes, bytes, int] | None:
    """A filtered viewer's part of a batch: the rows that matched its filter, packed once
    per distinct filter and view (None: the batch was rendered without this viewer)."""
    key = viewer.match_key
    cached = event["picked"].get(key)
    if cached is not None:
        return cached
    picked = event["matches"].get(key)
    row_list = event["row_lists"].get(viewer.view.key)
    if picked is None or row_list is None:
        return None
    meta_list = event["meta_list"]
    cached = (
        frames.pack(frames.meta_text(meta_list[i] for i in picked)),
        frames.pack("".join(row_list[i] for i in reversed(picked))),
        len(picked),
    )
    event["picked"][key] = cached
    return cached


@dataclass
class TopicTail:
    """One topic's Kafka consumer in this process and the viewers it feeds."""

    cluster: Cluster
    topic: str
    hub: TailHub
    viewers: dict[str, Viewer] = field(default_factory=dict)
    state: str = "starting"  # starting, live, unreachable, failed, stopped
    message: str = ""
    published: int = 0
    partitions: int = 0
    closing: bool = False
    announce: bool = False  # viewers joined or left: send a status with the next poll
    # Join serials: the n-th viewer to join gets serial n. A batch (and a status) carries
    # the serial its poll's snapshot of viewers covers; a viewer starts with the first one
    # that covers it, so it never takes a batch rendered without it for a gap.
    joined: int = 0
    polling_serial: int | None = None
    task: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.group = group_name(self.cluster.name, self.topic)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"tail-{self.topic[:40]}"
        )
        self._reader: TailReader | None = None
        self._next_heartbeat = 0.0
        self._wake = asyncio.Event()

    @property
    def key(self) -> tuple[str, str]:
        return (self.cluster.name, self.topic)

    def stats(self) -> TailStats:
        return TailStats(
            viewers=len(self.viewers),
            consumers=open_readers(self.cluster.name, self.topic),
            state=self.state,
            message=self.message,
        )

    def status_event(self) -> dict[str, Any]:
        s = self.stats()
        return {
            "type": "tail.status",
            "state": s.state,
            "message": s.message,
            "viewers": s.viewers,
            "consumers": s.consumers,
            "partitions": self.partitions,
            "published": self.published,
            "serial": self.covered,
            "summary": s.summary,
        }

    @property
    def covered(self) -> int:
        """The highest join serial the next batch published is sure to include."""
        return self.joined if self.polling_serial is None else self.polling_serial

    # --- the task ---------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"tail {self.key}")

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 1.0
        # The next poll, started as soon as the last one returned: Kafka fetches and the
        # consumer gathers in the tail's thread while the loop renders and fans out the
        # last batch (one after the other, the tail could not keep up with a busy topic).
        # It carries the join serial of the viewers it is sure to be rendered for.
        pending: tuple[int, asyncio.Future] | None = None

        def next_poll() -> tuple[int, asyncio.Future]:
            reader = self._reader
            return self.joined, loop.run_in_executor(self._executor, reader.poll, POLL_S, GATHER_S)

        try:
            while self.viewers:
                if self._reader is None:
                    try:
                        self._reader = await loop.run_in_executor(
                            self._executor,
                            lambda: TailReader(self.cluster, self.topic, max_messages=MAX_BATCH),
                        )
                    except ClusterUnavailable as exc:
                        await self._set_state("unreachable", f"{exc} Retrying…")
                        await self._pause(backoff)
                        backoff = min(backoff * 2, RETRY_MAX_S)
                        continue
                    backoff = 1.0
                    self.partitions = self._reader.partitions
                    await self._set_state("live", "")
                if pending is None:
                    pending = next_poll()
                serial, polling = pending
                self.polling_serial = serial
                if self.announce and serial >= self.joined:
                    # Viewers who joined are covered by the poll in flight: every message
                    # polled from now on is rendered for them, so they may hear that the
                    # tail is live. (One who joined since waits for the next poll.)
                    self.announce = False
                    await self._send_status()
                # The blocking poll runs in this tail's thread; it holds no GIL while it
                # waits. What it returns is rendered here, on the loop, for the viewers
                # there are now (a superset of those it covers).
                polled = await polling
                pending = next_poll() if self.viewers else None
                batch = None
                if polled.messages:
                    views, filters = self._snapshot()
                    batch = await render_batch_async(
                        self.cluster, self.topic, polled.messages, views, filters
                    )
                self.partitions = polled.partitions
                if batch is not None:
                    batch.update(
                        type="tail.batch",
                        first=self.published,
                        count=len(polled.messages),
                        serial=serial,
                    )
                    self.published += len(polled.messages)
                    self._deliver_batch(batch)
                self.polling_serial = pending[0] if pending is not None else None
                if polled.problem is not None:
                    await self._set_state("unreachable", f"{polled.problem} Retrying…")
                elif self.state != "live" or polled.added:
                    added = (
                        f"Partition(s) {', '.join(map(str, polled.added))} added: tailing them too."
                        if polled.added
                        else ""
                    )
                    await self._set_state("live", added)
                elif time.monotonic() >= self._next_heartbeat:
                    await self._send_status()
        except KafkaConsoleError as exc:
            await self._fail(exc)
        except Exception as exc:
            log.exception("tail of %s on %s failed", self.topic, self.cluster.name)
            await self._fail(exc)
        finally:
            self.closing = True
            self.polling_serial = None
            reader, self._reader = self._reader, None
            if reader is not None:
                # After the poll in flight, if any: the executor has one thread.
                await loop.run_in_executor(self._executor, reader.close)
            if pending is not None and pending[1].done() and not pending[1].cancelled():
                pending[1].exception()  # retrieved: a poll that failed as the tail closed
            self._executor.shutdown(wait=False)
            if self.state not in ("failed",):
                self.state = "stopped"
            self.hub._forget(self)

    def _snapshot(self) -> tuple[dict[str, View], dict[str, tuple[View, MessageFilter]]]:
        views: dict[str, View] = {}
        filters: dict[str, tuple[View, MessageFilter]] = {}
        for v in self.viewers.values():
            views[v.view.key] = v.view
            if v.filter is not None:
                filters[v.match_key] = (v.view, v.filter)
        return views, filters

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the last viewer leaves."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _set_state(self, state: str, message: str) -> None:
        changed = (state, message) != (self.state, self.message)
        self.state, self.message = state, message
        if changed or time.monotonic() >= self._next_heartbeat:
            await self._send_status()

    async def _send_status(self) -> None:
        self._next_heartbeat = time.monotonic() + HEARTBEAT_S
        await self.deliver(self.status_event())

    def _deliver_batch(self, batch: dict[str, Any]) -> None:
        """Hand one batch to every viewer: the same object, no copy, no await."""
        for viewer in list(self.viewers.values()):
            if viewer.sink is None:
                continue
            try:
                viewer.sink.on_batch(batch)
            except Exception:
                log.exception("a live tail viewer of %s failed on a batch", self.topic)

    async def deliver(self, event: dict[str, Any]) -> None:
        """Send a status or error event to every viewer, one after the other."""
        handler = "tail_status" if event["type"] == "tail.status" else "tail_error"
        for viewer in list(self.viewers.values()):
            if viewer.sink is None:
                continue
            try:
                await getattr(viewer.sink, handler)(event)
            except Exception:
                log.exception("a live tail viewer of %s failed on a %s", self.topic, handler)

    async def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, NotFound):
            code = "not_found"
        elif isinstance(exc, NotAllowed):
            code = "denied"
        else:
            code = "error"
        self.state, self.message = "failed", str(exc)
        try:
            await self.deliver({"type": "tail.error", "code": code, "message": str(exc)})
        except Exception:  # noqa: BLE001 - the viewers' own checks notice the tail is gone
            log.exception("could not tell the viewers of %s that the tail failed", self.topic)


class TailHub:
    """This process's tails, by (cluster, topic). Used from the event loop only."""

    def __init__(self) -> None:
        self._tails: dict[tuple[str, str], TopicTail] = {}
        self.viewers = 0  # in this process, every topic

    async def join(self, cluster: Cluster, topic: str, channel: str, viewer: Viewer) -> TopicTail:
        """Add a viewer (`channel` names it; its `sink` receives the events); start the
        tail if it is the first."""
        key = (cluster.name, topic)
        tail = self._tails.get(key)
        if tail is None or tail.closing:
            tail = TopicTail(cluster=cluster, topic=topic, hub=self)
            self._tails[key] = tail
        tail.joined += 1
        viewer.serial = tail.joined
        tail.viewers[channel] = viewer
        self._count_viewers()
        if tail.task is None:
            tail.start()
        elif tail.state == "live":
            tail.announce = True
        else:
            await tail.deliver(tail.status_event())
        tail.wake()
        return tail

    def leave(self, tail: TopicTail, channel: str) -> None:
        """Remove a viewer; the last one out stops the tail (its consumer closes)."""
        if tail.viewers.pop(channel, None) is None:
            return
        self._count_viewers()
        if not tail.viewers:
            tail.wake()
        elif not tail.closing:
            tail.announce = True

    def _count_viewers(self) -> None:
        self.viewers = sum(len(t.viewers) for t in self._tails.values())
        metrics.tail_viewers_set(self.viewers)

    def _forget(self, tail: TopicTail) -> None:
        if self._tails.get(tail.key) is tail:
            del self._tails[tail.key]

    def stats(self, cluster: str, topic: str) -> TailStats:
        """Viewers and consumers of `topic` in this process (for the tail page)."""
        tail = self._tails.get((cluster, topic))
        consumers = open_readers(cluster, topic)
        if tail is None:
            return TailStats(viewers=0, consumers=consumers)
        return TailStats(
            viewers=len(tail.viewers), consumers=consumers, state=tail.state, message=tail.message
        )

    async def stop_all(self) -> None:
        """Stop every tail and wait for its consumer to close (tests, shutdown)."""
        tails = list(self._tails.values())
        for tail in tails:
            tail.viewers.clear()
            tail.wake()
        self._count_viewers()
        await asyncio.gather(*(t.task for t in tails if t.task), return_exceptions=True)


hub = TailHub()
