"""Committed offsets where Kafka's ACLs deny one group: that group gets the reason, the
others their offsets (console/kafka/offsetfetch.py asks one OffsetFetch per coordinator,
which a single denied group fails whole; it then asks group by group)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from console.kafka.connection import Connection
from console.kafka.errors import NotAllowed
from console.kafka.groups import committed_offsets
from tests.acls.conftest import ADMIN_PW, ALICE_PW, sasl

pytestmark = pytest.mark.kafka


def _commit(conf: dict, group: str, topic: str, offset: int) -> None:
    c = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
                return
            except KafkaException:
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        c.close()


def test_a_denied_group_gets_the_reason_and_the_others_their_offsets(acl_kafka, acl_topic):
    admin_conf = sasl(acl_kafka, "admin", ADMIN_PW)
    allowed, denied = (f"acl-g-{uuid.uuid4().hex[:6]}" for _ in range(2))
    _commit(admin_conf, allowed, acl_topic, 1)
    _commit(admin_conf, denied, acl_topic, 1)
    binding = AclBinding(
        ResourceType.GROUP,
        denied,
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.DESCRIBE,
        AclPermissionType.DENY,
    )
    admin = AdminClient(admin_conf)
    admin.create_acls([binding])[binding].result(30)
    alice = Connection(
        f"alice-{uuid.uuid4().hex[:6]}",
        acl_kafka.sasl_bootstrap_servers,
        {k: v for k, v in sasl(acl_kafka, "alice", ALICE_PW).items() if k != "bootstrap.servers"},
    )
    deadline = time.monotonic() + 20
    while True:  # the new ACL reaches the broker's authorizer a moment later
        got = committed_offsets(alice, [allowed, denied])
        if isinstance(got[denied], NotAllowed) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got[allowed] == {(acl_topic, 0): 1}
    assert isinstance(got[denied], NotAllowed)
    assert "ACLs deny" in str(got[denied])
