"""Helpers of the canary test: unique markers, the forms a page could show them in, a walk
over every URL in the URL conf, and a WebSocket client that keeps every frame it got."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from topics.tail.frames import read_rows_frame


@dataclass(frozen=True)
class Marker:
    """A unique string planted in messages; it must not reach a reader who may not see it."""

    text: str

    @classmethod
    def new(cls, prefix: str) -> Marker:
        return cls(f"{prefix}-{uuid.uuid4().hex[:16]}")

    @property
    def probe(self) -> str:
        """A prefix that finds the marker by substring: a request may echo it (it is the
        user's own input) without echoing the marker itself."""
        return self.text[:-3]

    @property
    def head(self) -> str:
        """Enough of the marker to recognise it cut short (truncated for display)."""
        return self.text[: len(self.text.split("-")[0]) + 9]

    def forms(self) -> dict[str, str]:
        """The marker as text, hex (0x… or spaced, either case) and base64 at each of the
        three alignments it can have inside a longer value (standard and URL-safe)."""
        raw = self.text.encode()
        out = {
            "text": self.text,
            "hex": raw.hex(),
            "HEX": raw.hex().upper(),
            "hex spaced": raw.hex(" "),
            "HEX spaced": raw.hex(" ").upper(),
        }
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw).decode()
            # Only whole 4-character groups made of marker bytes alone are certain.
            core = encoded[4 if shift else 0 : -4]
            out[f"base64+{shift}"] = core
            out[f"base64url+{shift}"] = core.replace("+", "-").replace("/", "_")
        return out

    def found_in(self, body: str) -> list[str]:
        """The forms of the marker in `body`, plus "cut short" for its head outside echoes
        of the probe."""
        hits = [name for name, form in self.forms().items() if form in body]
        if self.head in body.replace(self.probe, ""):
            hits.append("cut short")
        return hits


def leaks(body: bytes | str, markers: list[Marker]) -> list[str]:
    text = body if isinstance(body, str) else body.decode("utf-8", errors="replace")
    return [f"{m.text} as {form}" for m in markers for form in m.found_in(text)]


# --- every URL ---------------------------------------------------------------------------


def url_patterns() -> dict[str, str]:
    """URL name -> route, for every pattern of the URL conf (nested includes resolved)."""

    def walk(patterns, prefix="", ns="") -> Iterator[tuple[str, str]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(
                    p.url_patterns,
                    prefix + str(p.pattern),
                    ns + (f"{p.namespace}:" if p.namespace else ""),
                )
            elif isinstance(p, URLPattern):
                yield ns + (p.name or f"<unnamed {prefix}{p.pattern}>"), prefix + str(p.pattern)

    return dict(walk(get_resolver().url_patterns))


ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


def fill(route: str, samples: dict[str, list]) -> list[str]:
    """Every URL `route` gives with the sample values of its arguments (all combinations)."""
    names = [m.group(2) for m in ARG.finditer(route)]
    missing = [n for n in names if n not in samples]
    if missing:
        raise LookupError(f"no sample value for URL argument(s) {missing} in {route}: add one")
    urls = ["/" + route]
    for name in names:
        urls = [
            re.sub(rf"<(?:\w+:)?{name}>", str(value), url, count=1)
            for url in urls
            for value in samples[name]
        ]
    return urls


# --- the live tail -------------------------------------------------------------------------


@dataclass
class Frames:
    """A tail WebSocket that keeps every text frame and acknowledges rows like tail.js."""

    url: str
    session: str
    origin: str
    frames: list[str] = field(default_factory=list)
    close_code: int | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.ws = connect(
            self.url,
            additional_headers={"Cookie": f"sessionid={self.session}"},
            origin=self.origin,
            max_size=None,
            open_timeout=15,
            compression=None,
            legacy=True,  # a connection kept open across calls, not a with-block
        )
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            while True:
                data = self.ws.recv()
                # Rows frames are binary and compressed: kept decoded, so that a canary in
                # them shows in `text()` and the leak checks see what the page would.
                frame = read_rows_frame(data) if isinstance(data, bytes) else json.loads(data)
                with self.lock:
                    self.frames.append(
                        json.dumps(frame, ensure_ascii=False) if isinstance(data, bytes) else data
                    )
                if frame.get("type") == "rows":
                    self.ws.send(json.dumps({"ack": frame["seq"]}))
        except ConnectionClosed:
            pass
        finally:
            rcvd = getattr(self.ws.protocol, "close_rcvd", None)
            self.close_code = rcvd.code if rcvd is not None else 1006

    def parsed(self) -> list[dict]:
        with self.lock:
            return [json.loads(f) for f in self.frames]

    def rows(self) -> list[str]:
        return [r for f in self.parsed() if f["type"] == "rows" for r in f["rows"]]

    @property
    def closed(self) -> bool:
        return not self.thread.is_alive()

    def wait(self, check: Callable[[Frames], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout}s; frames {self.parsed()[-3:]}")
            time.sleep(0.05)

    def close(self) -> None:
        self.ws.close()
        self.thread.join(10)

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.frames)
