"""Lag figures for the group pages: `{% load group_lag %}`.

{{ row|time_lag }}         3 min 12 s   (title: the raw ms and whose record it is)
{{ row.lag|lag_bar:max }}  a bar as long as this lag is against the largest
"""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html

from console.templatetags.console import human_duration_ms, iso_utc

register = template.Library()

BAR_REM = 8  # the longest bar (the largest lag), in rem


@register.filter
def time_lag(row):
    """The time lag of a partition, topic or group row: humanised, the raw ms and what it
    is in the title; "—" with the reason when it was not read."""
    ms = getattr(row, "time_lag_ms", None)
    note = getattr(row, "time_lag_note", "")
    unknown = getattr(row, "time_lag_unknown", 0)
    if ms is None:
        if getattr(row, "lag", None) is None and getattr(row, "committed", 0) is None:
            return format_html('<span class="muted" title="{}">—</span>', "no committed offset")
        return format_html('<span class="muted" title="{}">—</span>', note or "not read")
    text = "0 s" if ms == 0 else human_duration_ms(ms)
    title = f"{intcomma(ms)} ms"
    at = getattr(row, "unread_at", None)
    if at is not None:
        title += (
            f": the oldest unread record (offset {intcomma(row.unread_offset)}) was written "
            f"{iso_utc(at)}"
        )
    elif note:
        title += f": {note}"
    if unknown:
        # Only some lagging partitions were read: the others may be further behind.
        text = f"≥ {text}"
        title += (
            f"; {unknown} lagging partition{'s' if unknown != 1 else ''} not read "
            f"({note or 'no answer'}): the time lag may be larger"
        )
    return format_html('<span class="num time-lag" title="{}">{}</span>', title, text)


@register.filter
def lag_bar(lag, largest):
    """A bar for one partition's lag, as long against the largest as the lag is."""
    if not lag or not largest:
        return ""
    width = max(0.15, BAR_REM * int(lag) / int(largest))
    return format_html(
        '<span class="bar" style="--w:{}rem" aria-hidden="true"></span>', f"{width:.2f}"
    )
