"""Config values as the config tables show them: `{% load config_tables %}`.

    {{ c.value|config_shown:c.name }}

The `config_value` filter (console/templatetags/console.py) chosen by the name's suffix,
plus what a suffix cannot tell: Long.MAX_VALUE under any name is "unlimited"
(flush.messages), -2 of a tiered-storage local retention means "as retention.ms", -1 of a
compression level is the codec's default, and an empty value is "none". The raw value stays
in the title, as with `config_value`.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from console.templatetags.console import LONG_MAX, config_value

register = template.Library()

# Values whose meaning depends on the config, not on its unit.
SPECIAL = {
    ("local.retention.ms", "-2"): "as retention.ms",
    ("local.retention.bytes", "-2"): "as retention.bytes",
    ("log.local.retention.ms", "-2"): "as log.retention.ms",
    ("log.local.retention.bytes", "-2"): "as log.retention.bytes",
    ("compression.gzip.level", "-1"): "codec default",
}


@register.filter
def config_shown(value, name=""):
    if value is None:
        return config_value(value, name)
    text = str(value).strip()
    if text == "":
        return mark_safe('<span class="muted">none</span>')  # noqa: S308 - a constant
    special = SPECIAL.get((str(name), text))
    if special:
        return format_html('<span class="num" title="{}">{}</span>', text, special)
    if text == str(LONG_MAX):
        return format_html('<span class="num" title="{}">unlimited</span>', text)
    return config_value(value, name)
