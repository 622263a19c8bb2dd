"""Reading records: conversion of confluent_kafka messages to plain Message dataclasses."""

from __future__ import annotations

from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME

from console.kafka.types import Message

_TS_TYPES = {TIMESTAMP_CREATE_TIME: "create", TIMESTAMP_LOG_APPEND_TIME: "log-append"}


def to_message(msg) -> Message:
    """A plain Message from a confluent_kafka.Message (which must not carry an error)."""
    ts_type, ts = msg.timestamp()
    headers = msg.headers() or ()
    return Message(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp_ms=ts if ts_type in _TS_TYPES else None,
        timestamp_type=_TS_TYPES.get(ts_type, "none"),
        key=msg.key(),
        value=msg.value(),
        headers=tuple((k, v) for k, v in headers),
    )
