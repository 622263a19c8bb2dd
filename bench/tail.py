"""Live tail: WebSocket viewers of one topic at a steady produce rate.

`python -m bench tail` runs the suite and writes bench/results/tail.json:

- 20 viewers at 2,000 msg/s, one web process (in-memory channel layer, as in the demo);
- 200 viewers at 10,000 msg/s, one web process: the main run, whose figures are the file's
  top-level keys (issue 14's goal: 1 Kafka consumer, p99 produce->receipt < 0.25 s,
  0 dropped for viewers that keep up, RSS flat);
- 200 viewers at 1,000 msg/s, one web process;
- 1,000 viewers at 200 msg/s over 4 web processes on Redis as the channel layer
  (`multi_process`; the hub delivers in process, so Redis carries no tail traffic).

`python -m bench.tail --viewers N --rate R [--seconds S] [--processes P] [--clients C]`
runs one configuration and prints its figures (TAIL_VIEWERS, TAIL_RATE, TAIL_SECONDS,
TAIL_PROCESSES, TAIL_CLIENTS set the same from the environment, and TAIL_WARMUP_S the
warm-up, 10 s); `--write` puts that one
run in tail.json instead of the suite.

Each viewer logs in with a session cookie and tails one 6-partition topic, acknowledging
each rows frame like tail.js does. The viewers are spread over several client processes
(multiprocessing, "spawn"), each an asyncio loop of lean WebSocket clients written on
asyncio streams: a rows frame is not decoded as a whole; its "meta" part (partition,
offset, produce timestamp of each row) is cut out of the bytes, rows are counted there, and
every `measure_every`-th viewer parses every timestamp (latency of every message it
receives); every viewer records its frames' first row (the oldest) latency too.

A separate process produces at the steady rate (linger 5 ms): warm-up (a fresh JVM and
server), then the measured run. As the reference it runs a plain confluent-kafka consumer
assigned to the same partitions at the end: its produce-to-receipt latency is what Kafka
alone costs on this machine, in the same run.

Figures per run: Kafka consumers per server process (the hub's count reported to every
client; and each server's TCP connections to the broker), p50/p99 latency, messages
dropped (the "skipped" counts the server reported; unaccounted = produced - received -
skipped must be 0), each server's peak RSS, and RSS after 10 s of the measured run and at
its end (flat: end within 10 % of the 10 s figure), and CPU seconds of every part (server,
clients, producer, Kafka, Redis) during the measured run, so which side saturates shows.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench.common import DEPLOYED, cpu_s, logged_in_client, setup_django, start_kafka, write_result
from tools.service import start_redis

# The same rate before the measured run: a fresh JVM and server warm up.
WARMUP_S = int(os.environ.get("TAIL_WARMUP_S", "10"))
PARTITIONS = 6


@dataclass(frozen=True)
class RunConfig:
    viewers: int
    rate: int  # messages per second
    seconds: int = 30
    # Web processes (console/serve.py); more than one: Redis as the channel layer.
    processes: int = 1
    clients: int = 0  # client processes; 0: one per 100 viewers, 1 to 4
    measure_every: int = 10  # every n-th viewer records every message's latency
    warmup_s: int = WARMUP_S
    attempt: int = 1

    @property
    def topic(self) -> str:
        again = f"-{self.attempt}" if self.attempt > 1 else ""
        return f"tail-bench-{self.viewers}v-{self.rate}r-{self.processes}p{again}"

    @property
    def client_processes(self) -> int:
        return self.clients or max(1, min(4, math.ceil(self.viewers / 100)))

    @property
    def label(self) -> str:
        return f"{self.viewers} viewers, {self.rate} msg/s, {self.processes} server process(es)"


SUITE = (
    RunConfig(viewers=20, rate=2000),
    RunConfig(viewers=200, rate=10000),
    RunConfig(viewers=200, rate=1000),
    RunConfig(viewers=1000, rate=200, processes=4, measure_every=20),
)
MAIN = 1  # SUITE[MAIN]'s figures are tail.json's top-level keys (issue 14's goal)
MULTI = 3  # SUITE[MULTI] is tail.json's multi_process


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def percentile(values, q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- the producer and the reference consumer (a process of its own) ----------------------


def _produce_and_reference(cfg: RunConfig, bootstrap: str, ready, measuring, results) -> None:
    """Child process: the steady producer (warm-up, then the measured run) and the
    reference consumer."""
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

    topic = cfg.topic
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-reference",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in range(PARTITIONS)])
    consumer.consume(100, 2.0)  # resolve the end offsets before producing
    latencies = array.array("d")
    done = threading.Event()
    total = cfg.rate * (cfg.warmup_s + cfg.seconds)
    received = 0

    def consume() -> None:
        nonlocal received
        deadline = None
        while received < total:
            for m in consumer.consume(1000, 0.05):
                if m.error() is None:
                    received += 1
                    ts = m.timestamp()[1] / 1000
                    if ts >= measuring.value > 0:
                        latencies.append(time.time() - ts)
            if done.is_set():
                deadline = deadline or time.monotonic() + 10
                if time.monotonic() > deadline:
                    break

    reader = threading.Thread(target=consume)
    reader.start()
    ready.wait()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "partitioner": "murmur2_random"}
    )
    tick = 0.01
    started = time.monotonic()
    sent = 0
    pages = ("home", "search", "product", "cart", "checkout")
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= cfg.warmup_s and not measuring.value:
            measuring.value = time.time()
        if elapsed >= cfg.warmup_s + cfg.seconds:
            break
        due = min(total, int((elapsed + tick) * cfg.rate))
        while sent < due:
            value = json.dumps(
                {"seq": sent, "user": f"u{sent % 997}", "page": pages[sent % 5], "ms": 12.5}
            )
            producer.produce(topic, key=f"user-{sent % 997}".encode(), value=value.encode())
            sent += 1
        producer.poll(0)
        time.sleep(max(0.0, started + (elapsed // tick + 1) * tick - time.monotonic()))
    producer.flush(30)
    done.set()
    reader.join()
    consumer.close()
    results.put(
        {
            "sent": sent,
            "produce_s": round(time.monotonic() - started, 2),
            "reference_received": received,
            "reference_p50_s": r4(percentile(latencies, 0.50)),
            "reference_p99_s": r4(percentile(latencies, 0.99)),
        }
    )


# --- the viewers (client processes) --------------------------------------------------------


class LeanViewer:
    """A WebSocket client of the live tail on asyncio streams: what tail.js does (status
    frames, acknowledge each rows frame), without decoding the rows."""

    def __init__(self, measure: bool) -> None:
        self.measure = measure
        # Latencies in arrays: a million floats in a list would make the collector's full
        # passes pause this process, and the pauses count as latency.
        self.latencies = array.array("d")  # every message (measuring viewers only)
        self.first_row = array.array("d")  # each frame's first (oldest) row
        self.rows = 0
        self.behind = 0.0  # the last frame's oldest row: how far behind the producer
        self.bytes = 0  # rows frames' payloads
        self.frames = 0
        self.skipped = 0
        self.skipped_before_run: int | None = None  # skipped when the measured run began
        self.status: dict = {}
        self.max_consumers = 0
        self.error: dict | str | None = None

    async def _open(self, host: str, port: int, path: str, session: str, origin: str):
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n"
                f"Cookie: sessionid={session}\r\n\r\n"
            ).encode()
        )
        return reader, writer, await reader.readuntil(b"\r\n\r\n")

    async def run(self, host: str, port: int, path: str, session: str, origin: str, stop, since):
        # A handshake lost on a loaded machine (a full accept queue) is tried again.
        for attempt in range(4):
            try:
                reader, writer, head = await asyncio.wait_for(
                    self._open(host, port, path, session, origin), 30
                )
                break
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                if attempt == 3:
                    self.error = f"no handshake: {exc!r}"
                    return
        self.attempts = attempt + 1
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            self.error = head.decode("latin-1")[:200]
            return
        try:
            await self._frames(reader, writer, stop, since)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if not stop.is_set():
                self.error = f"connection lost: {exc!r}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    def _send(writer, opcode: int, payload: bytes) -> None:
        # Client frames are masked; a zero mask leaves the payload as it is.
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        else:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        writer.write(head + b"\0\0\0\0" + payload)

    async def _frames(self, reader, writer, stop, since) -> None:
        readexactly = reader.readexactly
        message = b""
        while not stop.is_set():
            b0, b1 = await readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await readexactly(8), "big")
            payload = await readexactly(n) if n else b""
            opcode = b0 & 0x0F
            if opcode == 9:  # ping
                self._send(writer, 10, payload)
                continue
            if opcode == 8:  # close
                if not stop.is_set():
                    self.error = self.error or f"closed by the server: {payload[:2].hex()}"
                return
            if opcode == 10:
                continue
            message += payload
            if not b0 & 0x80:
                continue  # fragmented: more to come
            data, message = message, b""
            if data.startswith(b'{"type":"rows"'):
                self.bytes += len(data)
                self._rows(data, time.time(), since.value, writer)
            else:
                frame = json.loads(data)
                if frame["type"] == "status":
                    self.status = frame
                    self.max_consumers = max(self.max_consumers, frame["consumers"])
                else:
                    self.error = frame
                    return

    def _rows(self, data: bytes, now: float, since: float, writer) -> None:
        # A rows frame (topics.tail.frames): a JSON header line, the rows' positions
        # ([p,o,ts], each followed by a comma) compressed, then the rows' HTML compressed,
        # which a lean viewer does not inflate.
        newline = data.index(b"\n")
        head = json.loads(data[:newline])
        if since > 0 and self.skipped_before_run is None:
            self.skipped_before_run = self.skipped
        self.skipped = head["skipped"]
        self.frames += 1
        if head["count"]:
            meta = zlib.decompressobj(-15).decompress(
                data[newline + 1 : newline + 1 + head["meta"]]
            )
            self.rows += head["count"]
            first = meta[1 : meta.index(b"]")].split(b",")
            self.behind = now - int(first[2]) / 1000
            # Every row received during the measured run counts, whenever it was produced:
            # a tail that falls behind shows as latency, not as nothing measured.
            if 0 < since <= now:
                self.first_row.append(self.behind)
                if self.measure:
                    self.latencies.extend(
                        [now - m[2] / 1000 for m in json.loads(b"[" + meta[:-1] + b"]")]
                    )
        self._send(writer, 1, b'{"ack":%d}' % head["seq"])


def _client_process(
    targets: list[tuple[str, int, str, int]],  # (host, port, path, viewers on that server)
    session: str,
    origin: str,
    measure_every: int,
    first_index: int,
    stop,
    measuring,
    out,
) -> None:
    asyncio.run(
        _client_main(targets, session, origin, measure_every, first_index, stop, measuring, out)
    )


async def _client_main(targets, session, origin, measure_every, first_index, stop, measuring, out):
    stopping = asyncio.Event()
    viewers: list[tuple[LeanViewer, int]] = []
    tasks = []

    async def one(v: LeanViewer, host, port, path, delay: float) -> None:
        await asyncio.sleep(delay)  # not every handshake at once
        await v.run(host, port, path, session, origin, stopping, measuring)

    index = first_index
    for host, port, path, expect in targets:
        v = LeanViewer(measure=index % measure_every == 0)
        index += 1
        viewers.append((v, expect))
        tasks.append(asyncio.create_task(one(v, host, port, path, 0.01 * len(tasks))))
    deadline = time.monotonic() + 180
    while not all(
        v.status.get("state") == "live" and v.status.get("viewers") == expect
        for v, expect in viewers
    ):
        errors = [v.error for v, _ in viewers if v.error]
        if errors or time.monotonic() > deadline:
            out.put(("error", errors[:3] or [v.status for v, _ in viewers[:3]]))
            stopping.set()
            return
        await asyncio.sleep(0.2)
    out.put(("ready", len(viewers)))
    while not stop.is_set():
        await asyncio.sleep(0.2)
    stopping.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    out.put(
        (
            "done",
            [
                {
                    "rows": v.rows,
                    "skipped": v.skipped,
                    # No frame since the run began: every drop it reported was before.
                    "skipped_before_run": v.skipped
                    if v.skipped_before_run is None
                    else v.skipped_before_run,
                    "frames": v.frames,
                    "behind_s": v.behind,
                    "bytes": v.bytes,
                    "max_consumers": v.max_consumers,
                    "error": str(v.error) if v.error else None,
                    "latencies": v.latencies.tobytes(),
                    "first_row": v.first_row.tobytes(),
                }
                for v, _ in viewers
            ],
        )
    )


# --- servers -------------------------------------------------------------------------------


# --- one run -------------------------------------------------------------------------------


def run(cfg: RunConfig, kafka, session: str) -> dict:
    from confluent_kafka.admin import AdminClient, NewTopic

    from tests.conftest import start_asgi_server

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_topics([NewTopic(cfg.topic, PARTITIONS, 1)])[cfg.topic].result(60)
    redis = None
    servers = []
    env: dict[str, str] = dict(DEPLOYED)
    try:
        if cfg.processes > 1:
            redis, env["REDIS_URL"] = start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-")))
        for _ in range(cfg.processes):
            servers.append(start_asgi_server(Path(tempfile.mkdtemp(prefix="bench-web-")), **env))
        return _measure(cfg, kafka, session, servers, redis)
    finally:
        for server, _base in servers:
            server.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(10)


def _measure(cfg: RunConfig, kafka, session, servers, redis) -> dict:
    pids = [server.popen.pid for server, _base in servers]
    ctx = multiprocessing.get_context("spawn")
    producer_ready, results = ctx.Event(), ctx.Queue()
    measuring = ctx.Value("d", 0.0, lock=False)  # wall-clock start of the measured run
    stop, out = ctx.Event(), ctx.Queue()
    producer = ctx.Process(
        target=_produce_and_reference,
        args=(cfg, kafka.bootstrap_servers, producer_ready, measuring, results),
    )
    producer.start()
    producer.bench_events = (producer_ready, results)

    # Viewers round-robin over the servers, then split into client processes.
    per_server = [0] * len(servers)
    assignment = []
    for i in range(cfg.viewers):
        per_server[i % len(servers)] += 1
        assignment.append(i % len(servers))
    targets = []
    for s in assignment:
        host_port = servers[s][1].split("//", 1)[1]
        host, port = host_port.rsplit(":", 1)
        path = f"/ws/clusters/bench/topics/{cfg.topic}/tail/"
        targets.append((host, int(port), path, per_server[s]))
    n = cfg.client_processes
    chunks = [targets[i::n] for i in range(n)]
    clients = []
    first = 0
    for chunk in chunks:
        p = ctx.Process(
            target=_client_process,
            args=(chunk, session, servers[0][1], cfg.measure_every, first, stop, measuring, out),
        )
        first += len(chunk)
        p.start()
        clients.append(p)

    try:
        return _collect(cfg, kafka, pids, redis, producer, clients, stop, out, measuring)
    except BaseException:
        stop.set()
        for p in [*clients, producer]:
            p.terminate()
        raise


def _collect(cfg, kafka, pids, redis, producer, clients, stop, out, measuring) -> dict:
    from tests.topics.tail.conftest import broker_connections

    n = len(clients)
    producer_ready, results = producer.bench_events
    ready = 0
    while ready < n:
        kind, what = out.get(timeout=240)
        if kind == "error":
            stop.set()
            raise RuntimeError(f"viewers did not get live: {what}")
        ready += 1
    producer_ready.set()

    rss: dict[int, list[tuple[float, float]]] = {pid: [] for pid in pids}
    connections: dict[int, list[int]] = {pid: [] for pid in pids}

    def sample_connections() -> None:
        while producer.is_alive() and not stop.is_set():
            for pid in pids:
                connections[pid].append(len(broker_connections(pid, kafka.bootstrap_servers)))
            time.sleep(2)

    threading.Thread(target=sample_connections, daemon=True).start()
    warmup_started = time.monotonic()
    while not measuring.value:
        time.sleep(0.25)
        for pid in pids:
            rss[pid].append((warmup_started - time.monotonic(), rss_mb(pid)))
    parts = {f"server_{i}": pid for i, pid in enumerate(pids)}
    parts.update({f"client_{i}": p.pid for i, p in enumerate(clients)})
    parts["producer_and_reference"] = producer.pid
    parts["kafka"] = kafka.nodes[0].process.pid
    if redis is not None:
        parts["redis"] = redis.pid
    profiler = None
    if os.environ.get("TAIL_PROFILE"):  # py-spy's collapsed stacks of the first server:
        # TAIL_PROFILE=/tmp/prof writes /tmp/prof-<topic>.txt per run
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-p",
                str(pids[0]),
                "-d",
                str(cfg.seconds),
                "-r",
                "50",
            ]
            + ["--format", "raw", "-o", f"{os.environ['TAIL_PROFILE']}-{cfg.topic}.txt"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
    before = {name: cpu_s(p) for name, p in parts.items()}
    load_before = os.getloadavg()[0]
    cpu: dict[str, float] = {}
    started = time.monotonic()
    for pid in pids:
        rss[pid].append((0.0, rss_mb(pid)))
    while time.monotonic() - started < cfg.seconds + 3:
        time.sleep(0.5)
        for pid in pids:
            rss[pid].append((time.monotonic() - started, rss_mb(pid)))
        if time.monotonic() - started <= cfg.seconds:
            for name, p in parts.items():
                with contextlib.suppress(OSError):
                    cpu[name] = round(cpu_s(p) - before[name], 1)
    measured_s = min(time.monotonic() - started, cfg.seconds)
    if profiler is not None:
        profiler.wait(60)
    stop.set()
    reports = []
    for _ in clients:
        kind, what = out.get(timeout=120)
        reports += what
    for p in clients:
        p.join(30)
    reference = results.get(timeout=120)
    producer.join(30)

    latencies = array.array("d")
    first_rows = array.array("d")
    measured_viewers = 0
    for r in reports:
        lat = array.array("d")
        lat.frombytes(r["latencies"])
        if lat:
            measured_viewers += 1
        latencies.extend(lat)
        first_rows.frombytes(r["first_row"])
    sent = reference["sent"]
    received = [r["rows"] for r in reports]
    dropped = sum(r["skipped"] for r in reports)
    lost = sum(sent - r["rows"] - r["skipped"] for r in reports)
    behind = sum(1 for r in reports if r["skipped"])
    dropped_run = [r["skipped"] - r["skipped_before_run"] for r in reports]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    rss_10 = {pid: next(mb for t, mb in rss[pid] if t >= 10) for pid in pids}
    rss_end = {pid: rss[pid][-1][1] for pid in pids}
    server_cpu = sum(v for k, v in cpu.items() if k.startswith("server_"))
    client_cpu = sum(v for k, v in cpu.items() if k.startswith("client_"))
    return {
        "viewers": cfg.viewers,
        "rate_msgs_per_s": cfg.rate,
        "server_processes": cfg.processes,
        "channel_layer": "redis" if cfg.processes > 1 else "in-memory",
        "client_processes": cfg.client_processes,
        "seconds": cfg.seconds,
        "warmup_s": cfg.warmup_s,
        "messages_produced": sent,
        "kafka_consumers": max(r["max_consumers"] for r in reports),
        "p50_s": r4(p50),
        "p99_s": r4(p99),
        "p999_s": r4(percentile(latencies, 0.999)),
        "max_s": round(max(latencies), 4) if latencies else None,
        "latency_receipts": len(latencies),
        "latency_viewers": measured_viewers,
        "frame_first_row_p99_s": r4(percentile(first_rows, 0.99)),
        "dropped": dropped,
        "viewers_that_dropped": behind,
        # After the warm-up (200 handshakes and log-ins, a fresh consumer catching up):
        "dropped_in_measured_run": sum(dropped_run),
        "viewers_that_dropped_in_measured_run": sum(1 for d in dropped_run if d),
        "behind_at_end_s_max": round(max(r["behind_s"] for r in reports), 2),
        "unaccounted": lost,
        "viewer_errors": [r["error"] for r in reports if r["error"]][:5],
        "rows_received_per_viewer_min": min(received),
        "rows_delivered_per_s": round(sum(received) / (cfg.seconds + cfg.warmup_s)),
        "frame_bytes_per_row": round(sum(r["bytes"] for r in reports) / max(1, sum(received))),
        "frames_per_viewer_per_s": round(
            sum(r["frames"] for r in reports) / cfg.viewers / (cfg.seconds + cfg.warmup_s), 1
        ),
        "peak_rss_mb": round(max(mb for pid in pids for _t, mb in rss[pid]), 1),
        "rss_after_10s_mb": round(max(rss_10.values()), 1),
        "rss_end_mb": round(max(rss_end.values()), 1),
        "rss_end_over_rss_10s": round(max(rss_end[p] / rss_10[p] for p in pids), 3),
        "server_broker_connections_max": max(
            (max(c) for c in connections.values() if c), default=None
        ),
        "cpu_s_during_run": cpu,
        "cpu_percent": {
            "server": round(100 * server_cpu / measured_s, 1),
            "clients": round(100 * client_cpu / measured_s, 1),
            "machine": 100 * (os.cpu_count() or 1),
        },
        "load_average_during": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "reference": reference,
    }


# --- the suite -----------------------------------------------------------------------------


def _configs(argv: list[str] | None) -> tuple[list[RunConfig], bool, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tail", description=__doc__.split("\n")[0]
    )
    env = os.environ.get
    parser.add_argument("--viewers", type=int, default=int(env("TAIL_VIEWERS", "0")) or None)
    parser.add_argument("--rate", type=int, default=int(env("TAIL_RATE", "0")) or None)
    parser.add_argument("--seconds", type=int, default=int(env("TAIL_SECONDS", "30")))
    parser.add_argument("--processes", type=int, default=int(env("TAIL_PROCESSES", "1")))
    parser.add_argument("--clients", type=int, default=int(env("TAIL_CLIENTS", "0")))
    parser.add_argument("--measure-every", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="write this run to tail.json")
    parser.add_argument(
        "--only", type=int, action="append", help="run only these of the suite (0-3)"
    )
    args = parser.parse_args(argv)
    if args.viewers or args.rate:
        one = RunConfig(
            viewers=args.viewers or 20,
            rate=args.rate or 2000,
            seconds=args.seconds,
            processes=args.processes,
            clients=args.clients,
            measure_every=args.measure_every,
        )
        return [one], args.write, False
    if args.only:
        return [SUITE[i] for i in args.only], False, False
    return list(SUITE), True, True


def main(argv: list[str] | None = None) -> None:
    configs, write, suite = _configs(argv)
    os.environ["CONSOLE_TEST_SUBPROCESS"] = "1"  # the bench and its server share a database
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp(prefix="console-bench-")
    os.environ["CONSOLE_LOG_LEVEL"] = "WARNING"
    kafka = start_kafka()
    try:
        setup_django()
        from console.clusters import reset_clusters

        reset_clusters()
        session = logged_in_client("operator").cookies["sessionid"].value
        runs = []
        for cfg in configs:
            print(f"== tail: {cfg.label}", flush=True)
            try:
                figures = run(cfg, kafka, session)
            except RuntimeError as exc:  # viewers that did not get live: once more
                print(f"== tail: {cfg.label}: {exc}; again", flush=True)
                cfg = replace(cfg, attempt=cfg.attempt + 1)
                figures = run(cfg, kafka, session)
            figures["config"] = asdict(cfg)
            print(json.dumps(figures, indent=2), flush=True)
            runs.append(figures)
    finally:
        kafka.destroy()
    if write:
        _write(runs, suite)


def _write(runs: list[dict], suite: bool) -> None:
    main_run = runs[MAIN] if suite else runs[0]
    multi = runs[MULTI] if suite else None
    reference = main_run["reference"]
    for r in runs:  # each run's own reference consumer, in the same run
        ref = r.pop("reference")
        r["reference_p99_s"] = ref["reference_p99_s"]
        r["p99_over_reference_p99"] = ratio(r["p99_s"], ref["reference_p99_s"])
    write_result(
        "tail",
        {
            **{k: v for k, v in main_run.items() if k != "config"},
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "runs": [
                {
                    k: r[k]
                    for k in (
                        "viewers",
                        "rate_msgs_per_s",
                        "server_processes",
                        "channel_layer",
                        "client_processes",
                        "kafka_consumers",
                        "p50_s",
                        "p99_s",
                        "reference_p99_s",
                        "p99_over_reference_p99",
                        "frame_first_row_p99_s",
                        "dropped",
                        "viewers_that_dropped",
                        "dropped_in_measured_run",
                        "behind_at_end_s_max",
                        "rows_delivered_per_s",
                        "frame_bytes_per_row",
                        "frames_per_viewer_per_s",
                        "unaccounted",
                        "rss_end_over_rss_10s",
                        "peak_rss_mb",
                        "cpu_percent",
                        "cpu_s_during_run",
                        "load_average_during",
                        "latency_receipts",
                        "latency_viewers",
                    )
                }
                for r in runs
            ],
            "multi_process": multi,
            "server_settings": DEPLOYED,
        },
        reference={
            "what": "plain confluent-kafka consumer (assign at the end, separate process) "
            "on the same stream as the main run: produce timestamp to poll",
            **reference,
        },
        ratios={
            "p99_over_reference_p99": ratio(main_run["p99_s"], reference["reference_p99_s"]),
            "p50_over_reference_p50": ratio(main_run["p50_s"], reference["reference_p50_s"]),
            "rss_end_over_rss_10s": main_run["rss_end_over_rss_10s"],
        },
        targets={
            "p99_s": "< 0.25",
            "kafka_consumers": "== 1 per server process",
            "rss_end_over_rss_10s": "<= 1.10",
            "dropped": "0 for clients that keep up",
        },
        notes="Top-level figures: the main run (see runs[]); multi_process: the run over "
        "several web processes on Redis. Each run: one web process (console/serve.py) per server process, "
        "viewers in client processes (lean asyncio WebSocket clients), producer + "
        "reference consumer in another process, Kafka, all on one 2-core machine shared "
        "with other work (compare the reference and the load). Latency: produce "
        "(CreateTime) to receipt, every message of the measured run received by every "
        "measure_every-th viewer (latency_receipts), after the warm-up at the same rate; "
        "frame_first_row_p99_s: the oldest row of every frame of every viewer. The server "
        "sends each client a frame at most every 50 ms. dropped and unaccounted count the "
        "warm-up too; unaccounted (produced - received - skipped when the run stops) is "
        "what a tail that fell behind had not delivered yet (behind_at_end_s_max: how far "
        "behind its last frame was), 0 for one that keeps up. cpu_percent: CPU seconds "
        "of the measured run / its length (200 % is the whole machine). Latency is "
        "counted from every row received during the measured run, whenever produced: a "
        "tail that falls behind shows as latency. The hub delivers in process, so with "
        "Redis as the channel layer the tail sends nothing through Redis. server_settings: "
        "what the servers run differently from the tests' settings, as deployed.",
    )


if __name__ == "__main__":
    main()
