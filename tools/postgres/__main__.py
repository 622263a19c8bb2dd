"""`python -m tools.postgres start --dir DIR [--port N]` / `stop --dir DIR [--clean]` /
`exec -- COMMAND...`.

`start` creates the cluster on first use, starts the server in the background and prints
its DSN (for CONSOLE_POSTGRES_DSN). `stop` stops it; `--clean` also deletes DIR. `exec`
starts a fresh server in a temp dir, runs COMMAND with CONSOLE_POSTGRES_DSN set, then
stops and deletes the server; it exits with COMMAND's status.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from tools.postgres.local import LocalPostgres, PostgresError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.postgres", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a server in the background, print its DSN")
    start.add_argument("--dir", type=Path, required=True)
    start.add_argument("--port", type=int, default=None)
    stop = sub.add_parser("stop", help="stop the server started in --dir")
    stop.add_argument("--dir", type=Path, required=True)
    stop.add_argument("--clean", action="store_true", help="also delete --dir")
    run = sub.add_parser("exec", help="run a command against a fresh server, then delete it")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(LocalPostgres(args.dir, port=args.port).start().dsn)
            return 0
        if args.command == "stop":
            if (args.dir / "data").exists():
                server = LocalPostgres(args.dir)
                server.destroy() if args.clean else server.stop()
            return 0
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            parser.error("exec needs a command")
        with LocalPostgres() as server:
            env = {**os.environ, "CONSOLE_POSTGRES_DSN": server.dsn}
            proc = subprocess.Popen(cmd, env=env)
            # Ctrl-C reaches the command (same process group); wait for it, then clean up.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
            return proc.wait()
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
