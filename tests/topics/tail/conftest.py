"""A WebSocket client of the live tail that behaves like tail.js (acknowledges each rows
frame once handled), or like a page that cannot keep up (does not acknowledge)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from topics.tail.frames import read_rows_frame


class TailClient:
    def __init__(
        self, base: str, session: str, topic: str, *, query: str = "", cluster: str = "local"
    ):
        self.base = base
        ws_base = "ws" + base[len("http") :]
        url = f"{ws_base}/ws/clusters/{cluster}/topics/{topic}/tail/" + (
            f"?{query}" if query else ""
        )
        self.ws = connect(
            url,
            additional_headers={"Cookie": f"sessionid={session}"},
            origin=base,
            max_size=None,
            open_timeout=15,
            compression=None,
        )
        self.lock = threading.Lock()
        self.meta: list[tuple[int, int, int | None]] = []  # (partition, offset, ts)
        self.rows: list[str] = []
        self.received_at: list[float] = []
        self.statuses: list[dict] = []
        self.skipped = 0
        self.error: dict | None = None
        self.close_code: int | None = None
        self.frames = 0
        self.last_seq = 0
        self._ack = True
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    # --- background reading ------------------------------------------------------------

    def _pump(self) -> None:
        try:
            for data in self.ws:
                frame = read_rows_frame(data) if isinstance(data, bytes) else json.loads(data)
                now = time.time()
                with self.lock:
                    kind = frame["type"]
                    if kind == "rows":
                        self.frames += 1
                        self.last_seq = frame["seq"]
                        self.meta += [tuple(m) for m in frame["meta"]]
                        self.rows += frame["rows"]
                        self.received_at += [now] * len(frame["rows"])
                        self.skipped = frame["skipped"]
                        ack = self._ack
                    elif kind == "status":
                        self.statuses.append(frame)
                        ack = False
                    else:
                        self.error = frame
                        ack = False
                if ack:
                    self.ws.send(json.dumps({"ack": frame["seq"]}))
        except ConnectionClosed:
            pass
        finally:
            rcvd = getattr(self.ws.protocol, "close_rcvd", None)
            self.close_code = rcvd.code if rcvd is not None else 1006

    def acking(self, on: bool) -> None:
        """Start or stop acknowledging; starting acknowledges what was received so far."""
        with self.lock:
            self._ack = on
            seq = self.last_seq
        if on and seq:
            self.ws.send(json.dumps({"ack": seq}))

    # --- waiting -----------------------------------------------------------------------

    def wait(self, check: Callable[[TailClient], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if check(self):
                    return
            if time.monotonic() > deadline:
                with self.lock:
                    raise AssertionError(
                        f"{what}: not within {timeout}s; received {len(self.rows)} rows, "
                        f"skipped {self.skipped}, last status "
                        f"{self.statuses[-1] if self.statuses else None}, error {self.error}, "
                        f"close {self.close_code}"
                    )
            time.sleep(0.02)

    @property
    def status(self) -> dict:
        return self.statuses[-1] if self.statuses else {}

    def wait_live(self, timeout: float = 20) -> dict:
        self.wait(lambda c: c.status.get("state") == "live", timeout, "live")
        return self.status

    def wait_rows(self, n: int, timeout: float = 30) -> None:
        self.wait(lambda c: len(c.rows) >= n, timeout, f"{n} rows")

    def wait_closed(self, timeout: float = 20) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the server did not close the connection"

    def close(self) -> None:
        self.ws.close()
        self._thread.join(10)


@pytest.fixture
def session_for(make_user):
    """A session cookie for a fresh user with `role` (None: anonymous), and the user."""
    from django.test import Client

    def make(role: str | None):
        if role is None:
            return "", None
        user = make_user(role)
        c = Client()
        c.force_login(user)
        return c.cookies["sessionid"].value, user

    return make


@pytest.fixture
def tail_client(session_for, asgi_server) -> Iterator[Callable[..., TailClient]]:
    """Open tail WebSockets on the test web process as a fresh user of `role`; closed afterwards."""
    opened: list[TailClient] = []

    def open_(
        topic: str, role: str | None = "operator", *, query: str = "", base=None, session=None
    ):
        cookie = session if session is not None else session_for(role)[0]
        c = TailClient(base or asgi_server, cookie, topic, query=query)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()  # a no-op when the server closed it


def server_pid(base: str) -> int:
    """The pid of the process listening on `base`'s port."""
    port = urlsplit(base).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    raise AssertionError(f"no process listens on {port}")


def broker_connections(pid: int, bootstrap: str) -> set[int]:
    """Established TCP connections from process `pid` to the broker(s), by local port: what
    the broker sees of that process's clients."""
    ports = {int(hp.rsplit(":", 1)[1]) for hp in bootstrap.split(",")}
    return {
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port in ports
    }


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)
