"""A search's matches in <mark> in a result row (see topics.browse.highlight). Tags, not
filters: a filter argument that is not in the context (the live tail, the browse page have
no highlight) is an error, a tag argument is just empty, and the text is then unchanged."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.text import Truncator

register = template.Library()


@register.simple_tag
def marked(text, hl, part: str):
    """`{% marked m.key.text hl "key" %}`: `text` with the matches of `hl`'s marker for
    `part` ("key" or "value") marked; unchanged (escaped as usual) without one."""
    marker = getattr(hl, part, None) if hl else None
    if marker is None or not isinstance(text, str):
        return text
    return marker.html(text)


@register.simple_tag
def header_badge(name, value, hl, width: int = 80):
    """`name=value` of one header (value cut to `width`), its matches marked when `hl`."""
    if not hl:
        return format_html("{}={}", name, Truncator(value).chars(width))
    return hl.header_html(name, value, width)


@register.simple_tag(takes_context=True)
def message_rows(context, views):
    """`{% message_rows page.views %}`: the rows of topics.rows, with the page's role, search
    highlight and cluster taken from the context."""
    from topics.rows import message_rows as rows

    return rows(
        views,
        hide_contents=bool(context.get("hide_contents")),
        hl=context.get("hl"),
        cluster=context.get("current_cluster"),
        can_operate=bool(context.get("can_operate")),
    )
