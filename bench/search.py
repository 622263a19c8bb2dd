"""Message search on raw batches (console.kafka.fetch) vs kcat and plain confluent-kafka.

Fills a 12-partition topic with 1,000,000 JSON values of ~200 bytes (lz4, as librdkafka
batches them); 1% hold "Marker-1pct" and 10 hold "RareNeedle-9q" (in mixed case). Each
search scans the whole topic from the low to the high watermarks as one search chunk
does: console.kafka.fetch.scan with the needles console.messages.needles derives, every
candidate re-checked by the exact MessageFilter on the decoded value and presented
(decoded for display) like a match the page shows. Figures (messages of the topic per
second; median of ROUNDS, the references run in the same rounds):
- rare_msgs_per_s: substring "rareneedle-9q", ignoring case (10 matches);
- all_matches_msgs_per_s: substring "marker-1pct", ignoring case (all 10,000 matches);
- regex_msgs_per_s: regular expression `RareNeedle-\\d+q`, ignoring case (10 matches);
- jsonpath_msgs_per_s: `$.element == "RareNeedle-9q"` (10 matches);
- kcat_msgs_per_s: `kcat -C -e -q -o beginning` of the whole topic to /dev/null;
- confluent_consume_msgs_per_s: confluent-kafka consume(num_messages=1000) of every
  partition to its end, counting (no test);
- *_uncompressed: rare and kcat again on an uncompressed copy of the topic;
- browse_rare_msgs_per_s: the rare search as the page runs it, chunk by chunk
  (topics.browse.selectors.search_start and search_chunk, 1 s chunks, each connecting anew).
Targets: rare >= 1,000,000 msg/s; all matches, regex, JSON path >= 300,000 msg/s.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

from bench.common import setup_django, start_kafka, write_result

MESSAGES = 1_000_000
PARTITIONS = 12
ROUNDS = 3
RARE = "RareNeedle-9q"
MARKER = "Marker-1pct"


def _value(rng: random.Random, i: int) -> bytes:
    pages = ["/home", "/pricing", "/docs", "/checkout", "/blog", "/signup"]
    if i % 100_000 == 7:
        element = RARE if i % 200_000 == 7 else RARE.upper()  # mixed case
    elif i % 100 == 0:
        element = MARKER
    else:
        element = "toggle"
    value = {
        "user": f"u-{rng.randrange(5000)}",
        "page": rng.choice(pages),
        "element": element,
        "session": f"{rng.getrandbits(64):016x}",
        "ts": 1_700_000_000_000 + i,
        "agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
        "seq": i,
    }
    return json.dumps(value).encode()


def _fill(bootstrap: str, topic: str, compression: str, messages: int = MESSAGES) -> None:
    from confluent_kafka import Producer

    rng = random.Random(3)
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "compression.type": compression,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
        }
    )
    for i in range(messages):
        value = _value(rng, i)
        while True:
            try:
                p.produce(topic, key=value[10:16], value=value)
                break
            except BufferError:
                p.poll(0.05)
        if i % 5000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def _ranges(cluster, topic: str) -> dict[int, tuple[int, int]]:
    from console.kafka.offsets import watermarks

    marks = watermarks(cluster, [(topic, p) for p in range(PARTITIONS)])
    return {p: (m.low, m.high) for (_t, p), m in marks.items()}


def _search(cluster, topic: str, flt) -> tuple[float, int, int, bool]:
    """(seconds, scanned, matches, fast path used) of one whole-topic search."""
    from console.kafka import fetch
    from console.messages.decoding import decode
    from console.messages.needles import needles_for
    from console.messages.presenters import present

    t0 = time.perf_counter()
    ranges = _ranges(cluster, topic)
    needles = needles_for(flt)
    matches = []
    state = None
    for batch, state in fetch.scan(  # noqa: B007 - the last state is used below
        cluster, topic, ranges, deadline=time.monotonic() + 600, needles=needles
    ):
        for m in batch:
            value = decode(m.value)
            if flt.matches(m, value):
                matches.append(present(m, value=value))
    elapsed = time.perf_counter() - t0
    assert state is not None and state.done
    return elapsed, state.scanned, len(matches), needles is not None


def _browse(cluster, topic: str, flt) -> tuple[float, int, int]:
    """(seconds, scanned, matches) of a whole search run chunk by chunk like the page."""
    from topics.browse.selectors import Render, Seek, search_chunk, search_start

    t0 = time.perf_counter()
    cursor = search_start(cluster, topic, Seek(mode="oldest"))
    found = 0
    while True:
        chunk = search_chunk(cluster, topic, cursor, flt, Render())
        found += len(chunk.views)
        cursor = chunk.cursor
        if chunk.done or chunk.stopped:
            assert chunk.done, chunk.stopped
            return time.perf_counter() - t0, cursor.scanned, found


def _kcat(bootstrap: str, topic: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-o", "beginning"],
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - t0


def _consume(bootstrap: str, topic: str) -> tuple[float, int]:
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-search-raw",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
        }
    )
    t0 = time.perf_counter()
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    eof: set[int] = set()
    n = 0
    while len(eof) < PARTITIONS:
        for msg in c.consume(num_messages=1000, timeout=0.5):
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                continue
            n += 1
    elapsed = time.perf_counter() - t0
    c.close()
    return elapsed, n


CURVE_SIZES = (100_000, 1_000_000, 10_000_000)


def curve(sizes: tuple[int, ...] = CURVE_SIZES) -> None:
    """`python -m bench.search curve`: the rare search's rate (and kcat's, on the same
    topic) at each size, into search.json's "curve" (the rest of the file is kept)."""
    from bench.curves import record_curve

    kafka = start_kafka()
    try:
        setup_django(
            CONSOLE_SEARCH_MAX_MESSAGES=str(max(sizes) + 1),
            CONSOLE_SEARCH_MAX_RESULTS="20000",
            CONSOLE_SEARCH_MAX_SECONDS="1200",
        )
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import get_cluster, reset_clusters
        from console.messages.filters import Condition, MessageFilter

        reset_clusters()
        bs = kafka.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": bs})
        cluster = get_cluster("bench")
        rare = MessageFilter((Condition.build("value", "contains", RARE.lower()),))
        points = []
        for n in sizes:
            topic = f"curve-{n}"
            admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(60)
            time.sleep(1)
            t0 = time.perf_counter()
            _fill(bs, topic, "lz4", n)
            fill_s = time.perf_counter() - t0
            rounds = ROUNDS if n <= 1_000_000 else 1
            _search(cluster, topic, rare)  # warm
            search_s, kcat_s = [], []
            for _ in range(rounds):
                kcat_s.append(_kcat(bs, topic))
                s, scanned, found, fast = _search(cluster, topic, rare)
                assert fast and scanned == n, (scanned, n)
                assert found == len(range(7, n, 100_000)), found
                search_s.append(s)
            points.append(
                {
                    "messages": n,
                    "rare_msgs_per_s": round(n / statistics.median(search_s)),
                    "kcat_msgs_per_s": round(n / statistics.median(kcat_s)),
                    "search_s": [round(x, 3) for x in search_s],
                    "kcat_s": [round(x, 3) for x in kcat_s],
                    "rounds": rounds,
                    "fill_s": round(fill_s, 1),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                }
            )
            print(points[-1], flush=True)
            admin.delete_topics([topic])[topic].result(60)
        record_curve(
            "search",
            {
                "what": "rare substring (ignoring case) over the whole topic, as "
                "rare_msgs_per_s; kcat to /dev/null on the same topic in the same rounds",
                "partitions": PARTITIONS,
                "compression": "lz4",
                "points": points,
            },
        )
    finally:
        kafka.stop()


def main() -> None:
    if "curve" in sys.argv[1:]:
        sizes = os.environ.get("CURVE_SIZES")
        curve(tuple(int(x) for x in sizes.split(",")) if sizes else CURVE_SIZES)
        return
    if shutil.which("kcat") is None:
        raise SystemExit("kcat is not installed (Debian package kcat; tools/system-deps.sh)")
    kafka = start_kafka()
    try:
        setup_django(
            CONSOLE_SEARCH_MAX_MESSAGES="5000000",
            CONSOLE_SEARCH_MAX_RESULTS="20000",
            CONSOLE_SEARCH_MAX_SECONDS="600",
        )
        from confluent_kafka.admin import AdminClient, NewTopic

        from console.clusters import get_cluster, reset_clusters
        from console.messages.filters import Condition, MessageFilter

        reset_clusters()
        bs = kafka.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": bs})
        for f in admin.create_topics(
            [NewTopic("clicks", PARTITIONS, 1), NewTopic("clicks-plain", PARTITIONS, 1)]
        ).values():
            f.result(60)
        time.sleep(1)
        t0 = time.perf_counter()
        _fill(bs, "clicks", "lz4")
        fill_s = time.perf_counter() - t0
        _fill(bs, "clicks-plain", "none")
        cluster = get_cluster("bench")
        filters = {
            "rare": MessageFilter((Condition.build("value", "contains", RARE.lower()),)),
            "all_matches": MessageFilter((Condition.build("value", "contains", MARKER.lower()),)),
            "regex": MessageFilter((Condition.build("value", "regex", r"RareNeedle-\d+q"),)),
            "jsonpath": MessageFilter(
                (Condition.build("value", "jsonpath", f'$.element == "{RARE}"'),)
            ),
        }
        expected = {"rare": 10, "all_matches": 10_000, "regex": 10, "jsonpath": 5}
        times: dict[str, list[float]] = {k: [] for k in [*filters, "rare_plain", "browse"]}
        kcat_s, kcat_plain_s, consume_s = [], [], []
        _search(cluster, "clicks", filters["rare"])  # warm: imports, first connections
        for _ in range(ROUNDS):
            kcat_s.append(_kcat(bs, "clicks"))
            s, n = _consume(bs, "clicks")
            assert n == MESSAGES, n
            consume_s.append(s)
            for name, flt in filters.items():
                s, scanned, found, fast = _search(cluster, "clicks", flt)
                assert fast, f"{name}: no needles, so no fast path"
                assert scanned == MESSAGES, (name, scanned)
                assert found == expected[name], (name, found)
                times[name].append(s)
            s, scanned, found, _fast = _search(cluster, "clicks-plain", filters["rare"])
            assert scanned == MESSAGES and found == 10, (scanned, found)
            times["rare_plain"].append(s)
            kcat_plain_s.append(_kcat(bs, "clicks-plain"))
            s, scanned, found = _browse(cluster, "clicks", filters["rare"])
            assert scanned == MESSAGES and found == 10, (scanned, found)
            times["browse"].append(s)

        def rate(seconds: list[float]) -> int:
            return round(MESSAGES / statistics.median(seconds))

        rates = {name: rate(ts) for name, ts in times.items()}
        kcat = rate(kcat_s)
        kcat_plain = rate(kcat_plain_s)
        consume = rate(consume_s)
        write_result(
            "search",
            {
                "rare_msgs_per_s": rates["rare"],
                "all_matches_msgs_per_s": rates["all_matches"],
                "regex_msgs_per_s": rates["regex"],
                "jsonpath_msgs_per_s": rates["jsonpath"],
                "kcat_msgs_per_s": kcat,
                "confluent_consume_msgs_per_s": consume,
                "rare_uncompressed_msgs_per_s": rates["rare_plain"],
                "kcat_uncompressed_msgs_per_s": kcat_plain,
                "browse_rare_msgs_per_s": rates["browse"],
                "messages": MESSAGES,
                "partitions": PARTITIONS,
                "compression": "lz4 (the *_uncompressed figures: none)",
                "rounds": ROUNDS,
                "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
                "fill_s": round(fill_s, 1),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            reference={
                "kcat_s": [round(x, 3) for x in kcat_s],
                "kcat_uncompressed_s": [round(x, 3) for x in kcat_plain_s],
                "confluent_consume_s": [round(x, 3) for x in consume_s],
            },
            ratios={
                "rare_vs_kcat": round(rates["rare"] / kcat, 3),
                "all_matches_vs_kcat": round(rates["all_matches"] / kcat, 3),
                "regex_vs_kcat": round(rates["regex"] / kcat, 3),
                "jsonpath_vs_kcat": round(rates["jsonpath"] / kcat, 3),
                "rare_vs_confluent_consume": round(rates["rare"] / consume, 3),
                "rare_uncompressed_vs_kcat_uncompressed": round(
                    rates["rare_plain"] / kcat_plain, 3
                ),
            },
            targets={
                "rare_msgs_per_s": ">= 1000000",
                "all_matches_msgs_per_s": ">= 300000",
                "regex_msgs_per_s": ">= 300000",
                "jsonpath_msgs_per_s": ">= 300000",
            },
            notes="Search figures are whole-topic scans through console.kafka.fetch.scan, "
            "candidates re-checked by MessageFilter and presented, in process; "
            "browse_rare runs the page's search_chunk loop. Medians of the rounds; each "
            "round runs kcat, the confluent consume and every search in turn, on a 2-core "
            "machine shared with the broker.",
        )
    finally:
        kafka.stop()


if __name__ == "__main__":
    main()
