"""Record timestamps (epoch milliseconds, as Kafka keeps them) as aware UTC datetimes."""

from __future__ import annotations

import datetime as dt

_last_second: tuple[int, str] = (-1, "")


def utc_second_ms(ms: int | float | None) -> tuple[str, str] | None:
    """`ms` as ("YYYY-MM-DDTHH:MM:SS", "mmm") in UTC, or None where `utc_from_ms` is None.

    Rows show a time per message and a batch of them falls mostly in a few seconds: the
    last second formatted is kept (one tuple, swapped whole: safe across threads).
    """
    global _last_second
    if type(ms) is not int or ms < 0:
        when = utc_from_ms(ms)
        if when is None:
            return None
        return when.strftime("%Y-%m-%dT%H:%M:%S"), f"{when.microsecond // 1000:03d}"
    second, milli = divmod(ms, 1000)
    last = _last_second
    if last[0] != second:
        try:
            text = dt.datetime.fromtimestamp(second, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        except (OverflowError, OSError, ValueError):
            return None
        last = _last_second = (second, text)
    return last[1], f"{milli:03d}"


def utc_from_ms(ms: int | float | None) -> dt.datetime | None:
    """The UTC moment of `ms`, or None for none, a negative one (Kafka's "no timestamp")
    and one past the year 9999 (a producer may set any 64-bit value)."""
    if ms is None or ms < 0:
        return None
    try:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
