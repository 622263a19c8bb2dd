"""Search scans that test raw record batches for a needle before decoding anything.

`scan` has the contract of `console.kafka.messages.scan` (same ranges, deadline, limits, the
same Message dataclasses and ScanState), plus `needles`: byte strings that must occur in a
record's raw bytes for it to match (see `Probe`). It speaks the Kafka protocol itself (the
request and response types of kafka-python's protocol layer, over a blocking socket per
partition leader), so a response holds whole record batches as bytes: each batch is
decompressed once and searched with `bytes.find` (after `bytes.lower()` for an ASCII-folded
probe); only batches where every probe occurs are walked record by record, only records
containing a hit are parsed into Messages, and the caller re-checks those with the exact
filter. Records that cannot match cost no Python work per record.

What it reads, like the consumer-based scan: from each partition's start offset (records
before it in the first batch are skipped; a start below the log start moves to the log
start) to the end offset fixed by the caller, read_committed by default (control batches
are skipped; aborted transactions are dropped with the fetch response's
`aborted_transactions`, as the Java consumer does; `isolation.level=read_uncommitted` in
the cluster's properties reads them). Every codec (gzip, snappy, lz4, zstd) is handled.
The end of a response may hold a partial batch: it is fetched again from its start, with a
larger size limit when the batch alone is larger than the limit.

Connections use the cluster's own settings (console/kafka/security.py: PLAINTEXT, SSL with
files or PEM text, SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 over either). Any other
setting (GSSAPI, OAUTHBEARER, key stores...), a record format
older than v2, a missing codec library or a partition without leader hands the scan to the
consumer-based one; so does any error during the scan (not leader, connection lost...):
that one goes on from the positions reached, and reports errors as it always does.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import socket
import struct
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from console.kafka import messages
from console.kafka.client import timeout
from console.kafka.connection import Connection
from console.kafka.messages import Prefilter, ScanState
from console.kafka.security import Security, Unsupported, security
from console.kafka.types import Message

with warnings.catch_warnings():
    # kafka-python reads its protocol schemas with importlib.resources calls that warn.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.errors import KafkaError
    from kafka.protocol.consumer import (
        FetchRequest,
        FetchResponse,
        ListOffsetsRequest,
        ListOffsetsResponse,
    )
    from kafka.protocol.metadata import (
        ApiVersionsRequest,
        ApiVersionsResponse,
        MetadataRequest,
        MetadataResponse,
    )
    from kafka.protocol.sasl import (
        SaslAuthenticateRequest,
        SaslAuthenticateResponse,
        SaslHandshakeRequest,
        SaslHandshakeResponse,
    )

log = logging.getLogger(__name__)

# Bytes per fetch response and per partition in it. A partition's batches are processed one
# response at a time, so these bound the memory a scan holds (about three times the first).
MAX_BYTES = 16 * 1024 * 1024
PARTITION_MAX_BYTES = 4 * 1024 * 1024
MIN_PARTITION_BYTES = 256 * 1024  # a partition's share of a response, at least
FIRST_PARTITION_BYTES = 64 * 1024  # ... but for the first response, which doubles from there
MAX_WAIT_MS = 50
FETCH_VERSION = 11  # the newest Fetch that names topics (v13+ want topic ids); needs >= 4
METADATA_VERSION = 8


@dataclass(frozen=True, slots=True)
class Probe:
    """Bytes of which at least one must occur in a record's raw bytes (key, value and
    headers as stored) for the record to match; searched in the ASCII-lower-cased bytes
    when `fold` (the alternatives are then lower case)."""

    alternatives: tuple[bytes, ...]
    fold: bool = False


Needles = tuple[Probe, ...]  # every probe must hold


class _Unsupported(Exception):
    """The fast path cannot read this (setting, format, error): the consumer scan takes over."""


# --- connection settings ----------------------------------------------------------------


@dataclass(frozen=True)
class _Security(Security):
    read_committed: bool = True


def security_for(cluster: Connection) -> tuple[_Security | None, str]:
    """The connection settings of `cluster` for the fast path, or None and why it cannot
    (console/kafka/security.py)."""
    conf = cluster.client_config()
    try:
        sec = security(conf)
    except Unsupported as exc:
        return None, str(exc)
    committed = str(conf.get("isolation.level", "read_committed")).lower() != "read_uncommitted"
    return _Security(**vars(sec), read_committed=committed), ""


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for part in filter(None, (x.strip() for x in bootstrap.split(","))):
        part = part.split("://", 1)[-1]
        host, _sep, port = part.rpartition(":")
        out.append((host.strip("[]") or part, int(port or 9092)))
    return out


# --- one broker connection ----------------------------------------------------------------


class _Conn:
    """A blocking connection to one broker: requests are sent at once, responses read in
    order (several may be in flight)."""

    def __init__(self, host: str, port: int, sec: _Security, wait_s: float) -> None:
        self.host, self.port = host, port
        self.wait_s = wait_s
        sock = socket.create_connection((host, port), timeout=wait_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            if sec.uses_tls:
                sock = sec.ssl_context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._cid = 0
        self._pending: collections.deque[tuple[int, type, int]] = collections.deque()
        self._size = bytearray(4)
        try:
            versions = self.call(ApiVersionsRequest[0](), ApiVersionsResponse, 0)
            self.versions = {k.api_key: (k.min_version, k.max_version) for k in versions.api_keys}
            if sec.protocol.startswith("SASL"):
                self._authenticate(sec)
        except BaseException:
            self.close()
            raise

    def version(self, api_key: int, wanted: int, least: int = 0) -> int:
        low, high = self.versions.get(api_key, (0, -1))
        v = min(wanted, high)
        if v < max(low, least):
            raise _Unsupported(f"the broker does not offer API {api_key} v{least}..{wanted}")
        return v

    def _authenticate(self, sec: _Security) -> None:
        from kafka.net.sasl.plain import SaslMechanismPlain
        from kafka.net.sasl.scram import SaslMechanismScram

        hs = self.call(SaslHandshakeRequest[1](mechanism=sec.mechanism), SaslHandshakeResponse, 1)
        if hs.error_code:
            raise _Unsupported(f"SASL handshake refused ({hs.error_code})")
        config = {
            "sasl_mechanism": sec.mechanism,
            "sasl_plain_username": sec.username,
            "sasl_plain_password": sec.password,
        }
        mech = (SaslMechanismPlain if sec.mechanism == "PLAIN" else SaslMechanismScram)(**config)
        while not mech.is_done():
            resp = self.call(
                SaslAuthenticateRequest[1](auth_bytes=mech.auth_bytes()),
                SaslAuthenticateResponse,
                1,
            )
            if resp.error_code:
                raise _Unsupported(f"SASL authentication failed: {resp.error_message}")
            mech.receive(resp.auth_bytes)
        if not mech.is_authenticated():
            raise _Unsupported("SASL authentication failed")

    def send(self, request, response_cls: type, version: int) -> None:
        self._cid = (self._cid + 1) % 2**31
        request.with_header(correlation_id=self._cid, client_id="kafka-console")
        self.sock.sendall(request.encode(header=True, framed=True))
        self._pending.append((self._cid, response_cls, version))

    def _read_into(self, view: memoryview) -> None:
        got, n = 0, len(view)
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if not k:
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")
            got += k

    def receive(self):
        cid, cls, version = self._pending.popleft()
        self._read_into(memoryview(self._size))
        (size,) = struct.unpack(">i", self._size)
        body = bytearray(size)
        self._read_into(memoryview(body))
        (got,) = struct.unpack_from(">i", body, 0)
        if got != cid:
            raise _Unsupported(f"correlation id {got}, expected {cid}")
        # Every version used here has the 4-byte (non-flexible) response header.
        return cls.decode(memoryview(body)[4:], version=version)

    def call(self, request, response_cls: type, version: int):
        self.send(request, response_cls, version)
        return self.receive()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# --- record batches -----------------------------------------------------------------------

_BATCH_HEAD = struct.Struct(">qi")  # base offset, batch length
_BATCH = struct.Struct(">qiiBIhiqqqhii")  # the whole v2 batch header (61 bytes)
_ATTR_CODEC, _ATTR_LOG_APPEND, _ATTR_TXN, _ATTR_CONTROL = 0x07, 0x08, 0x10, 0x20
_HEADER = 61


def _gunzip(data: bytes) -> bytes:
    out = []
    while data:
        d = zlib.decompressobj(47)  # gzip or zlib header, detected
        out.append(d.decompress(data))
        data = d.unused_data
    return b"".join(out)


def _codecs() -> dict:
    out = {1: _gunzip}
    try:
        import snappy  # noqa: F401 - snappy_decode needs it
        from kafka.codec import snappy_decode

        out[2] = snappy_decode
    except ImportError:
        pass
    try:
        import lz4.frame

        out[3] = lz4.frame.decompress
    except ImportError:
        pass
    try:
        import zstandard

        out[4] = lambda d: zstandard.ZstdDecompressor().decompressobj().decompress(d)
    except ImportError:
        pass
    return out


_DECOMPRESS = _codecs()


def _varint(buf, i: int) -> tuple[int, int]:
    """A zig-zag varint at `buf[i]`: (value, index after it)."""
    b = buf[i]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), i + 1
    r = b & 0x7F
    shift = 7
    i += 1
    while True:
        b = buf[i]
        i += 1
        r |= (b & 0x7F) << shift
        if b < 0x80:
            return (r >> 1) ^ -(r & 1), i
        shift += 7


def _record(buf, j: int, base: int, base_ts: int, log_append_ts: int | None, topic, partition):
    """The Message of the record whose body (after its length) starts at `buf[j]`."""
    j += 1  # attributes, unused
    ts_delta, j = _varint(buf, j)
    off_delta, j = _varint(buf, j)
    n, j = _varint(buf, j)
    key = None
    if n >= 0:
        key = bytes(buf[j : j + n])
        j += n
    n, j = _varint(buf, j)
    value = None
    if n >= 0:
        value = bytes(buf[j : j + n])
        j += n
    count, j = _varint(buf, j)
    headers = []
    for _ in range(count):
        n, j = _varint(buf, j)
        hk = bytes(buf[j : j + n]).decode("utf-8", "replace")
        j += n
        n, j = _varint(buf, j)
        hv = None
        if n >= 0:
            hv = bytes(buf[j : j + n])
            j += n
        headers.append((hk, hv))
    return Message(
        topic=topic,
        partition=partition,
        offset=base + off_delta,
        timestamp_ms=log_append_ts if log_append_ts is not None else base_ts + ts_delta,
        timestamp_type="log-append" if log_append_ts is not None else "create",
        key=key,
        value=value,
        headers=tuple(headers),
    )


def _offset_delta(buf, j: int) -> int:
    """The offset delta of the record whose body starts at `buf[j]`."""
    _ts, j = _varint(buf, j + 1)
    return _varint(buf, j)[0]


def _ts_at(buf, s0: int, index: int, base_ts: int) -> int:
    """The timestamp of the batch's record number `index` (records from `buf[s0]`)."""
    j = s0
    for _ in range(index):
        b = buf[j]  # the record's length, inlined as in `_Reader._candidates`
        if b < 0x80:
            j += 1 + ((b >> 1) ^ -(b & 1))
        elif buf[j + 1] < 0x80:
            r = (b & 0x7F) | (buf[j + 1] << 7)
            j += 2 + ((r >> 1) ^ -(r & 1))
        else:
            ln, body = _varint(buf, j)
            j = body + ln
    _ln, body = _varint(buf, j)
    return base_ts + _varint(buf, body + 1)[0]


def _hits(buf, probe: Probe, s0: int, s1: int) -> list[int]:
    """Where each alternative of `probe` starts in buf[s0:s1], ascending."""
    out: list[int] = []
    for alt in probe.alternatives:
        i = buf.find(alt, s0, s1)
        while i >= 0:
            out.append(i)
            i = buf.find(alt, i + 1, s1)
    if len(probe.alternatives) > 1:
        out.sort()
    return out


def _many_batches(blob: bytes | None) -> bool:
    """Whether `blob` holds many small batches (judged by its first one)."""
    return (
        bool(blob)
        and len(blob) > 12
        and len(blob) > 64 * (12 + _BATCH_HEAD.unpack_from(blob, 0)[1])
    )


@dataclass
class _Part:
    """One partition's progress in a response: messages out, records scanned."""

    out: list[Message]
    scanned: int
    position: int
    done: bool
    partial: int = 0  # bytes of a first batch that did not come whole (0: none)
    # The timestamp of the first record read, or, when finding it would mean walking a
    # batch that has no hit, the largest of that batch (a bound all the same)
    first_ts: int | None = None
    first_walk: tuple | None = None  # what finds the exact one (`_ts_at`'s arguments)
    last_ts: int | None = None  # the largest of the last batch read whole, else its smallest


class _Reader:
    """Processes one partition's record bytes from a fetch response."""

    def __init__(self, topic: str, needles: Needles, prefilter: Prefilter | None) -> None:
        self.topic = topic
        self.needles = needles
        self.first = needles[0]
        self.rest = needles[1:]
        self.folds = any(p.fold for p in needles)
        self.prefilter = prefilter

    def next_offset(self, blob: bytes, position: int) -> tuple[int, int]:
        """Where the next fetch of this partition starts (just past the last whole batch),
        and the size of a partial first batch (0 when a whole batch came)."""
        i, n = 0, len(blob)
        while i + 12 <= n:
            base, blen = _BATCH_HEAD.unpack_from(blob, i)
            if i + 12 + blen > n:
                return position, (12 + blen if i == 0 else 0)
            if blob[i + 16] == 2:
                position = max(position, base + struct.unpack_from(">i", blob, i + 23)[0] + 1)
            i += 12 + blen
        # Fewer than 12 bytes: the size of the batch is unknown; ask for more room.
        return position, (2 * PARTITION_MAX_BYTES if n and i == 0 else 0)

    def read(
        self,
        partition: int,
        blob: bytes,
        position: int,
        end: int,
        aborted: list[tuple[int, int]],
        budget: float,
    ) -> _Part:
        """The candidates of `blob` (whole batches only) in [position, end), at most
        `budget` records scanned."""
        part = _Part([], 0, position, False)
        folded_blob = None
        blob_hits: list[int] | None = None  # the first probe's hits in uncompressed batches
        hp = 0
        aborting: set[int] = set()
        aborted = sorted(aborted)
        ai = 0
        i, n = 0, len(blob)
        while i + _HEADER <= n:
            (
                base,
                blen,
                _leader_epoch,
                magic,
                _crc,
                attrs,
                last_delta,
                base_ts,
                max_ts,
                pid,
                _epoch,
                _seq,
                count,
            ) = _BATCH.unpack_from(blob, i)
            stop = i + 12 + blen
            if stop > n:  # a partial batch: fetched again next time
                part.partial = 12 + blen if i == 0 else 0
                break
            if magic != 2:
                raise _Unsupported(f"record format v{magic} (before Kafka 0.11)")
            start = i + _HEADER
            i = stop
            last = base + last_delta
            if last < part.position:
                continue
            if part.first_ts is None and base >= part.position:
                part.first_ts = base_ts  # its first record's
            part.last_ts = base_ts
            if base >= end:
                part.position, part.done = end, True
                return part
            if attrs & _ATTR_TXN:
                while ai < len(aborted) and aborted[ai][0] <= last:
                    aborting.add(aborted[ai][1])
                    ai += 1
                if attrs & _ATTR_CONTROL:
                    # A marker ends its producer's transaction, committed or aborted.
                    aborting.discard(pid)
                    part.position = min(last + 1, end)
                    continue
                if pid in aborting:
                    part.position = min(last + 1, end)
                    continue
            elif attrs & _ATTR_CONTROL:
                part.position = min(last + 1, end)
                continue
            codec = attrs & _ATTR_CODEC
            if codec:
                try:
                    data = _DECOMPRESS[codec](blob[start:stop])
                except KeyError:
                    raise _Unsupported(f"no library for compression codec {codec}") from None
                s0, s1 = 0, len(data)
                folded = data.lower() if self.folds else None
                may = None  # not known yet
            else:
                if blob_hits is None:
                    # Uncompressed batches are searched in one go, whatever their number:
                    # a batch is a candidate when one of these hits falls inside it.
                    if self.folds:
                        folded_blob = blob.lower()
                    blob_hits = _hits(folded_blob if self.first.fold else blob, self.first, 0, n)
                data, folded, s0, s1 = blob, folded_blob, start, stop
                nh = len(blob_hits)
                while hp < nh and blob_hits[hp] < start:
                    hp += 1
                may = hp < nh and blob_hits[hp] < stop
            log_append = max_ts if attrs & _ATTR_LOG_APPEND else None
            whole = base >= part.position and last < end and count <= budget - part.scanned
            if whole:
                part.scanned += count
                part.position = min(last + 1, end)
                part.last_ts = max_ts
                if may is None:
                    may = self._may_match(data, folded, s0, s1)
                elif may and self.rest:
                    may = self._rest_ok(data, folded, s0, s1)
                if may:
                    self._candidates(
                        partition, data, folded, s0, s1, base, base_ts, log_append, part
                    )
            elif self._edge(
                partition,
                data,
                folded,
                s0,
                s1,
                base,
                last,
                count,
                base_ts,
                log_append,
                end,
                budget,
                part,
            ):
                if part.first_ts is None:
                    part.first_ts = max_ts
                return part
            if part.first_ts is None:  # the position's record was not parsed: a bound
                part.first_ts = max_ts
            if part.position >= end:
                part.done = True
                return part
        if 0 < n < _HEADER:
            part.partial = 2 * PARTITION_MAX_BYTES  # its size is unknown: ask for more room
        return part

    def _may_match(self, data, folded, s0: int, s1: int) -> bool:
        for probe in self.needles:
            buf = folded if probe.fold else data
            if not any(buf.find(a, s0, s1) >= 0 for a in probe.alternatives):
                return False
        return True

    def _rest_ok(self, data, folded, j: int, k: int) -> bool:
        for probe in self.rest:
            buf = folded if probe.fold else data
            if not any(buf.find(a, j, k) >= 0 for a in probe.alternatives):
                return False
        return True

    def _emit(self, msg: Message, part: _Part) -> None:
        if self.prefilter is None or self.prefilter(msg.key, msg.value):
            part.out.append(msg)

    def _candidates(self, partition, data, folded, s0, s1, base, base_ts, log_append, part):
        """Parse the records of a whole batch that hold a hit of every probe."""
        first = self.first
        hits = _hits(folded if first.fold else data, first, s0, s1)
        h, nh = 0, len(hits)
        j = s0
        while h < nh and j < s1:
            # The record's length, a varint of one or two bytes for records under 8 KB
            # (inlined: this loop runs for every record before the batch's last hit).
            b = data[j]
            if b < 0x80:
                ln, body = (b >> 1) ^ -(b & 1), j + 1
            elif data[j + 1] < 0x80:
                r = (b & 0x7F) | (data[j + 1] << 7)
                ln, body = (r >> 1) ^ -(r & 1), j + 2
            else:
                ln, body = _varint(data, j)
            j = body + ln
            if hits[h] >= j:
                continue
            while h < nh and hits[h] < j:
                h += 1
            if self._rest_ok(data, folded, body, j):
                msg = _record(data, body, base, base_ts, log_append, self.topic, partition)
                self._emit(msg, part)

    def _edge(
        self,
        partition,
        data,
        folded,
        s0,
        s1,
        base,
        last,
        count,
        base_ts,
        log_append,
        end,
        budget,
        part,
    ) -> bool:
        """A batch that starts before the position, reaches the end, or holds more records
        than the budget: the records in [position, end) are scanned, up to the budget. True
        when the budget ran out inside it."""
        may = self._may_match(data, folded, s0, s1)
        if count == last - base + 1:
            # Offset deltas 0, 1, 2, … (nothing compacted away): the records in range are
            # known by index, so a batch without a hit is counted, not walked, and one with
            # a hit walks record lengths only up to its range.
            lo = max(0, part.position - base)
            hi = min(count, end - base)
            room = budget - part.scanned
            avail = max(0, hi - lo)
            cut = avail > room
            if cut:
                hi = lo + max(0, room)
            if may and hi > lo:
                self._edge_hits(
                    partition, data, folded, s0, s1, base, lo, hi, base_ts, log_append, part
                )
            if part.first_ts is None and log_append is None:
                # The position's time costs a walk of the lengths before it: done only if
                # a search needs it (ScanState.first_ts_of); until then the batch's largest.
                part.first_walk = (data, s0, lo, base_ts)
            part.scanned += max(0, hi - lo)
            if cut:
                part.position = base + hi
                return True
            if hi < count:  # the range ends inside this batch
                part.position = end
                return False
            part.position = max(part.position, min(last + 1, end))
            return False
        first = self.first
        fbuf = folded if first.fold else data
        j = s0
        while j < s1:
            ln, body = _varint(data, j)
            j = body + ln
            off = base + _offset_delta(data, body)
            if off < part.position:
                continue
            if part.first_ts is None:
                part.first_ts = log_append or base_ts + _varint(data, body + 1)[0]
            if off >= end:
                part.position = end
                return False
            if part.scanned >= budget:
                part.position = off
                return True
            part.scanned += 1
            part.position = off + 1
            if (
                may
                and any(fbuf.find(a, body, j) >= 0 for a in first.alternatives)
                and self._rest_ok(data, folded, body, j)
            ):
                self._emit(
                    _record(data, body, base, base_ts, log_append, self.topic, partition), part
                )
        part.position = max(part.position, min(last + 1, end))
        return False

    def _edge_hits(self, partition, data, folded, s0, s1, base, lo, hi, base_ts, log_append, part):
        """The matching records of indexes [lo, hi) of a batch whose offset deltas are its
        indexes (`_candidates`' walk, bounded to that range): the first probe's hits are
        found in the whole batch at once, the walk tests a record only where one falls and
        ends after the last (the position's time is then found lazily, ScanState)."""
        first = self.first
        hits = _hits(folded if first.fold else data, first, s0, s1)
        h, nh = 0, len(hits)
        j = s0
        i = 0
        while i < hi and j < s1 and h < nh:
            b = data[j]  # the record's length, inlined as in _candidates
            if b < 0x80:
                ln, body = (b >> 1) ^ -(b & 1), j + 1
            elif data[j + 1] < 0x80:
                r = (b & 0x7F) | (data[j + 1] << 7)
                ln, body = (r >> 1) ^ -(r & 1), j + 2
            else:
                ln, body = _varint(data, j)
            j = body + ln
            if i == lo and part.first_ts is None:  # the position's record: its time
                part.first_ts = log_append or base_ts + _varint(data, body + 1)[0]
            if hits[h] < j:
                while h < nh and hits[h] < j:
                    h += 1
                if i >= lo and self._rest_ok(data, folded, body, j):
                    self._emit(
                        _record(data, body, base, base_ts, log_append, self.topic, partition),
                        part,
                    )
            i += 1


# --- the scan -----------------------------------------------------------------------------


class _Leader:
    def __init__(self, conn: _Conn, partitions: list[int]) -> None:
        self.conn = conn
        self.partitions = partitions
        self.in_flight: dict[int, int] | None = None  # partition -> offset asked
        self.turn = 0
        self.sent = 0  # fetch requests sent


class _FastScan:
    def __init__(
        self,
        cluster: Connection,
        sec: _Security,
        topic: str,
        state: ScanState,
        ends: dict[int, int],
        needles: Needles,
        prefilter: Prefilter | None,
        deadline: float,
    ) -> None:
        self.topic = topic
        self.state = state
        self.ends = ends
        self.sec = sec
        self.deadline = deadline
        self.reader = _Reader(topic, needles, prefilter)
        self.wait_s = max(1.0, timeout())
        self.conns: list[_Conn] = []
        self.leaders: list[_Leader] = []
        self.want_bytes: dict[int, int] = {}
        self._connect(cluster)

    def _open(self, host: str, port: int) -> _Conn:
        conn = _Conn(host, port, self.sec, self.wait_s)
        self.conns.append(conn)
        return conn

    def _connect(self, cluster: Connection) -> None:
        error: Exception | None = None
        boot = None
        for host, port in _addresses(cluster.bootstrap_servers):
            try:
                boot = self._open(host, port)
                break
            except (OSError, _Unsupported) as exc:
                error = exc
        if boot is None:
            raise _Unsupported(f"no bootstrap server answered: {error}")
        v = boot.version(3, METADATA_VERSION, 1)
        md = boot.call(
            MetadataRequest[v](
                topics=[MetadataRequest.MetadataRequestTopic(name=self.topic)],
                allow_auto_topic_creation=False,
            ),
            MetadataResponse,
            v,
        )
        brokers = {b.node_id: (b.host, b.port) for b in md.brokers}
        leaders: dict[int, list[int]] = {}
        topics = [t for t in md.topics if t.name == self.topic]
        if not topics or topics[0].error_code:
            raise _Unsupported(
                f"metadata of {self.topic}: error {topics[0].error_code if topics else '?'}"
            )
        leader_of = {p.partition_index: p.leader_id for p in topics[0].partitions}
        for p in self.ends:
            if p in self.state.finished:
                continue
            leader = leader_of.get(p, -1)
            if leader not in brokers:
                raise _Unsupported(f"partition {p} has no leader")
            leaders.setdefault(leader, []).append(p)
        for node, parts in leaders.items():
            host, port = brokers[node]
            conn = boot if (host, port) == (boot.host, boot.port) else self._open(host, port)
            conn.version(1, FETCH_VERSION, 4)
            self.leaders.append(_Leader(conn, parts))

    def close(self) -> None:
        for c in self.conns:
            c.close()

    def _send(self, leader: _Leader, offsets: dict[int, int]) -> None:
        """Ask the leader for its unfinished partitions from `offsets`, rotating the order so
        that no partition waits behind the others for the response's byte limit."""
        parts = [p for p in leader.partitions if p in offsets]
        if not parts:
            leader.in_flight = None
            return
        leader.turn = (leader.turn + 1) % len(parts)
        parts = parts[leader.turn :] + parts[: leader.turn]
        # A partition whose next batch alone is larger than the limits goes first, with a
        # limit that fits it (the broker returns the first batch of the first partition whole).
        big = [p for p in parts if self.want_bytes.get(p)]
        if big:
            parts = big[:1] + [p for p in parts if p != big[0]]
        # Every partition gets its share of the response, so all advance together: a forward
        # search shows no match past the last time read in another partition, and with
        # 4 MB each, the partitions late in the order waited for three responses or more.
        # The first responses are small and double: a first screenful needs every partition
        # read a little, not a sixteenth of 16 MB each (the rest would be read again).
        per_partition = max(MIN_PARTITION_BYTES, min(PARTITION_MAX_BYTES, MAX_BYTES // len(parts)))
        per_partition = min(per_partition, FIRST_PARTITION_BYTES << min(leader.sent, 16))
        leader.sent += 1
        F = FetchRequest
        v = leader.conn.version(1, FETCH_VERSION, 4)
        request = FetchRequest[v](
            replica_id=-1,
            max_wait_ms=MAX_WAIT_MS,
            min_bytes=1,
            max_bytes=max(MAX_BYTES, max((self.want_bytes.get(p, 0) for p in parts), default=0)),
            isolation_level=1 if self.sec.read_committed else 0,
            session_id=0,
            session_epoch=-1,
            topics=[
                F.FetchTopic(
                    topic=self.topic,
                    partitions=[
                        F.FetchTopic.FetchPartition(
                            partition=p,
                            current_leader_epoch=-1,
                            fetch_offset=offsets[p],
                            log_start_offset=-1,
                            partition_max_bytes=max(per_partition, self.want_bytes.get(p, 0)),
                        )
                        for p in parts
                    ],
                )
            ],
            forgotten_topics_data=[],
            rack_id="",
        )
        leader.conn.send(request, FetchResponse, v)
        leader.in_flight = {p: offsets[p] for p in parts}

    def run(self, max_records: float) -> Iterator[list[Message]]:
        state = self.state
        for leader in self.leaders:
            self._send(leader, {p: state.positions[p] for p in leader.partitions})
        # The deadline ends the scan only once every partition's answer was read: a search
        # shows a match only when no partition's unread records can be older (its floor,
        # topics.browse.selectors), and a partition whose answer a short chunk never reached
        # would have none. So every chunk reads each partition's first (small) answer.
        answered: set[int] = set()

        def over() -> bool:
            return time.monotonic() >= self.deadline and all(
                p in answered or p in state.finished for p in state.ranges
            )

        while not state.done and not over() and state.scanned < max_records:
            busy = [lead for lead in self.leaders if lead.in_flight]
            if not busy:
                return
            for leader in busy:
                asked = leader.in_flight or {}
                resp = leader.conn.receive()
                data: dict[int, object] = {}
                for t in resp.responses:
                    for pd in t.partitions:
                        data[pd.partition_index] = pd
                # Next offsets from the batch headers alone, and the next request sent at
                # once: the broker reads and sends while this process searches. Not when
                # the batches are many and small: walking their headers twice costs more.
                pipelined = not any(_many_batches(pd.records) for pd in data.values())
                nxt: dict[int, int] = {}
                for p, off in asked.items():
                    pd = data.get(p)
                    if pd is None:
                        raise _Unsupported(f"no answer for partition {p}")
                    if pd.error_code == 1:  # OFFSET_OUT_OF_RANGE: records deleted meanwhile
                        start = self._log_start(leader.conn, p)
                        if start <= off:
                            raise _Unsupported(f"offset {off} out of range on partition {p}")
                        state.positions[p] = min(start, self.ends[p])
                        if start >= self.ends[p]:
                            state.finished.add(p)
                        else:
                            nxt[p] = start
                        continue
                    if pd.error_code:
                        raise _Unsupported(f"fetch error {pd.error_code} on partition {p}")
                    if pipelined:
                        new, partial = self.reader.next_offset(pd.records or b"", off)
                        self.want_bytes[p] = partial
                        if new < self.ends[p]:
                            nxt[p] = new
                if pipelined:
                    self._send(leader, nxt)
                else:
                    leader.in_flight = None
                for p in asked:
                    pd = data[p]
                    answered.add(p)
                    if pd.error_code or p in state.finished:
                        continue
                    blob = pd.records or b""
                    aborted = [
                        (a.first_offset, a.producer_id) for a in (pd.aborted_transactions or ())
                    ]
                    part = self.reader.read(
                        p,
                        blob,
                        state.positions[p],
                        self.ends[p],
                        aborted,
                        max_records - state.scanned,
                    )
                    state.scanned += part.scanned
                    state.positions[p] = part.position
                    if part.first_ts is not None and p not in state.first_ts:
                        state.first_ts[p] = part.first_ts
                        if part.first_walk is not None:
                            state.first_ts_walk[p] = functools.partial(_ts_at, *part.first_walk)
                    if part.last_ts is not None:
                        state.last_ts[p] = part.last_ts
                    if not pipelined:
                        self.want_bytes[p] = part.partial
                    if part.done or part.position >= self.ends[p]:
                        state.positions[p] = self.ends[p]
                        state.finished.add(p)
                    yield part.out
                    if state.scanned >= max_records or over():
                        return
                if not pipelined:
                    self._send(
                        leader,
                        {
                            p: state.positions[p]
                            for p in leader.partitions
                            if p not in state.finished
                        },
                    )
                elif leader.in_flight:
                    # Batches are re-fetched from the first one not taken (a batch cut by the
                    # budget, or partial), so the request in flight must match the positions.
                    for p, off in leader.in_flight.items():
                        if off != state.positions[p] or p in state.finished:
                            self._resync(leader)
                            break

    def _log_start(self, conn: _Conn, partition: int) -> int:
        """The partition's log start offset (the consumer scan moves there too, as its
        auto.offset.reset is earliest). Asked while no fetch is in flight on `conn`."""
        v = conn.version(2, 5, 1)
        L = ListOffsetsRequest
        resp = conn.call(
            L[v](
                replica_id=-1,
                isolation_level=1 if self.sec.read_committed else 0,
                topics=[
                    L.ListOffsetsTopic(
                        name=self.topic,
                        partitions=[
                            L.ListOffsetsTopic.ListOffsetsPartition(
                                partition_index=partition, current_leader_epoch=-1, timestamp=-2
                            )
                        ],
                    )
                ],
            ),
            ListOffsetsResponse,
            v,
        )
        for t in resp.topics:
            for pr in t.partitions:
                if pr.partition_index == partition and not pr.error_code:
                    return pr.offset
        raise _Unsupported(f"no log start offset for partition {partition}")

    def _resync(self, leader: _Leader) -> None:
        """The request in flight asks for other offsets than the scan reached: drop its
        answer and ask again."""
        leader.conn.receive()
        leader.in_flight = None
        state = self.state
        self._send(
            leader,
            {p: state.positions[p] for p in leader.partitions if p not in state.finished},
        )


def scan(
    cluster: Connection,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    *,
    deadline: float,
    max_records: int | None = None,
    prefilter: Prefilter | None = None,
    batch: int = messages.BATCH,
    needles: Needles | None = None,
) -> Iterator[tuple[list[Message], ScanState]]:
    """`console.kafka.messages.scan`, reading raw batches when `needles` are given: only
    records whose raw bytes hold every probe are yielded (candidates for the exact filter).
    Without needles, or when the fast path cannot read the cluster, it is that scan."""
    state = ScanState(ranges=dict(ranges))
    for p, (start, end) in ranges.items():
        state.positions[p] = start
        if start >= end:
            state.finished.add(p)
    limit = max_records if max_records is not None else float("inf")
    sec, why = security_for(cluster) if needles else (None, "no needles")
    if sec is None or not needles:
        if needles:
            log.debug("search of %s: the consumer scan (%s)", topic, why)
        yield from _slow(cluster, topic, state, deadline, limit, prefilter, batch)
        return
    if state.done:
        yield [], state
        return
    ends = {p: end for p, (_s, end) in ranges.items()}
    yielded = False
    fast = None
    try:
        fast = _FastScan(cluster, sec, topic, state, ends, needles, prefilter, deadline)
        for out in fast.run(limit):
            yielded = True
            yield out, state
    except (_Unsupported, KafkaError, OSError, ValueError, struct.error, IndexError) as exc:
        log.info("search of %s: the consumer scan goes on (%s)", topic, exc)
        if fast is not None:
            fast.close()
            fast = None
        yield from _slow(cluster, topic, state, deadline, limit, prefilter, batch)
        return
    finally:
        if fast is not None:
            fast.close()
    if not yielded:
        yield [], state


def _slow(cluster, topic, state: ScanState, deadline, limit, prefilter, batch):
    """The consumer-based scan from the positions reached, its progress added to `state`."""
    rest = {
        p: (state.positions[p], end)
        for p, (_s, end) in state.ranges.items()
        if p not in state.finished
    }
    if not rest:
        yield [], state
        return
    base = state.scanned
    for out, st in messages.scan(
        cluster,
        topic,
        rest,
        deadline=deadline,
        max_records=None if limit == float("inf") else max(0, int(limit - base)),
        prefilter=prefilter,
        batch=batch,
    ):
        state.positions.update(st.positions)
        state.finished |= st.finished
        state.errors.update(st.errors)
        for p, ts in st.first_ts.items():
            state.first_ts.setdefault(p, ts)
        state.last_ts.update(st.last_ts)
        state.scanned = base + st.scanned
        yield out, state
