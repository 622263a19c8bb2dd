"""Test-event generators: realistic streams to exercise consumers (used by the demo and tasks)."""

from __future__ import annotations

import json
import random
import time

PAGES = ["/", "/pricing", "/docs", "/signup", "/checkout", "/blog", "/settings", "/search"]
ELEMENTS = ["toggle", "button", "link", "nav", "form", "banner"]


def clickstream_event(rng: random.Random, seq: int, *, users: int = 50) -> tuple[bytes, bytes]:
    """One click: key is the user id (so one user's clicks stay in order on one partition)."""
    # A few users click far more than others: real traffic is skewed, and so is the demo.
    user = (
        f"u-{min(int(rng.paretovariate(1.2)), users)}"
        if rng.random() < 0.3
        else f"u-{rng.randint(1, users)}"
    )
    # Formatted by hand (every part is a plain token, nothing to escape): json.dumps would
    # cost more than producing the event.
    value = (
        f'{{"user":"{user}","page":"{rng.choice(PAGES)}","element":"{rng.choice(ELEMENTS)}",'
        f'"seq":{seq},"ts":{int(time.time() * 1000)}}}'
    )
    return user.encode(), value.encode()


def order_event(rng: random.Random, seq: int) -> tuple[bytes, bytes]:
    order_id = f"o-{seq:06d}"
    value = {
        "order": order_id,
        "user": f"u-{rng.randint(1, 50)}",
        "amount": round(rng.uniform(5, 400), 2),
        "currency": rng.choice(["EUR", "USD", "GBP"]),
        "status": rng.choice(["created", "paid", "shipped"]),
    }
    return order_id.encode(), json.dumps(value, separators=(",", ":")).encode()


# --- user templates ------------------------------------------------------------------
# Placeholders in a key or value template:
#   {{seq}}              0, 1, 2, ... (the event's number in the run)
#   {{int:1:100}}        a random integer from 1 to 100
#   {{choice:a|b|c}}     one of the options
#   {{uuid}}             a random UUID
#   {{timestamp}}        milliseconds since the epoch, now
#   {{user}}             u-1 ... u-50 (skewed like real traffic)
import re as _re  # noqa: E402
import uuid as _uuid  # noqa: E402

PLACEHOLDER = _re.compile(r"\{\{\s*([a-z]+)(?::([^}]*))?\s*\}\}")
KINDS = ("seq", "int", "choice", "uuid", "timestamp", "user")


class TemplateError(ValueError):
    """The template cannot be used; the message says which placeholder and why."""


def check_template(template: str) -> None:
    """Raise TemplateError for an unknown or malformed placeholder."""
    for m in PLACEHOLDER.finditer(template):
        kind, arg = m.group(1), m.group(2)
        if kind not in KINDS:
            raise TemplateError(
                f"unknown placeholder {m.group(0)}: use one of "
                + ", ".join("{{" + k + "}}" for k in KINDS)
            )
        if kind == "int":
            parts = (arg or "").split(":")
            if (
                len(parts) != 2
                or not all(_re.fullmatch(r"-?\d{1,18}", x) for x in parts)
                or (int(parts[0]) > int(parts[1]))
            ):
                raise TemplateError(
                    f"{m.group(0)}: write {{{{int:LOW:HIGH}}}}, e.g. {{{{int:1:100}}}}"
                )
        if kind == "choice" and not (arg or "").strip("|"):
            raise TemplateError(f"{m.group(0)}: write {{{{choice:a|b|c}}}}")
    if "{{" in PLACEHOLDER.sub("", template):
        raise TemplateError("a '{{' does not start a placeholder: check the braces")


def render(template: str, rng: random.Random, seq: int) -> str:
    def sub(m: _re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "seq":
            return str(seq)
        if kind == "int":
            low, high = (int(x) for x in arg.split(":"))
            return str(rng.randint(low, high))
        if kind == "choice":
            return rng.choice([c for c in arg.split("|") if c != ""])
        if kind == "uuid":
            return str(_uuid.UUID(int=rng.getrandbits(128), version=4))
        if kind == "timestamp":
            return str(int(time.time() * 1000))
        return f"u-{min(int(rng.paretovariate(1.2)), 50)}"

    return PLACEHOLDER.sub(sub, template)


BLOCK = 1000


def events(
    *,
    template: str,
    key_template: str = "",
    value_template: str = "",
    seed: int,
    start: int,
    count: int,
):
    """Events number `start` to `count - 1` of a run: the same seed gives the same events, so
    a resumed run continues exactly where the recorded progress stopped. One generator per
    block of 1,000 events keeps seeding off the hot path."""
    seq = start - start % BLOCK
    rng = random.Random(seed * 1_000_003 + seq // BLOCK)
    while seq < count:
        if seq % BLOCK == 0:
            rng = random.Random(seed * 1_000_003 + seq // BLOCK)
        if template == "clickstream":
            key, value = clickstream_event(rng, seq)
            event = (key, value, None)
        else:
            key = render(key_template, rng, seq).encode() if key_template else None
            event = (key, render(value_template, rng, seq).encode(), None)
        if seq >= start:
            yield event
        seq += 1
