"""Needles: what a filter's matches must contain as raw bytes, for console.kafka.fetch.

A search's fast path tests whole record batches for these bytes before decoding anything,
so each probe must be a *necessary* condition of the exact filter on the raw record (key,
value and headers as stored). The rules follow what the filter matches on:

- `contains` and `regex` match the decoded text. For UTF-8 text and JSON that text is the
  raw bytes (JSON is matched as written, escapes included), so the needle's UTF-8 bytes must
  occur. Binary is matched as its hex rendering: a needle made only of characters that
  rendering uses gets no probe. "any" also matches `name=value` of headers: a needle with
  `=` gets none.
- Ignoring case, the filter lower-cases with Unicode rules while the batch test lower-cases
  ASCII only: the probe is the needle's longest ASCII run, and the few non-ASCII characters
  that fold onto an ASCII letter (K for k, İ for i, ſ for s) are alternatives.
- A regular expression contributes the longest literal it requires (parsed with Python's
  own parser; a pattern it cannot parse, or with `{` read as a literal, which the `regex`
  module may read as fuzzy matching, gets none).
- `$.a == "x"` needs the string as written in JSON: its UTF-8 bytes, or else an escape of
  one of its characters (`\\u`, or `\\"`, `\\/`... for the characters that have one) as
  alternatives; `== true/false/null` needs the keyword.
- A value shown through a schema registry or as hex/base64 is not its raw bytes: value
  conditions then get no probe.

`needles_for` returns None when no condition gives a probe worth a batch test (3 bytes or
more): the search then reads record by record as before.
"""

from __future__ import annotations

import re

from console.kafka.fetch import Needles, Probe
from console.messages.filters import Condition, MessageFilter

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore[import-not-found]
    from re import _constants as sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

MIN_PROBE = 3
# Non-ASCII characters that str.lower() or a case-insensitive `regex` match turn into, or
# match as, an ASCII letter.
FOLDS_TO_ASCII = {"i": "\u0130", "k": "\u212a", "s": "\u017f"}
# A binary value's rendering: hex pairs, then " … (N bytes)" past 4096 bytes; as elements
# (a class that repeats, or one character) for `_in_hex_text`.
_HEX, _DIGITS = frozenset("0123456789abcdef "), frozenset("0123456789")
_RENDERING = (_HEX, " ", "…", " ", "(", _DIGITS, " ", "b", "y", "t", "e", "s", ")")
_HEADER_HEX = re.compile(r"(?:0?x)?[0-9a-f]*|0")
RAW_VALUE_MODES = ("auto", "text", "json")


def needles_for(
    flt: MessageFilter, *, value_mode: str = "auto", registry: object | None = None
) -> Needles | None:
    """Probes for the fast search path, or None when the filter has none worth it.
    `value_mode` and `registry`: how the search decodes values (see the module doc)."""
    raw_value = value_mode in RAW_VALUE_MODES and registry is None
    probes = [p for c in flt.conditions if (p := condition_probe(c, raw_value=raw_value))]
    if not probes:
        return None
    probes.sort(key=_strength, reverse=True)  # the first one places the hits: the rarest
    return tuple(probes)


def condition_probe(c: Condition, *, raw_value: bool = True) -> Probe | None:
    if c.field in ("value", "any") and not raw_value:
        return None
    if c.kind == "contains":
        return _text_probe(c.expression, c.field, ignore_case=c.ignore_case)
    if c.kind == "regex":
        return _regex_probe(c.expression, c.field, ignore_case=c.ignore_case)
    if c.kind == "jsonpath":
        return _json_probe(c)
    return None


def _text_probe(needle: str, field: str, *, ignore_case: bool) -> Probe | None:
    """The probe for text that a matching field's text contains."""
    if ignore_case:
        needle = needle.lower()
    if _in_hex_text(needle) or (field == "any" and "=" in needle):
        return None
    if not ignore_case:
        raw = needle.encode("utf-8")
        return Probe((raw,)) if len(raw) >= MIN_PROBE else None
    run = max(re.findall(r"[\x00-\x7f]+", needle), key=len, default="")
    if len(run) < MIN_PROBE:
        return None
    alts = [run.encode("ascii")]
    alts += [FOLDS_TO_ASCII[ch].encode() for ch in sorted(set(run) & set(FOLDS_TO_ASCII))]
    return Probe(tuple(alts), fold=True)


def _in_hex_text(text: str) -> bool:
    """Whether `text` can occur in how binary is shown: a value's or key's hex rendering
    (hex pairs, then " … (N bytes)"), or a header's "0x" and hex."""
    if _HEADER_HEX.fullmatch(text):
        return True
    n = len(_RENDERING)

    def closure(states: set[int]) -> set[int]:
        out = set(states)
        for i in states:
            while i < n and isinstance(_RENDERING[i], frozenset):
                i += 1  # a repeating class may be left (or matched no further)
                out.add(i)
        return out

    states = closure(set(range(n)))  # a substring starts anywhere
    for ch in text:
        nxt = set()
        for i in states:
            if i == n:
                continue
            el = _RENDERING[i]
            if isinstance(el, frozenset):
                if ch in el:
                    nxt.add(i)
            elif el == ch:
                nxt.add(i + 1)
        states = closure(nxt)
        if not states:
            return False
    return True


def _json_probe(c: Condition) -> Probe | None:
    if c._op != "==":
        return None
    lit = c._literal
    if lit is True or lit is False or lit is None:
        return Probe((("true" if lit else "false" if lit is False else "null").encode(),))
    if isinstance(lit, str) and len(lit.encode("utf-8")) >= MIN_PROBE:
        return Probe((lit.encode("utf-8"), *_json_escapes(lit)))
    return None


_SHORT_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "\b": "b",
    "\f": "f",
    "\n": "n",
    "\r": "r",
    "\t": "t",
}


def _json_escapes(text: str) -> tuple[bytes, ...]:
    """How a JSON string equal to `text` but not written as its plain UTF-8 bytes starts an
    escape: `\\u` (any character), or a backslash and the character's short escape."""
    out = [b"\\u"]
    out += sorted({("\\" + _SHORT_ESCAPES[ch]).encode() for ch in text if ch in _SHORT_ESCAPES})
    return tuple(out)


# --- required literals of a regular expression ----------------------------------------------

_LITERAL = sre_constants.LITERAL
_SUBPATTERN = sre_constants.SUBPATTERN
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
if hasattr(sre_constants, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_constants.POSSESSIVE_REPEAT)
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)
_BRANCH = sre_constants.BRANCH
_AT = sre_constants.AT


def _required(items) -> list[tuple[str, ...]]:
    """Options, each a tuple of alternative strings one of which every match contains."""
    options: list[tuple[str, ...]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(("".join(run),))
            run.clear()

    def walk(seq) -> None:
        for op, av in seq:
            if op is _LITERAL:
                if av == ord("{"):
                    raise ValueError("a literal { (fuzzy matching in the regex module?)")
                run.append(chr(av))
            elif op is _AT:
                continue  # anchors consume nothing: the run goes on
            elif op is _SUBPATTERN and not av[1] and not av[2]:
                walk(av[3])  # a plain group: its literals continue the run
            elif op is _ATOMIC and _ATOMIC is not None:
                walk(av)
            elif op in _REPEATS:
                flush()
                if av[0] >= 1:
                    options.extend(_required(av[2]))
            elif op is _BRANCH:
                flush()
                per = [_required(alt) for alt in av[1]]
                if all(per):
                    best = [max(o, key=lambda x: min(len(s) for s in x)) for o in per]
                    options.append(tuple(s for o in best for s in o))
            else:
                flush()

    walk(items)
    flush()
    return options


def _regex_probe(pattern: str, field: str, *, ignore_case: bool) -> Probe | None:
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE if ignore_case else 0)
        options = _required(parsed)
    except (re.error, ValueError, TypeError, OverflowError, RecursionError):
        return None
    fold = bool(parsed.state.flags & re.IGNORECASE)
    best: Probe | None = None
    for option in options:
        probes = [_text_probe(s, field, ignore_case=fold) for s in option]
        if not probes or any(p is None for p in probes):
            continue
        alts = tuple(dict.fromkeys(a for p in probes for a in p.alternatives))
        probe = Probe(alts, fold=fold)
        if best is None or _strength(probe) > _strength(best):
            best = probe
    return best


_AUXILIARY = frozenset(ch.encode() for ch in FOLDS_TO_ASCII.values())


def _strength(p: Probe) -> tuple[bool, int]:
    """How selective a probe is: (no escape alternatives, length of its shortest needle)."""
    main = [len(a) for a in p.alternatives if a not in _AUXILIARY and not a.startswith(b"\\")]
    return (not any(a.startswith(b"\\") for a in p.alternatives), min(main, default=0))
