"""console.kafka.client.refine: a vague "unreachable" becomes the cause librdkafka reported
(a failed TLS handshake, failed SASL authentication), whatever order the two arrive in."""

import threading

import pytest
from confluent_kafka import KafkaError

from console.kafka import client
from console.kafka.connection import Connection
from console.kafka.errors import AuthenticationFailed, ClusterUnavailable


@pytest.fixture(autouse=True)
def _clean():
    client._last_errors.clear()
    yield
    client._last_errors.clear()
    client._admins.pop("c", None)


def _vague() -> ClusterUnavailable:
    return client.translate(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))


def _ssl() -> KafkaError:
    return KafkaError(KafkaError._SSL, "SSL handshake failed: certificate verify failed")


class LateClient:
    """An admin client whose error callback fires on the poll `after` calls from now."""

    def __init__(self, record, err: KafkaError, after: int) -> None:
        self.record, self.err, self.after, self.polls = record, err, after, 0

    def poll(self, timeout: float = 0) -> int:
        self.polls += 1
        if self.polls == self.after:
            self.record(self.err)
        return 0


def test_a_handshake_error_is_not_overwritten_by_the_disconnects_it_causes():
    record = client._error_cb_for("c")
    record(_ssl())
    record(KafkaError(KafkaError._TRANSPORT, "Disconnected"))
    record(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    out = client.refine(Connection("c", "127.0.0.1:1", {"security.protocol": "SSL"}), _vague())
    assert isinstance(out, AuthenticationFailed)
    assert "TLS handshake failed" in str(out)


def test_a_handshake_error_delivered_after_the_failed_request_is_waited_for():
    conn = Connection("c", "127.0.0.1:1", {"security.protocol": "SSL"})
    late = LateClient(client._error_cb_for("c"), _ssl(), after=4)
    client._admins["c"] = late
    out = client.refine(conn, _vague())
    assert "TLS handshake failed" in str(out)
    assert late.polls == 4


def test_a_plaintext_cluster_does_not_wait_and_keeps_the_vague_error():
    conn = Connection("c", "127.0.0.1:1")
    late = LateClient(client._error_cb_for("c"), _ssl(), after=99)
    client._admins["c"] = late
    err = _vague()
    assert client.refine(conn, err) is err
    assert late.polls == 1


def test_the_wait_is_bounded_when_no_cause_comes(monkeypatch):
    monkeypatch.setattr(client, "REFINE_WAIT_S", 0.2)
    conn = Connection("c", "127.0.0.1:1", {"security.protocol": "SASL_SSL"})

    class Sleepy:
        def poll(self, timeout: float = 0) -> int:
            threading.Event().wait(timeout)
            return 0

    client._admins["c"] = Sleepy()
    err = _vague()
    assert client.refine(conn, err) is err


def test_a_later_handshake_error_replaces_an_older_transport_error():
    record = client._error_cb_for("c")
    record(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    record(_ssl())
    assert client._last_errors["c"][1].code() == KafkaError._SSL
