"""The fast search path (console.kafka.fetch) finds on a real broker exactly what the
consumer scan finds, with the same counts and positions: every codec, keys, headers,
non-UTF-8 bytes, tricky needles, starts and ends inside batches, a scan budget, response
limits smaller than a batch, transactions (committed and aborted), compaction, deleted
records, log-append time; and it hands over to the consumer scan when it cannot go on."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from console.clusters import get_cluster
from console.kafka import fetch, messages
from console.kafka.connection import Connection
from console.kafka.offsets import watermarks
from console.messages.filters import Condition, MessageFilter
from console.messages.needles import needles_for

pytestmark = pytest.mark.kafka

NEEDLE_VALUES = [
    b'{"page": "/checkout", "note": "Needle in JSON"}',
    b'{"page": "\\/checkout", "note": "say \\"hi\\""}',
    '{"page": "/caf\u00e9", "note": "CAF\u00c9 \u212aelvin"}'.encode(),
    b"plain text with a NEEDLE and back\\slash",
    b"\xff\xfe binary needle \x00\x01",
    b"nothing to see here",
    b"",
]

FILTERS = [
    ("value", "contains", "needle", True),
    ("value", "contains", "Needle", False),
    ("value", "contains", "kelvin", True),
    ("value", "contains", 'say \\"hi', True),
    ("value", "contains", "café", True),
    ("value", "contains", "back\\slash", True),
    ("key", "contains", "key-1", True),
    ("header", "contains", "trace-7", True),
    ("any", "contains", "needle", True),
    ("value", "regex", r"ne+dle\s+in", True),
    ("value", "jsonpath", '$.page == "/checkout"', True),
]


def _filter(field, kind, expr, ic) -> MessageFilter:
    return MessageFilter((Condition.build(field, kind, expr, header="trace", ignore_case=ic),))


def _records(n: int):
    for i in range(n):
        yield {
            "key": f"key-{i % 13}".encode() if i % 5 else None,
            "value": NEEDLE_VALUES[i % len(NEEDLE_VALUES)],
            "headers": [("trace", f"trace-{i % 11}".encode()), ("bin", b"\xff\x00")]
            if i % 3
            else None,
        }


def _produce(bootstrap: str, topic: str, records, **conf) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, **conf})
    for i, r in enumerate(records):
        p.produce(topic, partition=i % 3, **r)
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(30) == 0


def _ranges(cluster, topic: str, partitions=range(3)) -> dict[int, tuple[int, int]]:
    marks = watermarks(cluster, [(topic, p) for p in partitions])
    return {p: (m.low, m.high) for (_t, p), m in marks.items()}


def _collect(gen, flt):
    out, state = [], None
    for batch, state in gen:  # noqa: B007 - the last state is returned
        out += [m for m in batch if flt.matches(m)]
    return sorted(out, key=lambda m: (m.partition, m.offset)), state


def _no_fallback(*_a, **_k):
    raise AssertionError("the fast path handed over to the consumer scan")


def compare(cluster, topic, ranges, flt, monkeypatch, *, max_records=None, fast_only=True):
    """The matches, scanned counts and positions of both scans; they must agree. With a
    budget, the fast scan's matches are the full scan's below the positions it reached
    (which partitions a budget leaves unread differs between the two)."""
    slow, s_state = _collect(
        messages.scan(cluster, topic, ranges, deadline=time.monotonic() + 30), flt
    )
    needles = needles_for(flt)
    assert needles is not None, flt
    with monkeypatch.context() as m:
        if fast_only:
            m.setattr(fetch, "_slow", _no_fallback)
        fast, f_state = _collect(
            fetch.scan(
                cluster,
                topic,
                ranges,
                deadline=time.monotonic() + 30,
                max_records=max_records,
                needles=needles,
            ),
            flt,
        )
    if max_records is not None:
        assert f_state.scanned == min(max_records, s_state.scanned)
        slow = [m for m in slow if m.offset < f_state.positions[m.partition]]
        assert fast == slow
        return slow
    assert fast == slow
    assert f_state.scanned == s_state.scanned
    assert f_state.done == s_state.done
    if s_state.done:
        assert f_state.positions == s_state.positions
    return slow


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_codec_finds_what_the_consumer_finds(kafka, topic_factory, codec, monkeypatch):
    topic = topic_factory()
    _produce(kafka.bootstrap_servers, topic, _records(900), **{"compression.type": codec})
    cluster = get_cluster("local")
    ranges = _ranges(cluster, topic)
    found = 0
    for spec in FILTERS:
        found += len(compare(cluster, topic, ranges, _filter(*spec), monkeypatch))
    assert found > 500
    flt = _filter(*FILTERS[0])
    # Starts and ends inside batches, and a scan budget that ends inside one.
    inner = {p: (s + 7, e - 5) for p, (s, e) in ranges.items()}
    compare(cluster, topic, inner, flt, monkeypatch)
    compare(cluster, topic, ranges, flt, monkeypatch, max_records=401)


@pytest.mark.parametrize(
    ("producer", "max_bytes", "partition_max_bytes"),
    [
        ({"compression.type": "lz4"}, 300, 200),  # every batch larger than the limits
        # Many one-record batches per response (read without pipelining), cut at its end.
        ({"linger.ms": 0, "batch.num.messages": 1}, 40_000, 30_000),
    ],
)
def test_responses_cut_anywhere_still_read_every_record(
    kafka, topic_factory, monkeypatch, producer, max_bytes, partition_max_bytes
):
    topic = topic_factory()
    _produce(kafka.bootstrap_servers, topic, _records(600), **producer)
    cluster = get_cluster("local")
    monkeypatch.setattr(fetch, "MAX_BYTES", max_bytes)
    monkeypatch.setattr(fetch, "PARTITION_MAX_BYTES", partition_max_bytes)
    many = fetch._many_batches
    seen = []
    monkeypatch.setattr(fetch, "_many_batches", lambda blob: seen.append(many(blob)) or seen[-1])
    compare(cluster, topic, _ranges(cluster, topic), _filter(*FILTERS[0]), monkeypatch)
    compare(
        cluster, topic, _ranges(cluster, topic), _filter(*FILTERS[0]), monkeypatch, max_records=77
    )


def test_transactions_aborted_records_are_never_found(kafka, topic_factory, monkeypatch):
    topic = topic_factory()
    bs = kafka.bootstrap_servers
    tx = Producer({"bootstrap.servers": bs, "transactional.id": f"tx-{topic}", "linger.ms": 5})
    tx.init_transactions(30)
    plain = Producer({"bootstrap.servers": bs})
    for round_ in range(6):
        tx.begin_transaction()
        for i in range(40):
            word = "committed-needle" if round_ % 2 == 0 else "aborted-needle"
            tx.produce(topic, partition=i % 3, value=f"{word} {round_}/{i}".encode())
            if i % 10 == 0:  # interleaved with records outside the transaction
                plain.produce(topic, partition=i % 3, value=f"plain needle {round_}/{i}".encode())
                plain.flush(10)
        assert tx.flush(30) == 0  # aborted records are written, then marked aborted
        if round_ % 2 == 0:
            tx.commit_transaction(30)
        else:
            tx.abort_transaction(30)
    cluster = get_cluster("local")
    ranges = _ranges(cluster, topic)
    found = compare(
        cluster, topic, ranges, _filter("value", "contains", "needle", True), monkeypatch
    )
    assert len(found) == 3 * 40 + 6 * 4
    assert not any(b"aborted" in m.value for m in found)
    inner = {p: (s + 3, e - 2) for p, (s, e) in ranges.items()}
    compare(cluster, topic, inner, _filter("value", "contains", "needle", True), monkeypatch)


def test_records_deleted_before_the_start_move_it_to_the_log_start(
    kafka, topic_factory, monkeypatch
):
    topic = topic_factory()
    _produce(kafka.bootstrap_servers, topic, _records(300))
    cluster = get_cluster("local")
    ranges = _ranges(cluster, topic)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    futures = admin.delete_records([TopicPartition(topic, 0, 40)])
    for f in futures.values():
        f.result(30)
    # The ranges still start at 0 (taken before the deletion), as a search cursor would.
    compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)


def test_log_append_time_and_empty_ranges(kafka, topic_factory, monkeypatch):
    topic = topic_factory(config={"message.timestamp.type": "LogAppendTime"})
    _produce(kafka.bootstrap_servers, topic, _records(200))
    cluster = get_cluster("local")
    ranges = _ranges(cluster, topic)
    found = compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)
    assert found and all(m.timestamp_type == "log-append" for m in found)
    ranges[1] = (ranges[1][1], ranges[1][1])
    compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)


@pytest.mark.slow
def test_compacted_topic_with_gaps(kafka, topic_factory, monkeypatch):
    topic = topic_factory(
        config={
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.001",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "0",
        }
    )
    bs = kafka.bootstrap_servers
    cluster = get_cluster("local")
    deadline = time.monotonic() + 90
    while True:
        # Keys written again and again: compaction keeps the last of each, leaving gaps.
        _produce(
            bs,
            topic,
            (
                {"key": f"k{i % 7}".encode(), "value": json.dumps({"n": f"needle {i}"}).encode()}
                for i in range(60)
            ),
        )
        ranges = _ranges(cluster, topic)
        seen = 0
        for _b, st in messages.scan(cluster, topic, ranges, deadline=time.monotonic() + 10):
            seen = st.scanned
        offsets = sum(e - s for s, e in ranges.values())
        if seen < offsets:
            break
        assert time.monotonic() < deadline, "the log cleaner never compacted the topic"
        time.sleep(2)
    # Compaction off, and the log left to settle: both scans must see the same log.
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    admin = AdminClient({"bootstrap.servers": bs})
    change = ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", topic, incremental_configs=[change])
    for f in admin.incremental_alter_configs([resource]).values():
        f.result(30)
    flt = _filter(*FILTERS[0])
    before = None
    while True:
        now = _collect(messages.scan(cluster, topic, ranges, deadline=time.monotonic() + 10), flt)
        if before is not None and now[0] == before[0]:
            break
        assert time.monotonic() < deadline + 60, "the compacted log never settled"
        before = now
        time.sleep(3)
    compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)
    inner = {p: (s + 1, e - 1) for p, (s, e) in ranges.items()}
    compare(cluster, topic, inner, _filter(*FILTERS[0]), monkeypatch)


def test_an_error_midway_hands_the_rest_to_the_consumer_scan(kafka, topic_factory, monkeypatch):
    topic = topic_factory()
    _produce(kafka.bootstrap_servers, topic, _records(600))
    cluster = get_cluster("local")
    real = fetch._Reader.read
    calls = []

    def failing(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise fetch._Unsupported("not leader any more")
        return real(self, *a, **k)

    monkeypatch.setattr(fetch._Reader, "read", failing)
    compare(
        cluster, topic, _ranges(cluster, topic), _filter(*FILTERS[0]), monkeypatch, fast_only=False
    )
    assert len(calls) >= 2


def test_settings_it_does_not_speak_go_to_the_consumer_scan():
    for props in (
        {"security.protocol": "SASL_SSL"},  # GSSAPI, librdkafka's default mechanism
        {"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"},
        {"security.protocol": "SSL", "ssl.keystore.location": "/x.p12"},
    ):
        sec, why = fetch.security_for(Connection("c", "h:1", props))
        assert sec is None and why
    for props in (
        {},
        {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
        {"security.protocol": "ssl", "ssl.ca.location": "/ca.pem", "client.id": "x"},
        {"security.protocol": "SSL", "ssl.ca.pem": "-----BEGIN"},  # read when connecting
    ):
        assert fetch.security_for(Connection("c", "h:1", props))[0] is not None


def test_unknown_topic_goes_to_the_consumer_scan(kafka, monkeypatch):
    cluster = get_cluster("local")
    used = []
    monkeypatch.setattr(fetch, "_slow", lambda *a, **k: iter(used.append(1) or [([], None)]))
    list(
        fetch.scan(
            cluster,
            "no-such-topic-xyz",
            {0: (0, 5)},
            deadline=time.monotonic() + 5,
            needles=needles_for(_filter(*FILTERS[0])),
        )
    )
    assert used


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory):
    from tools.kafka.local import LocalKafka

    k = LocalKafka(
        tmp_path_factory.mktemp("fastscan-secure"),
        nodes=1,
        scram_users={"console": "fast-pw-1"},
        tls=True,
    )
    k.start()
    yield k
    k.destroy()


@pytest.mark.slow
@pytest.mark.parametrize("listener", ["sasl", "tls", "tls-pem"])
def test_scram_and_tls_clusters_use_the_fast_path(secure_kafka, listener, monkeypatch):
    admin = AdminClient({"bootstrap.servers": secure_kafka.bootstrap_servers})
    topic = f"secure-{listener}"
    from confluent_kafka.admin import NewTopic

    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    time.sleep(0.5)
    _produce(secure_kafka.bootstrap_servers, topic, _records(300))
    if listener == "sasl":
        cluster = Connection(
            "sasl",
            secure_kafka.sasl_bootstrap_servers,
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "console",
                "sasl.password": "fast-pw-1",
            },
        )
    elif listener == "tls":
        cluster = Connection(
            "tls",
            secure_kafka.ssl_bootstrap_servers,
            {"security.protocol": "SSL", "ssl.ca.location": str(secure_kafka.ca_file)},
        )
    else:  # the CA as PEM text, as a deployment passes it from its secrets store
        cluster = Connection(
            "tls-pem",
            secure_kafka.ssl_bootstrap_servers,
            {"security.protocol": "SSL", "ssl.ca.pem": secure_kafka.ca_file.read_text()},
        )
    ranges = _ranges(cluster, topic)
    assert len(compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)) > 50


@pytest.mark.kafka3
def test_partitions_led_by_several_brokers_are_fetched_from_each(
    kafka3, topic_factory, monkeypatch
):
    topic = topic_factory(partitions=6, replication=2, bootstrap=kafka3.bootstrap_servers)
    md = AdminClient({"bootstrap.servers": kafka3.bootstrap_servers}).list_topics(topic, timeout=10)
    assert len({p.leader for p in md.topics[topic].partitions.values()}) > 1
    p = Producer({"bootstrap.servers": kafka3.bootstrap_servers, "linger.ms": 20})
    for i, r in enumerate(_records(600)):
        p.produce(topic, partition=i % 6, **r)
    assert p.flush(30) == 0
    cluster = get_cluster("triple")
    ranges = _ranges(cluster, topic, range(6))
    assert len(compare(cluster, topic, ranges, _filter(*FILTERS[0]), monkeypatch)) > 100
