"""The ACL tests' broker: StandardAuthorizer, a SCRAM listener with users admin (a super
user, the console's) and alice, allow.everyone.if.no.acl.found=true. Its own broker, so
the session broker and every other test stay as they were."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tools.kafka.local import LocalKafka, authorizer_config

ADMIN_PW = "acl-admin-pw-1"
ALICE_PW = "acl-alice-pw-1"


@pytest.fixture(scope="package")
def acl_kafka(tmp_path_factory):
    k = LocalKafka(
        tmp_path_factory.mktemp("acl"),
        nodes=1,
        scram_users={"admin": ADMIN_PW, "alice": ALICE_PW},
        broker_config=authorizer_config("User:admin"),
    )
    k.start()
    yield k
    k.destroy()


def sasl(k: LocalKafka, user: str, pw: str) -> dict[str, str]:
    return {
        "bootstrap.servers": k.sasl_bootstrap_servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": pw,
    }


@pytest.fixture
def acl_topic(acl_kafka):
    """A one-partition topic on the ACL broker holding one message."""
    name = f"acl-{uuid.uuid4().hex[:8]}"
    conf = sasl(acl_kafka, "admin", ADMIN_PW)
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
    p = Producer(conf)
    deadline = time.monotonic() + 20
    while True:
        p.produce(name, value=b"hello", partition=0)
        if p.flush(10) == 0:
            break
        assert time.monotonic() < deadline, "could not produce to the ACL broker"
    return name


def alice_reads(k: LocalKafka, topic: str, timeout: float = 15) -> str:
    """'ok' when alice's consumer reads the message, else the error name the broker gave
    (as a consumer error or through the error callback)."""
    seen: list[str] = []
    c = Consumer(
        {
            **sasl(k, "alice", ALICE_PW),
            "group.id": f"alice-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "error_cb": lambda err: seen.append(err.name()),
        }
    )
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    seen.append(m.error().name())
            elif m is not None:
                return "ok"
            if denied := [e for e in seen if "AUTHORIZATION" in e]:
                return denied[0]
        return f"timeout {seen}"
    finally:
        c.close()
