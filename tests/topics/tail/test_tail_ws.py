"""The live tail against the real broker and a real web process: order, no loss, one shared
consumer per process, per-viewer filters, back-pressure, roles and errors."""

from __future__ import annotations

import collections
import json
import re
import threading
import time

import pytest
import requests
from confluent_kafka.admin import AdminClient, NewPartitions

from tests.topics.tail.conftest import broker_connections, server_pid, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

KEY = re.compile(r'<td class="key"><code>(.*?)</code>')


def keys(client) -> list[str]:
    with client.lock:
        return [KEY.search(r).group(1) for r in client.rows]


def tail_page(base: str, session: str, topic: str) -> str:
    r = requests.get(
        f"{base}/clusters/local/topics/{topic}/tail/", cookies={"sessionid": session}, timeout=15
    )
    assert r.status_code == 200, r.status_code
    return r.text


def test_rows_arrive_in_order_per_partition_and_none_is_lost(topic_factory, produce, tail_client):
    t = topic_factory(partitions=3)
    produce(t, [{"value": b"before", "key": b"old"}] * 9)  # before the tail: never shown
    c = tail_client(t)
    assert c.wait_live()["partitions"] == 3
    n = 600
    produce(
        t,
        [
            {"key": f"k-{i}".encode(), "value": json.dumps({"n": i, "color": "red"}).encode()}
            for i in range(n)
        ],
    )
    c.wait_rows(n)
    time.sleep(0.5)  # nothing more arrives
    with c.lock:
        meta, skipped = list(c.meta), c.skipped
    assert len(meta) == n and skipped == 0
    by_partition = collections.defaultdict(list)
    for p, offset, ts in meta:
        by_partition[p].append(offset)
        assert ts is not None
    before = {0: 0, 1: 0, 2: 0}
    for p, offsets in by_partition.items():
        # Consecutive offsets: in order, none lost, none repeated.
        first = offsets[0]
        assert offsets == list(range(first, first + len(offsets))), p
        before[p] = first
    assert sum(before.values()) == 9  # everything produced before the tail was skipped
    assert sorted(keys(c)) == sorted(f"k-{i}" for i in range(n))
    assert all(r.startswith('<tr class="msg"') and "&quot;color&quot;" in r for r in c.rows)


def test_two_viewers_share_one_consumer_which_stops_when_the_last_leaves(
    kafka, topic_factory, produce, tail_client, session_for, asgi_server
):
    t = topic_factory(partitions=2)
    pid = server_pid(asgi_server)
    session, _user = session_for("operator")
    assert "No viewer in this process" in tail_page(asgi_server, session, t)
    baseline = broker_connections(pid, kafka.bootstrap_servers)

    a = tail_client(t, session=session)
    status = a.wait_live()
    assert (status["viewers"], status["consumers"]) == (1, 1)
    # new connections (by local port): the admin client's own may come and go meanwhile
    wait_until(
        lambda: broker_connections(pid, kafka.bootstrap_servers) - baseline,
        30,
        "the consumer's connections",
    )
    time.sleep(1)
    with_one = broker_connections(pid, kafka.bootstrap_servers)

    b = tail_client(t)
    b.wait_live()
    for c in (a, b):
        c.wait(lambda c: c.status.get("viewers") == 2, 10, "two viewers")
        assert c.status["consumers"] == 1
        assert "2 viewers in this process share 1 Kafka consumer" in c.status["summary"]
    assert "2 viewers in this process share 1 Kafka consumer" in tail_page(asgi_server, session, t)
    # The broker's view: the second viewer opened no connection of its own, and no
    # consumer group exists for the tail.
    assert not broker_connections(pid, kafka.bootstrap_servers) - with_one
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    groups = admin.list_consumer_groups().result(10).valid
    assert not [g.group_id for g in groups if g.group_id.startswith("kafka-console-tail")]

    produce(t, [{"key": f"k-{i}".encode(), "value": b"v"} for i in range(50)])
    a.wait_rows(50)
    b.wait_rows(50)
    assert sorted(keys(a)) == sorted(keys(b))

    a.close()
    b.wait(lambda c: c.status.get("viewers") == 1, 10, "one viewer left")
    assert b.status["consumers"] == 1
    b.close()
    wait_until(
        lambda: "No viewer in this process" in tail_page(asgi_server, session, t),
        10,
        "the tail to stop",
    )
    consumer_ports = with_one - baseline
    wait_until(
        lambda: not consumer_ports & broker_connections(pid, kafka.bootstrap_servers),
        30,
        "the consumer to leave the broker",
    )


def test_filters_apply_per_viewer(topic_factory, produce, tail_client):
    t = topic_factory(partitions=3)
    colors = ["red", "blue", "green"]
    everyone = tail_client(t)
    reds = tail_client(t, query="q=red&field=value&kind=contains")
    partition_1 = tail_client(t, query="partitions=1")
    blues = tail_client(
        t, query="q=" + requests.utils.quote('$.color == "blue"') + "&kind=jsonpath"
    )
    regex_key = tail_client(
        t, query="q=" + requests.utils.quote("^k-1[0-9]$") + "&field=key&kind=regex"
    )
    header = tail_client(t, query="q=yes&field=header&header=flag&partitions=0,2")
    for c in (everyone, reds, partition_1, blues, regex_key, header):
        c.wait_live()
    msgs = [
        {
            "key": f"k-{i}".encode(),
            "value": json.dumps({"n": i, "color": colors[i % 3]}).encode(),
            "partition": i % 3,
            "headers": [("flag", b"yes" if i % 2 else b"no")],
        }
        for i in range(60)
    ]
    produce(t, msgs)
    everyone.wait_rows(60)
    expected = {
        reds: {i for i in range(60) if colors[i % 3] == "red"},
        partition_1: {i for i in range(60) if i % 3 == 1},
        blues: {i for i in range(60) if colors[i % 3] == "blue"},
        regex_key: set(range(10, 20)),
        header: {i for i in range(60) if i % 2 and i % 3 in (0, 2)},
    }
    for c, want in expected.items():
        c.wait_rows(len(want))
    time.sleep(0.5)
    for c, want in expected.items():
        assert sorted(keys(c)) == sorted(f"k-{i}" for i in want), c.ws.request.path
        assert c.skipped == 0


def test_slow_viewer_sees_skipped_messages_while_a_fast_one_sees_everything(
    topic_factory, produce, tail_client
):
    from topics.tail.consumers import BUFFER, FRAME_MAX, WINDOW

    t = topic_factory(partitions=2)
    fast = tail_client(t)
    slow = tail_client(t)
    slow.acking(False)  # a page that cannot keep up: it never says it has shown a batch
    fast.wait_live()
    slow.wait_live()
    n = 8000
    payload = b"x" * 200

    def stream() -> None:
        # A busy topic (about 2,500 messages/s), not one instant burst: a page that keeps up
        # with a stream misses nothing, while 8,000 rows exceed what a page that never
        # acknowledges may be held (WINDOW frames in flight and BUFFER rows).
        for start in range(0, n, 250):
            produce(
                t, [{"key": str(i).encode(), "value": payload} for i in range(start, start + 250)]
            )
            time.sleep(0.1)

    sender = threading.Thread(target=stream)
    sender.start()
    sender.join()
    fast.wait_rows(n, timeout=60)
    # The slow page got at most WINDOW frames; the server holds at most BUFFER rows for it.
    time.sleep(1)
    with slow.lock:
        assert slow.frames <= WINDOW
        early = len(slow.rows)
    assert early <= WINDOW * FRAME_MAX
    slow.acking(True)  # it catches up: what was held arrives, with the count of the rest
    slow.wait(lambda c: len(c.rows) + c.skipped == n, 30, "slow viewer's accounting")
    time.sleep(0.5)
    with slow.lock:
        received, skipped = len(slow.rows), slow.skipped
    assert skipped > 0
    assert received + skipped == n  # every message either shown or counted as skipped
    assert received <= early + BUFFER
    with fast.lock:
        assert fast.skipped == 0 and len(fast.rows) == n
        per_p = collections.defaultdict(list)
        for p, o, _ts in fast.meta:
            per_p[p].append(o)
    for offsets in per_p.values():
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


@pytest.mark.parametrize("role", [None, "viewer"])
def test_roles_below_operator_are_refused(topic_factory, tail_client, role):
    t = topic_factory(partitions=1)
    c = tail_client(t, role)
    c.wait_closed()
    assert c.close_code == 4403
    assert c.error["code"] == "forbidden" and "operator role" in c.error["message"]
    assert not c.rows


def test_a_bad_filter_is_refused_with_its_reason(topic_factory, tail_client):
    t = topic_factory(partitions=1)
    c = tail_client(t, query="q=%28unclosed&kind=regex")
    c.wait_closed()
    assert c.close_code == 4400
    assert "regular expression" in c.error["message"]


def test_a_deleted_topic_reaches_the_page_and_releases_the_consumer(
    kafka, topic_factory, tail_client, session_for, asgi_server
):
    t = topic_factory(partitions=2)
    session, _ = session_for("operator")
    c = tail_client(t, session=session)
    c.wait_live()
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.delete_topics([t])[t].result(20)
    c.wait_closed(30)
    assert c.close_code == 4404
    assert c.error["code"] == "not_found" and "deleted" in c.error["message"]
    r = requests.get(
        f"{asgi_server}/clusters/local/topics/{t}/tail/", cookies={"sessionid": session}, timeout=15
    )
    assert r.status_code == 404


def test_an_unknown_topic_is_reported(tail_client):
    c = tail_client("no-such-topic-for-the-tail")
    c.wait_closed(30)
    assert c.close_code == 4404


def test_partitions_added_while_tailing_are_picked_up(kafka, topic_factory, produce, tail_client):
    t = topic_factory(partitions=1)
    c = tail_client(t)
    c.wait_live()
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_partitions([NewPartitions(t, 3)])[t].result(20)
    c.wait(lambda c: c.status.get("partitions") == 3, 20, "three partitions")
    produce(t, [{"key": f"k-{p}".encode(), "value": b"v", "partition": p} for p in (0, 1, 2)])
    c.wait_rows(3)
    assert sorted(p for p, _o, _t in c.meta) == [0, 1, 2]


def test_permission_lost_while_tailing_stops_the_tail(topic_factory, tail_client, session_for):
    from console.access import grant_role

    t = topic_factory(partitions=1)
    session, user = session_for("operator")
    c = tail_client(t, session=session)
    c.wait_live()
    grant_role(user, "viewer")
    c.wait_closed(20)
    assert c.close_code == 4403
    assert "Permission lost" in c.error["message"]


def test_contents_are_escaped_in_tail_rows(topic_factory, produce, tail_client):
    t = topic_factory(partitions=1)
    c = tail_client(t)
    c.wait_live()
    produce(
        t, [{"key": b"<b>k</b>", "value": b"<script>alert(1)</script>", "headers": [("h", b"<i>")]}]
    )
    c.wait_rows(1)
    row = c.rows[0]
    assert "<script>" not in row and "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert "<b>k</b>" not in row and "<i>" not in row


def test_provider_role_change_at_the_next_log_in_stops_an_open_tail(
    topic_factory, tail_client, session_for, settings
):
    """A provider user (LDAP, OIDC) tails as an operator; at their next log-in the
    provider's groups map to viewer only, and the open tail stops: the watch reads the
    same role groups the log-in decided."""
    from console.access import set_cluster_roles
    from console.identity import apply_external_role

    settings.CONSOLE_ROLE_MAP = {"kafka-operators": "operator", "kafka-viewers": "viewer"}
    settings.CONSOLE_CLUSTER_ROLE_MAP = {"local-ops": {"local": "operator"}}
    t = topic_factory(partitions=1)
    session, user = session_for("viewer")
    assert apply_external_role(user, ["kafka-viewers", "local-ops"], "oidc") == "viewer"
    c = tail_client(t, session=session)
    c.wait_live()  # an operator on this cluster only: the tail is open
    assert apply_external_role(user, ["/kafka-viewers"], "oidc") == "viewer"
    c.wait_closed(20)
    assert c.close_code == 4403
    assert "Permission lost" in c.error["message"]
    set_cluster_roles(user, {})


def test_frames_are_not_deflated_again_per_viewer(topic_factory, asgi_server, session_for):
    """Browsers offer permessage-deflate; the server declines it (rows frames are compressed
    once for all viewers)."""
    from websockets.sync.client import connect

    name = topic_factory(partitions=1)
    url = "ws" + asgi_server[len("http") :] + f"/ws/clusters/local/topics/{name}/tail/"
    with connect(
        url,
        additional_headers={"Cookie": f"sessionid={session_for('operator')[0]}"},
        origin=asgi_server,
        open_timeout=15,
    ) as ws:  # compression="deflate", the default, offers it
        assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
