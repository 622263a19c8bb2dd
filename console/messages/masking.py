"""Data masking: per-cluster rules hide fields of message values from chosen roles.

Masking happens on the server, on the decoded message, before anything is rendered or
downloaded, so the unmasked value never reaches the page (browser, live tail, downloads).
JSON paths replace the field's value with "***"; a regex replaces each match in the key,
the value text and header values.
"""

from __future__ import annotations

import json
from dataclasses import replace

from console.clusters import Cluster, MaskRule
from console.messages.decoding import Decoded
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
    if data is not None and any(r.json_paths for r in rules):
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


def mask_view(view: MessageView, rules: tuple[MaskRule, ...]) -> MessageView:
    """The message as `rules` allow it to be seen."""
    if not rules:
        return view
    headers = view.headers
    key = view.key
    if any(r.regex is not None for r in rules):
        key = _mask_decoded(view.key, tuple(r for r in rules if r.regex is not None))
        headers = tuple((k, _apply_regex(v, rules)) for k, v in view.headers)
    return replace(view, key=key, value=_mask_decoded(view.value, rules), headers=headers)


def _apply_regex(text: str, rules: tuple[MaskRule, ...]) -> str:
    for rule in rules:
        if rule.regex is not None:
            text = rule.regex.sub(MASK, text)
    return text
