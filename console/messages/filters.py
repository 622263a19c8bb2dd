"""The filter language shared by the message browser's search and the live tail.

A filter is a list of conditions, all of which must hold:
- `contains` / `regex` on the key, the value, a header (`header:<name>`) or any of them;
- `jsonpath`: an equality on the decoded value, e.g. `$.page == "checkout"`,
  `$.items[0].qty != 2`, `$.ok == true` (operators == and !=; literals: JSON);
- a partition subset, offset range and timestamp range (the browser also uses those to seek).

Parsing raises FilterError with a message for the form; matching never raises.
Regular expressions run under a time bound (the `regex` module's timeout), so a pattern
that backtracks catastrophically cannot stall a scan: it counts as "no match" and is
reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import regex

from console.kafka.types import Message
from console.messages.decoding import Decoded, decode, header_text

FIELDS = ("value", "key", "header", "any")
KINDS = ("contains", "regex", "jsonpath")
REGEX_TIMEOUT_S = 0.05
MAX_EXPRESSION = 1000

_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")
_JSONPATH = re.compile(r"^\s*(\$(?:[^=!]*?))\s*(==|!=)\s*(.+?)\s*$", re.S)


class FilterError(ValueError):
    """The filter cannot be used; the message says what to fix."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """`$.a.b[0]["c d"]` -> ("a", "b", 0, "c d")."""
    if not path.startswith("$"):
        raise FilterError("a JSON path starts with $, e.g. $.page")
    rest, steps, pos = path[1:], [], 0
    while pos < len(rest):
        m = _PATH_TOKEN.match(rest, pos)
        if not m:
            raise FilterError(
                f'JSON path {path!r}: cannot read {rest[pos:]!r} (use .name, [index] or ["name"])'
            )
        name, index, dq, sq = m.groups()
        steps.append(int(index) if index is not None else (name or dq or sq or ""))
        pos = m.end()
    return tuple(steps)


_MISSING = object()


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def lookup(data: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        is_index = isinstance(step, int) and isinstance(data, list)
        if (is_index and -len(data) <= step < len(data)) or (
            isinstance(step, str) and isinstance(data, dict) and step in data
        ):
            data = data[step]
        else:
            return _MISSING
    return data


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: a filter comparing with them would never match."""
    raise ValueError(f"{name} is not a JSON value")


@dataclass(frozen=True)
class Condition:
    field: str  # "value", "key", "any" or "header"
    kind: str  # "contains", "regex", "jsonpath"
    expression: str
    header: str = ""
    ignore_case: bool = True
    # compiled forms
    _pattern: Any = None
    _path: tuple = ()
    _op: str = "=="
    _literal: Any = None

    @classmethod
    def build(
        cls, field: str, kind: str, expression: str, *, header: str = "", ignore_case: bool = True
    ) -> Condition:
        if field not in FIELDS:
            raise FilterError(f"unknown field {field!r}; use one of {', '.join(FIELDS)}")
        if kind not in KINDS:
            raise FilterError(f"unknown filter kind {kind!r}; use one of {', '.join(KINDS)}")
        if not expression:
            raise FilterError("the filter expression is empty")
        if len(expression) > MAX_EXPRESSION:
            raise FilterError(f"the filter expression is longer than {MAX_EXPRESSION} characters")
        if field == "header" and not header:
            raise FilterError("name the header to filter on")
        if kind == "regex":
            try:
                pattern = regex.compile(expression, regex.IGNORECASE if ignore_case else 0)
            except regex.error as exc:
                raise FilterError(f"the regular expression does not compile: {exc}") from None
            return cls(field, kind, expression, header, ignore_case, _pattern=pattern)
        if kind == "jsonpath":
            m = _JSONPATH.match(expression)
            if not m:
                raise FilterError('a JSON path filter reads like $.page == "checkout" (== or !=)')
            path, op, literal = m.groups()
            try:
                value = json.loads(literal, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                raise FilterError(
                    f'the value {literal[:80]!r} is not a JSON literal: quote strings, e.g. "checkout"'
                ) from None
            return cls(
                field,
                kind,
                expression,
                header,
                ignore_case,
                _path=parse_path(path.strip()),
                _op=op,
                _literal=value,
            )
        needle = expression.lower() if ignore_case else expression
        return cls(field, kind, expression, header, ignore_case, _pattern=needle)

    def prefilter(self):
        """A fast necessary test on raw (key, value) bytes, or None when there is none.

        A record it rejects cannot match, so a scan skips decoding it: `contains` looks for
        the needle's bytes (ASCII-case-folded when ignoring case; only for ASCII needles,
        since folding is per byte), and a JSON-path equality with a plain ASCII string
        literal needs that string's bytes somewhere in the value.
        """
        if self.field not in ("value", "key"):
            return None
        pick = 1 if self.field == "value" else 0
        if self.kind == "contains":
            # Binary is shown (and matched) as hex: a needle that could be hex gets no
            # prefilter, and non-ASCII bytes always go to the full test.
            if not self.expression.isascii() or re.fullmatch(r"[0-9a-fA-F ]+", self.expression):
                return None
            needle = self.expression.encode()
            if self.ignore_case:
                needle = needle.lower()

                def folded(k: bytes | None, v: bytes | None) -> bool:
                    x = v if pick else k
                    return x is not None and (needle in x.lower() or not x.isascii())

                return folded

            def exact(k: bytes | None, v: bytes | None) -> bool:
                x = v if pick else k
                return x is not None and (needle in x or not x.isascii())

            return exact
        if (
            self.kind == "jsonpath"
            and self._op == "=="
            and isinstance(self._literal, str)
            and self._literal
            and re.fullmatch(r"[A-Za-z0-9 _.:@#%+=,;-]+", self._literal)
        ):
            needle = self._literal.encode()

            def literal(k: bytes | None, v: bytes | None) -> bool:
                x = v if pick else k
                return x is not None and (needle in x or not x.isascii())

            return literal
        return None

    def _texts(self, msg: Message, value: Decoded | None) -> list[str]:
        out = []
        if self.field in ("value", "any"):
            out.append((value or decode(msg.value)).text)
        if self.field in ("key", "any"):
            out.append(decode(msg.key).text)
        if self.field == "header":
            out += [header_text(v) for k, v in msg.headers if k == self.header]
        if self.field == "any":
            out += [f"{k}={header_text(v)}" for k, v in msg.headers]
        return out

    def matches(
        self, msg: Message, value: Decoded | None = None, stats: FilterStats | None = None
    ) -> bool:
        if self.kind == "jsonpath":
            if self.field == "key":
                decoded = decode(msg.key)
            elif self.field == "header":
                decoded = next((decode(v) for k, v in msg.headers if k == self.header), None)
            else:
                decoded = value or decode(msg.value)
            if decoded is None or decoded.data is None and decoded.kind != "json":
                return False
            found = lookup(decoded.data, self._path)
            if found is _MISSING:
                return self._op == "!="
            equal = json_equal(found, self._literal)
            return equal if self._op == "==" else not equal
        for text in self._texts(msg, value):
            if self.kind == "contains":
                if self._pattern in (text.lower() if self.ignore_case else text):
                    return True
            else:
                try:
                    if self._pattern.search(text, timeout=REGEX_TIMEOUT_S):
                        return True
                except TimeoutError:
                    if stats is not None:
                        stats.regex_timeouts += 1
        return False


@dataclass
class FilterStats:
    regex_timeouts: int = 0


@dataclass(frozen=True)
class MessageFilter:
    """All conditions must hold; plus an optional partition subset and ranges."""

    conditions: tuple[Condition, ...] = ()
    partitions: frozenset[int] | None = None
    min_offset: int | None = None
    max_offset: int | None = None
    min_timestamp_ms: int | None = None
    max_timestamp_ms: int | None = None
    stats: FilterStats = field(default_factory=FilterStats, compare=False)

    @property
    def empty(self) -> bool:
        return (
            not self.conditions
            and self.partitions is None
            and self.min_offset is None
            and (
                self.max_offset is None
                and self.min_timestamp_ms is None
                and self.max_timestamp_ms is None
            )
        )

    def matches(self, msg: Message, value: Decoded | None = None) -> bool:
        """True when `msg` passes every condition (`value`: its decoded value, if known)."""
        if self.partitions is not None and msg.partition not in self.partitions:
            return False
        if self.min_offset is not None and msg.offset < self.min_offset:
            return False
        if self.max_offset is not None and msg.offset > self.max_offset:
            return False
        ts = msg.timestamp_ms
        if self.min_timestamp_ms is not None and (ts is None or ts < self.min_timestamp_ms):
            return False
        if self.max_timestamp_ms is not None and (ts is None or ts > self.max_timestamp_ms):
            return False
        try:
            return all(c.matches(msg, value, self.stats) for c in self.conditions)
        except Exception:  # noqa: BLE001 - a filter never breaks a scan or a tail
            return False


def parse_partitions(text: str, *, count: int | None = None) -> frozenset[int] | None:
    """ "0,2,5-7" -> {0, 2, 5, 6, 7}; "" -> None (all). Checks against `count` if given."""
    text = text.strip()
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,6})(?:\s*-\s*(\d{1,6}))?", part)
        if not m:
            raise FilterError(f"partitions: {part!r} is not a number or a range like 3-5")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise FilterError(f"partitions: range {part!r} runs backwards")
        out.update(range(lo, hi + 1))
    if count is not None:
        bad = sorted(p for p in out if p >= count)
        if bad:
            raise FilterError(
                f"partitions: the topic has {count} partitions (0-{count - 1}); "
                f"{bad[0]} does not exist"
            )
    return frozenset(out)
