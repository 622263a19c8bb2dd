"""Dead-letter redrive and file import, against the real broker and a real Celery worker."""

import io
import json

import pytest
from django.urls import reverse

from console.clusters import get_cluster
from console.kafka.replay import read_ranges
from console.models import AuditEntry
from tests.conftest import wait_job

pytestmark = [pytest.mark.kafka, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def everything(topic: str, partitions: int):
    cluster = get_cluster("local")
    from console.kafka.offsets import watermarks

    marks = watermarks(cluster, [(topic, p) for p in range(partitions)], max_age=-1)
    return list(
        read_ranges(cluster, topic, {p: (0, marks[(topic, p)].high) for p in range(partitions)})
    )


def job_of(response):
    assert response.status_code == 302, response.content.decode()[-3000:]
    return response.url.rstrip("/").split("/")[-1]


def test_redrive_sends_each_record_to_its_topic_and_reports_the_rest(
    celery_worker, kafka, topic_factory, produce, client_for
):
    dlq = topic_factory(partitions=2)
    dest = [topic_factory(partitions=3) for _ in range(3)]
    records = []
    for i in range(30):
        t = dest[i % 3]
        name = "kafka_dlt-original-topic" if i % 2 else "x-original-topic"
        records.append(
            {
                "key": f"k{i}".encode(),
                "value": bytes([i, 0, 255]),
                "partition": i % 2,
                "headers": [(name, t.encode()), ("why", b"boom")],
            }
        )
    records.append({"key": b"none", "value": b"no header", "partition": 0})
    records.append(
        {
            "key": b"ghost",
            "value": b"x",
            "partition": 1,
            "headers": [("x-original-topic", b"no-such-topic-here")],
        }
    )
    produce(dlq, records)
    c = client_for("operator")
    r = c.post(
        reverse("topics:replay_redrive", args=["local", dlq]),
        {
            "header_names": "kafka_dlt-original-topic, x-original-topic",
            "marker_header": "x-redriven-from",
        },
    )
    assert r.status_code == 200, r.content.decode()[-3000:]
    html = r.content.decode()
    assert 'data-to-send="30"' in html and 'data-unrouted="2"' in html
    assert "no original-topic header" in html and "no-such-topic-here" in html
    for t in dest:
        assert t in html
    token = html.split('name="token" value="')[1].split('"')[0]
    job = wait_job(
        job_of(c.post(reverse("topics:replay_confirm", args=["local", dlq]), {"token": token}))
    )
    assert job.state == "succeeded", job.error
    assert job.result["delivered"] == 30 and job.result["unrouted"] == 2
    assert {u["why"] for u in job.result["unrouted_list"]} == {
        "no original-topic header",
        "unknown topic 'no-such-topic-here'",
    }
    for n, t in enumerate(dest):
        got = everything(t, 3)
        assert sorted(r[2] for r in got) == sorted(f"k{i}".encode() for i in range(n, 30, 3))
        for rec in got:
            i = int(rec[2][1:])
            assert rec[3] == bytes([i, 0, 255])
            assert rec[4][-1] == ("x-redriven-from", dlq.encode())
    assert AuditEntry.objects.filter(action="replay.redrive", outcome="ok").exists()


def test_download_then_import_gives_identical_bytes(
    celery_worker, kafka, topic_factory, produce, client_for
):
    src, dst = topic_factory(partitions=3), topic_factory(partitions=3)
    odd = [
        b"\xff\xfe\x00binary",
        "ünïcødé \u2028".encode(),
        b'{"a":  1, "b":[1,2]}',
        b"",
        None,
        b"\x00" * 5000,
        b"0x41 not hex",
    ]
    msgs = []
    for i, v in enumerate(odd * 3):
        msgs.append(
            {
                "key": None if i % 4 == 0 else bytes([i, 0xC3]),
                "value": v,
                "partition": i % 3,
                "headers": [("bin", b"\x00\xff"), ("text", b"0xzz"), ("dup", b"1"), ("dup", b"2")]
                if i % 2
                else None,
            }
        )
    produce(src, msgs)
    c = client_for("operator")
    dl = c.get(
        reverse("topics:messages_download", args=["local", src]),
        {"mode": "oldest", "limit": "500", "format": "jsonl"},
    )
    data = b"".join(dl.streaming_content)
    assert len(data.splitlines()) == len(msgs)
    upload = io.BytesIO(data)
    upload.name = f"{src}.jsonl"
    r = c.post(
        reverse("topics:replay_import", args=["local", dst]),
        {"file": upload, "routing": "source", "keep_timestamps": "on"},
    )
    assert r.status_code == 200, r.content.decode()[-3000:]
    html = r.content.decode()
    assert f'data-to-send="{len(msgs)}"' in html
    token = html.split('name="token" value="')[1].split('"')[0]
    job = wait_job(
        job_of(c.post(reverse("topics:replay_confirm", args=["local", dst]), {"token": token}))
    )
    assert job.state == "succeeded", job.error
    a, b = everything(src, 3), everything(dst, 3)
    # (partition, offset, key, value, headers, timestamp): identical, binary included.
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in a] == [
        (r[0], r[2], r[3], r[4], r[5]) for r in b
    ]


def test_import_reports_bad_lines_by_number_and_sends_nothing(
    celery_worker, kafka, topic_factory, client_for
):
    dst = topic_factory(partitions=1)
    lines = [
        json.dumps({"key": "a", "value": {"x": 1}}),
        "{not json",
        json.dumps({"key_b64": "%%", "value_b64": "AA=="}),
        json.dumps([1, 2]),
        json.dumps({"value": "ok", "partition": -1}),
    ]
    upload = io.BytesIO("\n".join(lines).encode())
    upload.name = "bad.jsonl"
    c = client_for("operator")
    r = c.post(
        reverse("topics:replay_import", args=["local", dst]), {"file": upload, "routing": "key"}
    )
    assert r.status_code == 400
    html = r.content.decode()
    for n in (2, 3, 4, 5):
        assert f'data-line="{n}"' in html
    assert 'data-line="1"' not in html and "4 of 5 lines" in html
    assert everything(dst, 1) == []


def test_csv_import_and_size_limit(celery_worker, kafka, topic_factory, client_for, settings):
    dst = topic_factory(partitions=2)
    text = (
        "partition,offset,timestamp,timestamp_type,key,value,headers,size\n"
        '1,0,,create,k1,"\'=1+2",{"h": "v"},3\n0,1,,create,,plain,{},5\n'
    )
    upload = io.BytesIO(text.encode())
    upload.name = "x.csv"
    c = client_for("operator")
    r = c.post(
        reverse("topics:replay_import", args=["local", dst]), {"file": upload, "routing": "source"}
    )
    assert r.status_code == 200, r.content.decode()[-2000:]
    token = r.content.decode().split('name="token" value="')[1].split('"')[0]
    job = wait_job(
        job_of(c.post(reverse("topics:replay_confirm", args=["local", dst]), {"token": token}))
    )
    assert job.state == "succeeded", job.error
    got = {r[0]: r for r in everything(dst, 2)}
    assert got[1][2:5] == (b"k1", b"=1+2", [("h", b"v")])
    assert got[0][2:4] == (None, b"plain")
    settings.CONSOLE_REPLAY_IMPORT_MAX_BYTES = 10
    upload = io.BytesIO(text.encode())
    upload.name = "x.csv"
    r = c.post(
        reverse("topics:replay_import", args=["local", dst]), {"file": upload, "routing": "source"}
    )
    assert r.status_code == 400 and "at most 10" in r.content.decode()


def test_redrive_of_a_search_sends_only_its_matches(
    celery_worker, kafka, topic_factory, produce, client_for
):
    dlq, dest = topic_factory(partitions=2), topic_factory(partitions=2)
    produce(
        dlq,
        [
            {
                "key": f"k{i}".encode(),
                "value": f'{{"kind": "{"retry" if i % 3 else "poison"}"}}'.encode(),
                "headers": [("x-original-topic", dest.encode())],
            }
            for i in range(30)
        ],
    )
    c = client_for("operator")
    page = c.get(reverse("topics:messages", args=["local", dlq]), {"q": "retry", "mode": "oldest"})
    assert 'id="replay-matches"' in page.content.decode()
    search = "mode=oldest&q=retry"
    replay = c.get(reverse("topics:replay", args=["local", dlq]) + "?" + search).content.decode()
    assert 'name="search" value="mode=oldest&amp;q=retry"' in replay
    r = c.post(
        reverse("topics:replay_redrive", args=["local", dlq]),
        {"header_names": "x-original-topic", "search": search},
    )
    assert r.status_code == 200, r.content.decode()[-2000:]
    html = r.content.decode()
    assert 'data-to-send="20"' in html
    token = html.split('name="token" value="')[1].split('"')[0]
    job = wait_job(
        job_of(c.post(reverse("topics:replay_confirm", args=["local", dlq]), {"token": token}))
    )
    assert job.state == "succeeded", job.error
    got = everything(dest, 2)
    assert len(got) == 20 and all(b"retry" in r[3] for r in got)
    r = c.post(
        reverse("topics:replay_redrive", args=["local", dlq]),
        {"header_names": "x-original-topic", "search": "mode=bogus&q=("},
    )
    assert r.status_code == 400 and "Not a valid search" in r.content.decode()
