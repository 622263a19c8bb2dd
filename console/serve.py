"""The console's web process: `python -m console.serve [--host H] [--port P]`.

Uvicorn with its C parts (uvloop's event loop, httptools' HTTP parser) and the
`websockets` library for the live tail, serving console.asgi:application. One command for
the demo, the tests, the benchmarks, deploy/Procfile and the systemd unit, so they cannot
drift apart.

Why not Daphne, Channels' reference server: on this project's 2-core machines it spent
0.50-0.56 ms of CPU on each request before the console saw it, uvicorn with uvloop and
httptools 0.22 ms (/healthz, 6,000 requests over 50 keep-alive connections); under
bench/load that was about a tenth of a page view's server CPU. Daphne stays installed for
`manage.py runserver`.

Settings (environment):
  CONSOLE_BIND, PORT            where to listen (127.0.0.1, 8000); --host/--port win
  CONSOLE_FORWARDED_ALLOW_IPS   behind a reverse proxy: the proxies' addresses (comma
                                separated, or *) whose X-Forwarded-For/-Proto are trusted;
                                unset: those headers are ignored (the peer is the client)
  CONSOLE_SHUTDOWN_S            on SIGTERM, how long open requests and WebSockets get (10)
  CONSOLE_LOG_LEVEL             the server's own log (INFO)
"""

from __future__ import annotations

import argparse
import os
import sys

APP = "console.asgi:application"


def command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The web process's command line, with this Python (tests, benchmarks, the demo)."""
    return [sys.executable, "-m", "console.serve", "--host", host, "--port", str(port)]


def options(host: str, port: int) -> dict:
    """uvicorn.run's keyword arguments for this process."""
    allow = os.environ.get("CONSOLE_FORWARDED_ALLOW_IPS", "").strip()
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets",
        # Rows frames are compressed once for every viewer (topics/tail/frames.py):
        # permessage-deflate, which browsers offer, would deflate them again per viewer.
        "ws_per_message_deflate": False,
        "ws_max_size": 1024 * 1024,  # a page sends acknowledgements and filters, no more
        # Channels' router knows no "lifespan" scope: nothing to run at start or stop.
        "lifespan": "off",
        "access_log": False,  # requests are counted and timed in /metrics
        "log_level": os.environ.get("CONSOLE_LOG_LEVEL", "INFO").lower(),
        "proxy_headers": bool(allow),
        "forwarded_allow_ips": allow or None,
        "server_header": False,
        "timeout_graceful_shutdown": int(os.environ.get("CONSOLE_SHUTDOWN_S", "10")),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m console.serve", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("CONSOLE_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    if (
        not os.environ.get("CONSOLE_POSTGRES_DSN")
        and os.environ.get("CONSOLE_ASGI_HANDLER") != "django"
    ):
        # On SQLite each thread of the handler's fixed pool keeps its connection: a new one
        # costs ~0.7 ms of CPU a request (Django's set-up of each). Django's own handler
        # runs every request on a new thread, whose connection would never be used again.
        os.environ.setdefault("CONSOLE_DB_CONN_MAX_AGE", "600")
    import uvicorn

    uvicorn.run(APP, **options(args.host, args.port))


if __name__ == "__main__":
    main()
