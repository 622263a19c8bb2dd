"""`python -m tools.kafka start [--nodes 3] [--port 19092] [--dir var/kafka]` / `stop`.

`start` formats storage on first use, starts the JVMs in the background, writes their pids
under the data directory and returns once every node listens. `stop` stops them; `--clean`
also deletes the data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from tools.kafka.local import KafkaStartError, LocalKafka, ensure_jars

DEFAULT_DIR = (
    Path(os.environ.get("CONSOLE_VAR_DIR", Path(__file__).resolve().parents[2] / "var")) / "kafka"
)


def _pids(base: Path) -> list[int]:
    pids = []
    for pid_file in sorted(base.glob("node*/pid")):
        with contextlib.suppress(ValueError):
            pids.append(int(pid_file.read_text()))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cmd_start(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    state = base / "cluster.json"
    if any(_alive(p) for p in _pids(base)) and state.exists():
        info = json.loads(state.read_text())
        print(f"Kafka already running: {info['bootstrap_servers']}")
        return 0
    if args.clean or (state.exists() and json.loads(state.read_text())["nodes"] != args.nodes):
        shutil.rmtree(base, ignore_errors=True)
    kafka = LocalKafka(base, nodes=args.nodes, port=args.port)
    if state.exists():  # restart with the same cluster id and ports
        kafka.cluster_id = json.loads(state.read_text())["cluster_id"]
    try:
        kafka.start(timeout=args.timeout)
    except KafkaStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        kafka.stop()
        return 1
    base.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {
                "nodes": args.nodes,
                "cluster_id": kafka.cluster_id,
                "bootstrap_servers": kafka.bootstrap_servers,
            }
        )
    )
    print(f"Kafka {args.nodes} node(s) listening on {kafka.bootstrap_servers} (data in {base})")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    pids = [p for p in _pids(base) if _alive(p)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    if args.clean:
        shutil.rmtree(base, ignore_errors=True)
    print(f"stopped {len(pids)} Kafka node(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.kafka", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a local KRaft cluster")
    start.add_argument("--nodes", type=int, default=1, choices=[1, 3])
    start.add_argument("--port", type=int, default=19092, help="first broker port")
    start.add_argument("--dir", default=str(DEFAULT_DIR))
    start.add_argument("--timeout", type=float, default=90)
    start.add_argument("--clean", action="store_true", help="delete existing data first")
    stop = sub.add_parser("stop", help="stop the cluster started with `start`")
    stop.add_argument("--dir", default=str(DEFAULT_DIR))
    stop.add_argument("--clean", action="store_true", help="also delete the data")
    sub.add_parser("fetch", help="resolve the jars with Maven and exit")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_jars())
        return 0
    return cmd_start(args) if args.command == "start" else cmd_stop(args)


if __name__ == "__main__":
    sys.exit(main())
