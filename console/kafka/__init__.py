"""The one door to Kafka: only this package imports confluent_kafka.

It owns client life cycles (one cached AdminClient per cluster; short-lived consumers,
always closed), bounds every call by ``settings.KAFKA_REQUEST_TIMEOUT`` and turns
librdkafka errors into the domain errors of ``console.kafka.errors``. It returns frozen
dataclasses (``console.kafka.types``), never client objects.
"""

from console.kafka.errors import (
    AuthenticationFailed,
    ClusterUnavailable,
    InvalidRequest,
    KafkaConsoleError,
    NotAllowed,
    NotFound,
)

__all__ = [
    "AuthenticationFailed",
    "ClusterUnavailable",
    "InvalidRequest",
    "KafkaConsoleError",
    "NotAllowed",
    "NotFound",
]
