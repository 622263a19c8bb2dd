"""Data masking: per-cluster rules hide fields of message values from chosen roles.

Masking happens on the server, on the decoded message, before anything is rendered or
downloaded, so the unmasked value never reaches the page (browser, live tail, downloads).
JSON paths replace the field's value with "***"; a regex replaces each match in the key,
the value text and header values.

Masking works on text and JSON, so a decoder that shows raw bytes (hex, base64; text for a
JSON path) would show what a rule hides: such a value is shown masked as auto-decoded
instead, or as "***" when even that cannot be masked (schema-framed without the registry).
"""

from __future__ import annotations

import json
from dataclasses import replace

from console.clusters import Cluster, MaskRule
from console.messages.decoding import Decoded, decode, schema_id_of
from console.messages.filters import _MISSING, lookup, parse_path
from console.messages.presenters import MessageView

MASK = "***"


def rules_for(cluster: Cluster, topic: str, role: str) -> tuple[MaskRule, ...]:
    """The masking rules that apply to `role` reading `topic` (empty: show everything)."""
    return tuple(r for r in cluster.masking if r.applies(topic, role))


def _mask_path(data, steps) -> bool:
    """Replace the value at `steps` in `data` (in place); True when something was masked."""
    if not steps:
        return False
    node = lookup(data, tuple(steps[:-1]))
    last = steps[-1]
    if lookup(node, (last,)) is _MISSING:
        return False
    node[last] = MASK
    return True


def _mask_decoded(decoded: Decoded, rules: tuple[MaskRule, ...]) -> Decoded:
    if decoded.kind == "null":
        return decoded
    data = decoded.data
    if data is not None:
        # Masked from the parsed form: a JSON string may escape any character ("\u0031"),
        # which a regex on the text as received would miss.
        data = json.loads(json.dumps(data))  # a copy: the decoded original stays untouched
        for rule in rules:
            for path in rule.json_paths:
                _mask_path(data, parse_path(path))
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        pretty = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text, pretty = decoded.text, decoded.pretty
    for rule in rules:
        if rule.regex is not None:
            text = rule.regex.sub(MASK, text)
            pretty = rule.regex.sub(MASK, pretty) if pretty else pretty
            if data is not None:  # keep the JSON form consistent with the masked text
                try:
                    data = json.loads(text)
                except ValueError:
                    data = None
    return replace(decoded, text=text, pretty=pretty, data=data)


def _hides(raw: bytes, rules: tuple[MaskRule, ...]) -> bool:
    """Whether `rules` hide something in `raw`, however it is decoded for display."""
    if any(r.json_paths for r in rules):
        if schema_id_of(raw) is not None:
            return True  # its fields are only known to the registry: assume they are there
        auto = decode(raw)
        if auto.data is not None and _mask_decoded(auto, rules).data != auto.data:
            return True
    text = raw.decode("utf-8", errors="replace")
    return any(r.regex is not None and r.regex.search(text) for r in rules)


def _maskable(shown: Decoded, rules: tuple[MaskRule, ...]) -> bool:
    """Whether masking `shown` hides everything `rules` hide: JSON paths need the parsed
    JSON, a regex needs the characters themselves (not their hex or base64)."""
    if any(r.json_paths for r in rules) and shown.data is None:
        return False
    return shown.kind not in ("binary", "null")


def mask_decoded(shown: Decoded, raw: bytes | None, rules: tuple[MaskRule, ...]) -> Decoded:
    """`shown` (the decoding of `raw` the user chose) as `rules` allow it to be seen."""
    if not rules or raw is None:
        return shown
    if _maskable(shown, rules) or not _hides(raw, rules):
        return _mask_decoded(shown, rules)
    auto = decode(raw)
    if _maskable(auto, rules):
        return replace(
            _mask_decoded(auto, rules),
            error=f"masked fields cannot be shown as {shown.kind}; shown masked as {auto.kind}",
        )
    return Decoded(kind="binary", text=MASK, error="masked: this value holds hidden data")


def mask_view(view: MessageView, rules: tuple[MaskRule, ...]) -> MessageView:
    """The message as `rules` allow it to be seen."""
    if not rules:
        return view
    msg = view.message
    key = view.key
    headers = view.headers
    key_rules = tuple(r for r in rules if r.regex is not None)  # JSON paths are for values
    if key_rules:
        key = mask_decoded(view.key, msg.key, key_rules)
        headers = tuple(  # present() keeps the message's header order
            (k, _mask_header(v, raw, key_rules))
            for (k, v), (_name, raw) in zip(view.headers, msg.headers, strict=True)
        )
    return replace(view, key=key, value=mask_decoded(view.value, msg.value, rules), headers=headers)


def mask_key(raw: bytes | None, rules: tuple[MaskRule, ...]) -> Decoded:
    """A key, auto-decoded, as `rules` allow it to be seen (only regular expressions apply)."""
    return mask_decoded(decode(raw), raw, tuple(r for r in rules if r.regex is not None))


def _mask_header(text: str, raw: bytes | None, rules: tuple[MaskRule, ...]) -> str:
    masked = _apply_regex(text, rules)
    # A header that is not UTF-8 is shown as 0x<hex>, where no regex can see a match.
    if raw is not None and text.startswith("0x") and _hides(raw, rules):
        return MASK
    return masked


def _apply_regex(text: str, rules: tuple[MaskRule, ...]) -> str:
    for rule in rules:
        if rule.regex is not None:
            text = rule.regex.sub(MASK, text)
    return text
