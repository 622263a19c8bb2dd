"""Live tail: 20 WebSocket viewers of one topic at 2,000 messages/s for 30 s.

A real Daphne serves the console (in-memory channel layer, as in the demo); 20 clients
log in with a session cookie and tail one 6-partition topic, acknowledging each batch like
tail.js does. A separate process produces at a steady 2,000 messages/s (linger 5 ms):
10 s of warm-up (a fresh JVM and server), then the measured 30 s. As the reference it
runs a plain confluent-kafka consumer assigned to the same partitions at the end: its
produce-to-receipt latency is what Kafka alone costs on this machine, in the same run.

Figures: Kafka consumers the server ran for the topic (the hub's count, reported to every
client; and the server's TCP connections to the broker), p50/p99 latency from each
message's produce timestamp to its receipt by a client (all clients, every message of the
measured 30 s), messages dropped (the "skipped" counts the server reported; unaccounted =
produced - received - skipped must be 0), the server's peak RSS, and RSS after 10 s of the
measured run and at its end (memory must stay flat: end within 10 % of the 10 s figure).
Targets: p99 < 0.25 s, 1 consumer per server process, RSS end / RSS at 10 s <= 1.10.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

from bench.common import logged_in_client, setup_django, start_kafka, write_result

VIEWERS = 20
RATE = 2000  # messages per second
SECONDS = 30
WARMUP_S = 10  # the same rate before the measured run: a fresh JVM and server warm up
PARTITIONS = 6
TOPIC = "tail-bench"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _produce_and_reference(bootstrap: str, ready, measuring, results) -> None:
    """Child process: the steady producer (warm-up, then the measured run) and the
    reference consumer."""
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-reference",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(TOPIC, p, OFFSET_END) for p in range(PARTITIONS)])
    consumer.consume(100, 2.0)  # resolve the end offsets before producing
    latencies: list[float] = []
    done = threading.Event()
    total = RATE * (WARMUP_S + SECONDS)
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
        if elapsed >= WARMUP_S and not measuring.value:
            measuring.value = time.time()
        if elapsed >= WARMUP_S + SECONDS:
            break
        due = min(total, int((elapsed + tick) * RATE))
        while sent < due:
            value = json.dumps(
                {"seq": sent, "user": f"u{sent % 997}", "page": pages[sent % 5], "ms": 12.5}
            )
            producer.produce(TOPIC, key=f"user-{sent % 997}".encode(), value=value.encode())
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
            "reference_p50_s": round(percentile(latencies, 0.50), 4),
            "reference_p99_s": round(percentile(latencies, 0.99), 4),
        }
    )


class Viewer:
    def __init__(self) -> None:
        # Produce timestamps and receipt times, in arrays: a million tuples would make the
        # collector's full passes pause this process, and the pauses count as latency.
        self.produced = array.array("d")
        self.received = array.array("d")
        self.rows = 0
        self.skipped = 0
        self.status: dict = {}
        self.max_consumers = 0
        self.error: dict | None = None

    async def run(self, url: str, session: str, origin: str, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        async with connect(
            url,
            additional_headers={"Cookie": f"sessionid={session}"},
            origin=origin,
            max_size=None,
            compression=None,
            open_timeout=30,
        ) as ws:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.time()
                frame = json.loads(text)
                if frame["type"] == "rows":
                    meta = frame["meta"]
                    self.produced.extend([ts / 1000 for _p, _o, ts in meta])
                    self.received.extend([now] * len(meta))
                    self.rows += len(frame["rows"])
                    self.skipped = frame["skipped"]
                    await ws.send(json.dumps({"ack": frame["seq"]}))
                elif frame["type"] == "status":
                    self.status = frame
                    self.max_consumers = max(self.max_consumers, frame["consumers"])
                else:
                    self.error = frame
                    return


async def _run_viewers(
    base: str, session: str, pid: int, producer_ready, measuring, rss: list, cpu: dict
) -> list:
    url = "ws" + base[len("http") :] + f"/ws/clusters/bench/topics/{TOPIC}/tail/"
    stop = asyncio.Event()
    viewers = [Viewer() for _ in range(VIEWERS)]
    tasks = [asyncio.create_task(v.run(url, session, base, stop)) for v in viewers]
    deadline = time.monotonic() + 60
    while not all(
        v.status.get("state") == "live" and v.status.get("viewers") == VIEWERS for v in viewers
    ):
        errors = [v.error for v in viewers if v.error]
        assert not errors, errors
        assert time.monotonic() < deadline, [v.status for v in viewers]
        await asyncio.sleep(0.1)
    producer_ready.set()
    warmup_started = time.monotonic()
    while not measuring.value:  # warm-up: RSS sampled (peak) but not the reference
        await asyncio.sleep(0.25)
        rss.append((warmup_started - time.monotonic(), rss_mb(pid)))
    rss.append((0.0, rss_mb(pid)))
    before = {name: cpu_s(p) for name, p in cpu.items()}
    after: dict[str, float] = {}
    started = time.monotonic()
    while time.monotonic() - started < SECONDS + 3:
        await asyncio.sleep(0.5)
        rss.append((time.monotonic() - started, rss_mb(pid)))
        if time.monotonic() - started <= SECONDS:
            for name, p in cpu.items():
                with contextlib.suppress(OSError):
                    after[name] = round(cpu_s(p) - before[name], 1)
    cpu.update(after)
    stop.set()
    await asyncio.gather(*tasks)
    return viewers


def main() -> None:
    os.environ["CONSOLE_TEST_SUBPROCESS"] = "1"  # the bench and its server share a database
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp(prefix="console-bench-")
    os.environ["CONSOLE_LOG_LEVEL"] = "WARNING"
    kafka = start_kafka()
    server = None
    try:
        setup_django()
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import reset_clusters
        from tests.conftest import start_asgi_server
        from tests.topics.tail.conftest import broker_connections

        reset_clusters()
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(60)
        session = logged_in_client("operator").cookies["sessionid"].value
        server, base = start_asgi_server(Path(tempfile.mkdtemp(prefix="bench-daphne-")))
        pid = server.popen.pid

        ctx = multiprocessing.get_context("spawn")
        producer_ready, results = ctx.Event(), ctx.Queue()
        measuring = ctx.Value("d", 0.0)  # wall-clock start of the measured run
        child = ctx.Process(
            target=_produce_and_reference,
            args=(kafka.bootstrap_servers, producer_ready, measuring, results),
        )
        child.start()
        rss: list[tuple[float, float]] = []
        connections: list[int] = []

        def sample_connections() -> None:
            while child.is_alive() and len(connections) < 1000:
                connections.append(len(broker_connections(pid, kafka.bootstrap_servers)))
                time.sleep(2)

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        cpu = {
            "server": pid,
            "clients": os.getpid(),
            "producer_and_reference": child.pid,
            "kafka": kafka.nodes[0].process.pid,
        }
        viewers = asyncio.run(_run_viewers(base, session, pid, producer_ready, measuring, rss, cpu))
        reference = results.get(timeout=120)
        child.join(30)

        since = measuring.value
        latencies = [
            now - ts
            for v in viewers
            for ts, now in zip(v.produced, v.received, strict=True)
            if ts >= since
        ]
        sent = reference["sent"]
        received = [v.rows for v in viewers]
        dropped = sum(v.skipped for v in viewers)
        lost = sum(sent - v.rows - v.skipped for v in viewers)
        consumers = max(v.max_consumers for v in viewers)
        rss_10 = next(mb for t, mb in rss if t >= 10)
        rss_end = rss[-1][1]
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        write_result(
            "tail",
            {
                "viewers": VIEWERS,
                "rate_msgs_per_s": RATE,
                "seconds": SECONDS,
                "warmup_s": WARMUP_S,
                "messages_produced": sent,
                "kafka_consumers": consumers,
                "p50_s": round(p50, 4),
                "p99_s": round(p99, 4),
                "p999_s": round(percentile(latencies, 0.999), 4),
                "max_s": round(max(latencies), 4),
                "dropped": dropped,
                "unaccounted": lost,
                "rows_received_per_viewer_min": min(received),
                "peak_rss_mb": round(max(mb for _t, mb in rss), 1),
                "rss_after_10s_mb": round(rss_10, 1),
                "rss_end_mb": round(rss_end, 1),
                "rss_at_measured_start_mb": next(round(mb, 1) for t, mb in rss if t >= 0),
                "server_broker_connections_max": max(connections) if connections else None,
                "cpu_s_during_run": cpu,
                "load_average_at_end": round(os.getloadavg()[0], 2),
            },
            reference={
                "what": "plain confluent-kafka consumer (assign at the end, separate process) "
                "on the same stream: produce timestamp to poll",
                **reference,
            },
            ratios={
                "p99_over_reference_p99": round(p99 / reference["reference_p99_s"], 2),
                "p50_over_reference_p50": round(p50 / reference["reference_p50_s"], 2),
                "rss_end_over_rss_10s": round(rss_end / rss_10, 3),
            },
            targets={
                "p99_s": "< 0.25",
                "kafka_consumers": "== 1 per server process",
                "rss_end_over_rss_10s": "<= 1.10",
                "dropped": "0 for clients that keep up",
            },
            notes="In-memory channel layer, one Daphne process, 20 clients in the bench "
            "process (asyncio, websockets), producer + reference consumer in another process, "
            "Kafka, all on one 2-core machine (other work on it adds noise: compare the "
            "reference). Latency: produce (CreateTime) to receipt by a client, every message "
            f"of the measured {SECONDS} s for every client ({len(latencies)} receipts), after "
            f"{WARMUP_S} s of warm-up at the same rate; the server sends each client a frame "
            "at most every 50 ms. dropped and unaccounted count the warm-up too.",
        )
    finally:
        if server is not None:
            server.stop()
        kafka.destroy()


if __name__ == "__main__":
    main()
