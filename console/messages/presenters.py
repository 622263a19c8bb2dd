"""What a message looks like on a page (browser, live tail) and in a download."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from console.kafka.times import utc_second_ms
from console.kafka.types import Message
from console.messages.decoding import Decoded, decode, header_text


@dataclass(frozen=True, slots=True)
class MessageView:
    message: Message
    key: Decoded
    value: Decoded
    headers: tuple[tuple[str, str], ...]

    @property
    def partition(self) -> int:
        return self.message.partition

    @property
    def offset(self) -> int:
        return self.message.offset

    @property
    def timestamp(self) -> str:
        """ISO 8601 to the millisecond, in UTC ("+00:00"), or "" for none."""
        parts = utc_second_ms(self.message.timestamp_ms)
        return f"{parts[0]}.{parts[1]}+00:00" if parts else ""

    @property
    def size(self) -> int:
        return self.message.size

    def as_dict(self) -> dict:
        """A JSON-ready record: decoded key/value as shown, plus position and headers."""
        return {
            "topic": self.message.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestamp_type": self.message.timestamp_type,
            "key": self.key.data
            if self.key.is_json and self.key.data is not None
            else self.key.text,
            "value": self.value.data
            if self.value.is_json and self.value.data is not None
            else self.value.text,
            "value_encoding": self.value.kind,
            "headers": dict(self.headers),
            "size": self.size,
            **({"schema_id": self.value.schema_id} if self.value.schema_id is not None else {}),
        }


def dumps(data: Any) -> str:
    """Compact JSON (`json.dumps(data, ensure_ascii=False, default=str, separators=(",",
    ":"))`), by orjson where it can (about ten times faster: the JSON API writes one
    per record). Values orjson refuses (integers beyond 64 bits, lone surrogates) go to
    json.dumps. orjson writes NaN and infinities as null (JSON has no way to write them)."""
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))


def present(
    msg: Message, *, key_mode: str = "auto", value_mode: str = "auto", value: Decoded | None = None
) -> MessageView:
    """Decode a message for display (`value`: an already decoded value to reuse)."""
    return MessageView(
        message=msg,
        key=decode(msg.key, key_mode),
        value=value if value is not None else decode(msg.value, value_mode),
        headers=tuple((k, header_text(v)) for k, v in msg.headers),
    )
