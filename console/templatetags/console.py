"""Readable numbers and times: `{% load console %}`.

Each filter shows a person's form of a value and keeps the raw value in a `title` (hover)
and, for times, in `<time datetime>`; the plain-text helpers (`human_bytes`, ...) serve
attributes, JSON and Python code. Counts use django.contrib.humanize's `intcomma`.

    {{ topic.size|bytes }}                    1.5 MiB          (title 1572864)
    {{ "604800000"|duration_ms }}             7 d
    {{ -1|unlimited }}                        unlimited
    {{ c.value|config_value:c.name }}         by the name's suffix: .ms, .bytes, ...; else raw
    {{ job.created_at|utc }}                  2026-11-25 19:55:14 UTC
    {{ m.message.timestamp_ms|utc_ms }}       2026-11-25 23:41:07.123 UTC (title: epoch ms)
    {{ job.created_at|age }}                  3 min ago        (title: the UTC time)
    {{ 12.34|rate }}                          12.3
    {{ c.name|wbr }}                          log.<wbr>retention.<wbr>ms (breaks at the dots)
"""

from __future__ import annotations

import datetime as dt
import math

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from console.kafka.times import utc_from_ms

register = template.Library()

# Kafka's "no limit": -1, or Long.MAX_VALUE (e.g. max.compaction.lag.ms).
LONG_MAX = 9223372036854775807
UNLIMITED = {-1, LONG_MAX}
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# (unit, milliseconds), largest first; a duration shows its two largest non-zero parts.
DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000))
# Configs whose -1 does not mean "unlimited".
MINUS_ONE_MEANS = {
    "socket.send.buffer.bytes": "OS default",
    "socket.receive.buffer.bytes": "OS default",
}
# Config name suffixes holding a duration in another unit than ms: the factor to ms.
DURATION_SUFFIXES = {".ms": 1, ".seconds": 1000, ".minutes": 60_000, ".hours": 3_600_000}


def _number(value) -> int | float | None:
    """`value` as a number (an int when it is whole), or None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        n = value
    else:
        try:
            n = float(str(value).strip())
        except ValueError:
            return None
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            n = int(text)
    if isinstance(n, float):
        if not math.isfinite(n):
            return None
        if n.is_integer():
            n = int(n)
    return n


def _titled(text: str, raw) -> str:
    if raw is None or str(raw) in ("", text):
        return format_html('<span class="num">{}</span>', text)
    return format_html('<span class="num" title="{}">{}</span>', raw, text)


def human_bytes(value) -> str:
    """1572864 -> '1.5 MiB' (binary units); -1 -> 'unlimited'; not a number: unchanged."""
    n = _number(value)
    if n is None:
        return "" if value is None else str(value)
    if n in UNLIMITED:
        return "unlimited"
    sign, n = ("-", -n) if n < 0 else ("", n)
    unit = 0
    while n >= 1024 and unit < len(BINARY_UNITS) - 1:
        n /= 1024
        unit += 1
    if unit == 0:
        return f"{sign}{n:g} B" if isinstance(n, float) else f"{sign}{n} B"
    # One decimal below 100 of a unit ("1.5 MiB"), none when whole or above ("118 MiB").
    shown = f"{n:.1f}" if n < 100 and not float(n).is_integer() else f"{n:.0f}"
    return f"{sign}{shown} {BINARY_UNITS[unit]}"


def human_duration_ms(value) -> str:
    """604800000 -> '7 d', 5400000 -> '1 h 30 min', 1500 -> '1.5 s', 250 -> '250 ms';
    -1 and Long.MAX_VALUE -> 'unlimited'; not a number: unchanged."""
    n = _number(value)
    if n is None:
        return "" if value is None else str(value)
    if n in UNLIMITED:
        return "unlimited"
    sign, n = ("-", -n) if n < 0 else ("", n)
    if n < 1000:
        return f"{sign}{n:g} ms"
    if n < 10_000 and n % 1000:
        return f"{sign}{n / 1000:.1f} s"
    parts = []
    rest = int(round(n))
    for unit, size in DURATION_UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {unit}")
        elif parts:
            break  # "1 d 0 h 5 min" reads worse than "1 d"; the title has the exact value
        if len(parts) == 2:
            break
    return sign + " ".join(parts)


def human_unlimited(value) -> str:
    """-1 and Long.MAX_VALUE -> 'unlimited'; other numbers with thousands separators."""
    n = _number(value)
    if n is None:
        return "" if value is None else str(value)
    if n in UNLIMITED:
        return "unlimited"
    return intcomma(n)


def human_config_value(value, name: str = "") -> str:
    """A config value as a person reads it, chosen by the config name's suffix."""
    if value is None:
        return "not set"
    name = str(name or "")
    n = _number(value)
    if n == -1 and name in MINUS_ONE_MEANS:
        return MINUS_ONE_MEANS[name]
    for suffix, factor in DURATION_SUFFIXES.items():
        if name.endswith(suffix) and n is not None:
            return human_duration_ms(n if n in UNLIMITED else n * factor)
    if name.endswith(".bytes") and n is not None:
        return human_bytes(n)
    return str(value)


def _as_datetime(value) -> dt.datetime | None:
    """A datetime (aware, or naive read as UTC), or epoch milliseconds, as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    return utc_from_ms(_number(value))


def iso_utc(value) -> str:
    """'2026-11-25 19:55:14 UTC' from a datetime or epoch milliseconds; '' for nothing."""
    when = _as_datetime(value)
    return f"{when:%Y-%m-%d %H:%M:%S} UTC" if when else ("" if value is None else str(value))


def human_age(value, now: dt.datetime | None = None) -> str:
    """'12 s ago', '3 min ago', '2 h ago', '4 d ago' (or 'in 3 min' for the future)."""
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else str(value)
    seconds = ((now or timezone.now()) - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400 * 2:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86400)} d"
    return f"in {text}" if future else f"{text} ago"


def human_rate(value) -> str:
    """Events per second: '0', '0.4', '12.3', '1,234'."""
    n = _number(value)
    if n is None:
        return "" if value is None else str(value)
    if abs(n) < 1:
        return f"{n:.2f}".rstrip("0").rstrip(".")
    if abs(n) < 100:
        return f"{n:.1f}".removesuffix(".0")
    return intcomma(int(round(n)))


@register.filter(name="bytes")
def bytes_filter(value):
    return _titled(human_bytes(value), value)


@register.filter
def duration_ms(value):
    return _titled(human_duration_ms(value), value)


@register.filter
def unlimited(value):
    return _titled(human_unlimited(value), value)


@register.filter
def config_value(value, name=""):
    text = human_config_value(value, name)
    return _titled(text, value)


@register.filter
def utc(value):
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else value
    return format_html(
        '<time datetime="{}">{}</time>', when.strftime("%Y-%m-%dT%H:%M:%SZ"), iso_utc(when)
    )


@register.filter
def utc_ms(value):
    """A record's timestamp (epoch ms) to the millisecond, its raw value on hover; '' if none."""
    when = _as_datetime(value)
    if when is None:
        return ""
    ms = f"{when.microsecond // 1000:03d}"
    return format_html(
        '<time datetime="{}.{}Z" title="{} ms since the epoch">{}.{} UTC</time>',
        when.strftime("%Y-%m-%dT%H:%M:%S"),
        ms,
        value,
        when.strftime("%Y-%m-%d %H:%M:%S"),
        ms,
    )


@register.filter
def age(value):
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else value
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        iso_utc(when),
        human_age(when),
    )


@register.filter
def rate(value):
    return _titled(human_rate(value), value)


@register.filter
def wbr(value):
    """The text, escaped, with a line-break opportunity after each . _ - / and :, so long
    dotted names (configs, topics, groups) wrap at their parts rather than mid-word."""
    text = escape("" if value is None else value)
    for sep in "._-/:":
        text = text.replace(sep, sep + "<wbr>")
    return mark_safe(text)  # noqa: S308 - escaped above; only <wbr> added
