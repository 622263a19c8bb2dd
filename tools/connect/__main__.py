"""`python -m tools.connect start --bootstrap 127.0.0.1:19092 [--port 18083] [--dir var/connect]
[--no-topic-creation]` / `stop [--dir ...] [--clean]`.

`start` runs one Kafka Connect worker in distributed mode in the background (REST on
127.0.0.1 only), writes its pid under the directory and returns once its REST API answers
and lists the file connectors. `stop` stops it; `--clean` also deletes the directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tools.connect.local import ConnectStartError, LocalConnect
from tools.service import pid_alive, read_pid, stop_command

DEFAULT_DIR = (
    Path(os.environ.get("CONSOLE_VAR_DIR", Path(__file__).resolve().parents[2] / "var")) / "connect"
)


def cmd_start(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    state = base / "connect.json"
    pid = read_pid(base / "pid")
    if pid and pid_alive(pid) and state.exists():
        print(f"Connect already running: {json.loads(state.read_text())['url']}")
        return 0
    group = json.loads(state.read_text())["group_id"] if state.exists() else None
    worker = LocalConnect(
        base,
        bootstrap=args.bootstrap,
        port=args.port,
        topic_creation=not args.no_topic_creation,
        heap_mb=args.heap_mb,
        group_id=group,
    )
    try:
        worker.start(timeout=args.timeout)
    except ConnectStartError as exc:
        print(f"error: {exc}", file=sys.stderr)  # start() stopped what it started
        return 1
    state.write_text(json.dumps({"url": worker.url, "group_id": worker.group_id}))
    print(f"Kafka Connect listening on {worker.url} (logs in {worker.log_file})")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    pid = read_pid(base / "pid")
    return stop_command(base, [pid] if pid else [], clean=args.clean, what="Connect worker(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.connect", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a Connect worker (distributed mode)")
    start.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    start.add_argument("--port", type=int, default=18083, help="REST port on 127.0.0.1")
    start.add_argument("--dir", default=str(DEFAULT_DIR))
    start.add_argument("--timeout", type=float, default=120)
    start.add_argument("--heap-mb", type=int, default=256)
    start.add_argument(
        "--no-topic-creation",
        action="store_true",
        help="topic.creation.enable=false: connectors never create their topics",
    )
    stop = sub.add_parser("stop", help="stop the worker started with `start`")
    stop.add_argument("--dir", default=str(DEFAULT_DIR))
    stop.add_argument("--clean", action="store_true", help="also delete its directory")
    args = parser.parse_args(argv)
    return cmd_start(args) if args.command == "start" else cmd_stop(args)


if __name__ == "__main__":
    sys.exit(main())
