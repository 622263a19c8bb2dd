"""Domain errors: what went wrong, in words a person can act on."""

from __future__ import annotations


class KafkaConsoleError(Exception):
    """Base of the errors ``console.kafka`` raises; ``code`` is Kafka's error name, if any."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class ClusterUnavailable(KafkaConsoleError):
    """No broker answered within the timeout (down, unreachable, or too slow)."""


class AuthenticationFailed(ClusterUnavailable):
    """The cluster refused the console's credentials (SASL/TLS)."""


class NotFound(KafkaConsoleError):
    """The topic, partition, group or broker does not exist."""


class InvalidRequest(KafkaConsoleError):
    """Kafka refused the request as invalid (bad name, config value, size...)."""


class NotAllowed(KafkaConsoleError):
    """Kafka's ACLs refuse the console's principal this operation."""
