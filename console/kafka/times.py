"""Record timestamps (epoch milliseconds, as Kafka keeps them) as aware UTC datetimes."""

from __future__ import annotations

import datetime as dt


def utc_from_ms(ms: int | float | None) -> dt.datetime | None:
    """The UTC moment of `ms`, or None for none, a negative one (Kafka's "no timestamp")
    and one past the year 9999 (a producer may set any 64-bit value)."""
    if ms is None or ms < 0:
        return None
    try:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
