"""The live tail's WebSocket: one viewer of one topic, fed by this process's tail hub.

Protocol:

server -> page
  text:   {"type": "status", "state": "live"|"unreachable"|..., "message", "viewers",
           "consumers", "partitions", "summary"}
  binary: a rows frame: {"type": "rows", "seq": n, "skipped": total, "count": rows, ...}
          then the rows' positions and HTML, compressed (format in topics.tail.frames)
  text:   {"type": "error", "code": "forbidden"|"filter"|"not_found"|"denied"|"error",
           "message"}, followed by a close (4403, 4400, 4404 or 4500)
page -> server
  {"ack": n}      the page has shown rows frame n

Back-pressure: rows wait in a bounded per-viewer buffer and leave in one frame at most
every FLUSH_S (small batches: 50 ms; longer when the process has so many viewers that it
would send more than FRAMES_PER_S frames a second); at most WINDOW frames may be
unacknowledged. A page that cannot keep up stops acknowledging, its buffer fills, and the
oldest rows are dropped and counted; the count reaches the page in the next frame ("N
messages skipped"). Messages that never reached this viewer are counted too (gaps in the
hub's running count). So memory stays bounded whatever the topic's rate, and no drop goes
unreported.

The hub hands every viewer the same batch object (see topics.tail.hub): viewers of the
same view without a filter buffer the same two byte strings (meta and rows, compressed
once), viewers with the same filter share the rows they pick, and viewers whose buffers
hold the same chunks build the same frame from them.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from console.access import Capability, can, role_of
from console.clusters import get_cluster
from console.messages.decoding import MODES
from console.messages.filters import Condition, FilterError, MessageFilter, parse_partitions
from console.middleware import TRANSPORT_SEND
from topics.tail.frames import rows_frame
from topics.tail.hub import TopicTail, View, Viewer, hub, picked_rows

log = logging.getLogger(__name__)

# A page gets at most one frame per FLUSH_S. Every message waits up to that long, on top
# of Kafka's own latency (~0.06 s at p99 here): at 0.1 s the benchmark's p99 was ~0.28 s,
# at 0.05 s ~0.2 s (target < 0.25 s), for 20 small frames a second at most.
FLUSH_S = float(getattr(settings, "CONSOLE_TAIL_FLUSH_S", 0.05))
# And the process sends at most about FRAMES_PER_S rows frames a second in all: with many
# viewers each waits longer between frames, which then carry more rows. A frame costs the
# server ~0.1 ms whatever its size (its send, its acknowledgement); at 200 viewers of a topic
# producing 10,000 msg/s, 20 frames a second each took a third of the process.
FRAMES_PER_S = float(getattr(settings, "CONSOLE_TAIL_FRAMES_PER_S", 2000))
BUFFER = int(getattr(settings, "CONSOLE_TAIL_BUFFER", 10_000))  # rows held for a slow page
# Rows per frame (soft): the whole buffer. A frame that leaves late (a busy process, frames
# spaced for many viewers) takes what gathered meanwhile: with a smaller cap, a viewer that
# keeps up fell behind a topic at the cap's rate and dropped rows. At most WINDOW *
# FRAME_MAX rows (compressed, ~85 bytes each) are in flight to a page that stopped.
FRAME_MAX = int(getattr(settings, "CONSOLE_TAIL_FRAME_MAX", BUFFER))
WINDOW = int(getattr(settings, "CONSOLE_TAIL_WINDOW", 4))  # frames sent, not yet acknowledged
PERMISSION_CHECK_S = float(getattr(settings, "CONSOLE_TAIL_PERMISSION_CHECK_S", 3.0))

_viewer_ids = itertools.count(1)
CLOSE_CODES = {"filter": 4400, "forbidden": 4403, "denied": 4403, "not_found": 4404}


class RowBuffer:
    """Rows waiting for a page, oldest first: chunks of packed meta and rows (bytes, see
    topics.tail.frames) with their row counts. Over `capacity` rows, the oldest chunks
    are dropped and their rows counted (the newest chunk always stays)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._chunks: collections.deque[tuple[bytes, bytes, int]] = collections.deque()
        self.size = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self.size

    def add(self, meta: bytes, rows: bytes, count: int) -> None:
        if count <= 0:
            return
        self._chunks.append((meta, rows, count))
        self.size += count
        while self.size > self.capacity and len(self._chunks) > 1:
            _meta, _rows, n = self._chunks.popleft()
            self.size -= n
            self.dropped += n

    def take(self, limit: int) -> tuple[list[bytes], list[bytes], int]:
        """The oldest chunks holding up to `limit` rows (at least one chunk), removed."""
        metas: list[bytes] = []
        rows: list[bytes] = []
        taken = 0
        while self._chunks and (taken == 0 or taken + self._chunks[0][2] <= limit):
            meta, chunk, n = self._chunks.popleft()
            metas.append(meta)
            rows.append(chunk)
            taken += n
        self.size -= taken
        return metas, rows, taken


class FrameCache:
    """The last few rows frames built, by their contents (seq, skipped, chunks).

    Viewers of the same view without a filter that joined together and keep up are in
    step: the same sequence number, the same skipped count and the same chunks (the very
    byte strings the hub shared). The first of them builds the frame; the others send
    that same object. A key holds its chunks, so an entry can never be mistaken for
    other rows.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._frames: collections.OrderedDict[tuple, bytes] = collections.OrderedDict()
        self.hits = 0

    def frame(
        self, seq: int, skipped: int, count: int, metas: list[bytes], rows: list[bytes]
    ) -> bytes:
        key = (seq, skipped, count, len(metas), *metas, *rows)
        data = self._frames.get(key)
        if data is not None:
            self.hits += 1
            self._frames.move_to_end(key)
            return data
        data = rows_frame(seq, skipped, count, metas, rows)
        self._frames[key] = data
        if len(self._frames) > self.size:
            self._frames.popitem(last=False)
        return data


frame_cache = FrameCache()


def parse_viewer(query: str, role: str) -> Viewer:
    """The viewer's view and filter from the WebSocket URL's query string.

    The parameters are the message browser's (all optional): q, field, kind, header,
    case (match case), partitions ("all", or "0,2,5-7"), key_format, value_format.
    Raises FilterError.
    """
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    key_mode = params.get("key_format") or "auto"
    value_mode = params.get("value_format") or "auto"
    for name, mode in (("key", key_mode), ("value", value_mode)):
        if mode not in MODES:
            raise FilterError(f"unknown {name} format {mode!r}; use one of {', '.join(MODES)}")
    view = View(role=role, key_mode=key_mode, value_mode=value_mode)
    expression = params.get("q", "")
    field = params.get("field") or "value"
    kind = params.get("kind") or "contains"
    header = params.get("header", "")
    ignore_case = params.get("case", "").lower() not in ("1", "on", "true")
    conditions: tuple[Condition, ...] = ()
    if expression:
        conditions = (
            Condition.build(field, kind, expression, header=header, ignore_case=ignore_case),
        )
    text = params.get("partitions", "")
    partitions = None if text.strip().lower() == "all" else parse_partitions(text)
    filt = MessageFilter(conditions=conditions, partitions=partitions)
    if filt.empty:
        return Viewer(view=view)
    key = json.dumps(
        [
            field,
            kind,
            expression,
            header,
            ignore_case,
            sorted(partitions) if partitions is not None else None,
        ]
    )
    return Viewer(view=view, filter=filt, filter_key=key)


class TopicTailConsumer(AsyncWebsocketConsumer):
    """One page tailing one topic; see the module docstring for the protocol."""

    tail: TopicTail | None = None
    viewer: Viewer | None = None
    failed = False

    async def __call__(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__ without a channel layer, receiving in a plain loop.

        No channel layer: the hub delivers in process (topics.tail.hub), so a viewer needs
        no channel of its own, and with Redis a thousand viewers would otherwise each wait
        on Redis (and fail with it) for messages that never come that way. With one source
        of messages, Channels' loop still wrapped every receive in a new task and an
        asyncio.wait, for each acknowledgement: ~9 % of a server's samples at 1,000
        viewers over 4 processes (py-spy).
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        # Rows frames go to the server's own send (console.routing.guarded keeps it), not
        # through the session middleware's wrapper, which looks at the session on every
        # message and saves it only on an accept: a tail's frames never touch the session.
        self._send_frame = scope.get(TRANSPORT_SEND, send)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        self.cluster = get_cluster(kwargs["cluster"])
        self.topic = kwargs["topic"]
        self.user = self.scope.get("user")
        self.buffer = RowBuffer(BUFFER)
        self.gap_skipped = 0  # messages the channel layer dropped before they reached us
        self.reported_skipped = 0
        self.next_index: int | None = None  # the hub's running count we expect next
        self.started = False
        self.sent = 0
        self.acked = 0
        self.last_flush = 0.0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.failed = False
        await self.accept()
        if self.cluster is None:
            await self.fail("not_found", f"No cluster named {kwargs['cluster']!r} is configured.")
            return
        allowed, role = await database_sync_to_async(self._role)()
        if not allowed:
            await self.fail(
                "forbidden",
                "The live tail shows message contents: it needs the operator role"
                + (f"; you are {role}." if role else "; log in first."),
            )
            return
        query = self.scope.get("query_string", b"").decode("latin-1")
        try:
            self.viewer = parse_viewer(query, role)
        except FilterError as exc:
            await self.fail("filter", str(exc))
            return
        self.viewer.sink = self  # the hub calls on_batch, tail_status and tail_error
        self.viewer_id = f"viewer-{next(_viewer_ids)}"
        self.tail = await hub.join(self.cluster, self.topic, self.viewer_id, self.viewer)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._flush_loop())]
        permission_watch.add(self)

    def _role(self) -> tuple[bool, str]:
        user = self.user
        if user is None or not user.is_authenticated:
            return False, ""
        name = self.cluster.name  # a role given on this cluster only counts here
        return can(user, Capability.READ_MESSAGES, name), role_of(user, name)

    async def disconnect(self, code: int) -> None:
        permission_watch.discard(self)
        for task in self._tasks:
            task.cancel()
        await self._leave()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first closes stale database connections through a thread hop,
        # for every message. The tail's handlers touch the database only through
        # database_sync_to_async (which cleans up after itself), and at thousands of
        # batches and acknowledgements a second, those hops would cost more than the tail.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _leave(self) -> None:
        tail, self.tail = self.tail, None
        if tail is not None:
            hub.leave(tail, self.viewer_id)

    async def fail(self, code: str, message: str) -> None:
        """Tell the page why the tail ends, then close (the page does not reconnect)."""
        if self.failed:
            return
        self.failed = True
        permission_watch.discard(self)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": message}))
        await self._leave()
        await self.close(code=CLOSE_CODES.get(code, 4500))

    # --- from the page ----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "")
            ack = int(data["ack"])
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            return  # not an acknowledgement this page sends: ignore it
        if ack > self.acked:
            self.acked = min(ack, self.sent)
            self._wake.set()

    # --- from the hub (called directly, in this process) -------------------------------

    def _count(self, first: int, count: int) -> None:
        if self.next_index is not None and first > self.next_index:
            self.gap_skipped += first - self.next_index
        if self.next_index is None or first + count > self.next_index:
            self.next_index = first + count

    def _started(self, serial: int) -> bool:
        """True once the hub's events cover this viewer (see topics.tail.TopicTail)."""
        if not self.started and self.viewer is not None and serial >= self.viewer.serial:
            self.started = True
        return self.started

    async def tail_batch(self, event: dict[str, Any]) -> None:
        self.on_batch(event)

    def on_batch(self, event: dict[str, Any]) -> None:
        """One batch from the hub: the same object every viewer gets (read only)."""
        if not self._started(event["serial"]):
            return  # polled before this viewer joined: those messages precede its start
        viewer = self.viewer
        self._count(event["first"], event["count"])
        if viewer.filter is None:
            rows = event["rows"].get(viewer.view.key)
            if rows is None:  # cannot happen for a batch that covers this viewer
                self.gap_skipped += event["count"]
            else:
                self.buffer.add(event["meta"], rows, event["count"])
            self._wake.set()
            return
        picked = picked_rows(event, viewer)
        if picked is None:  # cannot happen either; counted if it does
            self.gap_skipped += event["count"]
        else:
            self.buffer.add(*picked)
        self._wake.set()

    async def tail_status(self, event: dict[str, Any]) -> None:
        if self._started(event["serial"]):
            self._count(event["published"], 0)
            if self.skipped != self.reported_skipped:
                self._wake.set()
        elif event["state"] == "live":
            # Live for the others; this viewer's rows start with the next poll.
            event = {**event, "state": "starting"}
        await self.send_status(event)

    async def tail_error(self, event: dict[str, Any]) -> None:
        code = event.get("code", "error")
        await self.fail(code, event.get("message", "The live tail stopped."))

    async def send_status(self, event: dict[str, Any]) -> None:
        status = {k: v for k, v in event.items() if k not in ("type", "published", "serial")}
        await self.send(text_data=json.dumps({"type": "status", **status}))

    # --- to the page ------------------------------------------------------------------

    @property
    def skipped(self) -> int:
        return self.buffer.dropped + self.gap_skipped

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            interval = max(FLUSH_S, hub.viewers / FRAMES_PER_S)
            wait = self.last_flush + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.sent - self.acked >= WINDOW:
                continue  # the next ack wakes us
            if not self.buffer and self.skipped == self.reported_skipped:
                continue
            metas, rows, count = self.buffer.take(FRAME_MAX)
            self.sent += 1
            self.reported_skipped = self.skipped
            # A filtered viewer's chunks are its own: nobody else would send its frame.
            build = rows_frame if self.viewer.filter is not None else frame_cache.frame
            frame = build(self.sent, self.reported_skipped, count, metas, rows)
            self.last_flush = loop.time()
            await self._send_frame({"type": "websocket.send", "bytes": frame})
            if self.buffer:
                self._wake.set()


class PermissionWatch:
    """Re-checks every open tail's user and session, all in one database round trip.

    A user who loses the operator role (or logs out, or is deactivated) while tailing
    sees "Permission lost" within PERMISSION_CHECK_S, whatever the number of viewers.
    """

    def __init__(self) -> None:
        self._viewers: dict[TopicTailConsumer, tuple[Any, str | None]] = {}
        self._task: asyncio.Task | None = None

    def add(self, consumer: TopicTailConsumer) -> None:
        session = consumer.scope.get("session")
        self._viewers[consumer] = (consumer.user.pk, getattr(session, "session_key", None))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer: TopicTailConsumer) -> None:
        self._viewers.pop(consumer, None)

    async def _run(self) -> None:
        while self._viewers:
            await asyncio.sleep(PERMISSION_CHECK_S)
            watched = dict(self._viewers)
            if not watched:
                continue
            try:
                refused = await database_sync_to_async(_refused)(watched)
            except Exception:  # noqa: BLE001 - a failed check is retried next time
                log.exception("checking the live tail viewers' permissions failed")
                continue
            for consumer in refused:
                if consumer in self._viewers:
                    self.discard(consumer)
                    await consumer.fail(
                        "forbidden",
                        "Permission lost: you no longer hold the operator role (or you "
                        "logged out), so the live tail stopped.",
                    )


def _refused(watched: dict[TopicTailConsumer, tuple[Any, str | None]]) -> list:
    """The consumers whose user may no longer read messages or whose session ended."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    keys = {key for _pk, key in watched.values() if key}
    live = set(
        Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).values_list(
            "session_key", flat=True
        )
    )
    users = get_user_model().objects.in_bulk({pk for pk, _key in watched.values()})

    def allowed(consumer: TopicTailConsumer, pk: Any) -> bool:
        user = users.get(pk)
        return user is not None and can(user, Capability.READ_MESSAGES, consumer.cluster.name)

    return [
        consumer
        for consumer, (pk, key) in watched.items()
        if not allowed(consumer, pk) or (key and key not in live)
    ]


permission_watch = PermissionWatch()
