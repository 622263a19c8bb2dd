"""Search matches marked in the text a result row shows: `<mark>` around each substring or
regular-expression match, everything else escaped. The text comes from Kafka: every piece
of it is escaped (`html.escape`, what Django's escape does) before it is marked safe."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import regex
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from console.messages.filters import REGEX_TIMEOUT_S, Condition

MAX_MARKS = 200  # per text: enough to see, bounded for a value full of hits


@dataclass(frozen=True)
class Marker:
    """Finds the spans of one condition's matches in a text."""

    pattern: regex.Pattern

    def spans(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        try:
            for m in self.pattern.finditer(text, timeout=REGEX_TIMEOUT_S):
                if m.end() > m.start():  # an empty match marks nothing
                    out.append(m.span())
                    if len(out) >= MAX_MARKS:
                        break
        except TimeoutError:
            return []  # the search counted this text as not matching: mark nothing
        return out

    def html(self, text: str) -> SafeString:
        """`text` escaped, with its matches in <mark>.

        Written with `html.escape` and joins: format_html's lazy-string machinery cost a
        search chunk of 100 rows (two texts each) several milliseconds."""
        pieces, pos = [], 0
        for a, b in self.spans(text):
            pieces.append(f"{escape(text[pos:a])}<mark>{escape(text[a:b])}</mark>")
            pos = b
        pieces.append(escape(text[pos:]))
        return SafeString("".join(pieces))


@dataclass(frozen=True)
class Highlight:
    """What a search's condition marks in a result row: the key, the value, headers."""

    key: Marker | None = None
    value: Marker | None = None
    header: Marker | None = None
    header_name: str = ""  # the header searched; "" with `header`: every header as "name=value"

    @classmethod
    def for_condition(cls, cond: Condition | None) -> Highlight | None:
        """None when nothing can be marked (no condition, or a JSON-path equality)."""
        if cond is None or cond.kind not in ("contains", "regex"):
            return None
        flags = regex.IGNORECASE if cond.ignore_case else 0
        source = regex.escape(cond.expression) if cond.kind == "contains" else cond.expression
        marker = Marker(regex.compile(source, flags))
        if cond.field == "header":
            return cls(header=marker, header_name=cond.header)
        if cond.field == "any":
            return cls(key=marker, value=marker, header=marker)
        return cls(**{cond.field: marker})

    def header_html(self, name: str, value: str, width: int) -> SafeString:
        """One header badge's text, `name=value` (value cut to `width` characters)."""
        shown = Truncator(value).chars(width)
        if self.header is None:
            return format_html("{}={}", name, shown)
        if not self.header_name:  # "any" matched the text "name=value"
            return self.header.html(f"{name}={shown}")
        if name == self.header_name:
            return format_html("{}={}", name, self.header.html(shown))
        return format_html("{}={}", name, shown)
