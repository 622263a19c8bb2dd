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
    value = {
        "user": user,
        "page": rng.choice(PAGES),
        "element": rng.choice(ELEMENTS),
        "seq": seq,
        "ts": int(time.time() * 1000),
    }
    return user.encode(), json.dumps(value, separators=(",", ":")).encode()


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
