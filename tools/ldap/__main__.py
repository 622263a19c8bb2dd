"""`python -m tools.ldap run [--port N] [--dir DIR] [--tls]`: a test OpenLDAP until Ctrl-C.

Starts slapd on loopback with the test directory of local.py (users ada, olga, vic, nog;
groups kafka-admins, kafka-operators, kafka-viewers), prints the CONSOLE_LDAP_* settings
that point the console at it and the test passwords, and serves until interrupted; then
stops slapd and deletes its folder (unless --dir was given).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tools.ldap.local import PASSWORDS, USERS, LdapError, LocalLdap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ldap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve a test directory until Ctrl-C")
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--dir", type=Path, default=None, help="keep config and data here")
    run.add_argument("--tls", action="store_true", help="offer StartTLS (a throwaway CA)")
    args = parser.parse_args(argv)
    server = LocalLdap(args.dir, port=args.port, tls=args.tls)
    try:
        server.start()
    except LdapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        for name, value in server.settings().items():
            print(f"{name}={value}")
        if args.tls:
            print(f"CONSOLE_LDAP_START_TLS=true\nCONSOLE_LDAP_CA_FILE={server.ca_file}")
        for uid, (_name, _password, group) in USERS.items():
            print(f"# {uid} / {PASSWORDS[uid]}  ({group or 'no group'})")
        print(f"# slapd pid {server.pid}, log {server.log_file}; Ctrl-C stops it", flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        try:
            while not done.wait(1) and server.proc and server.proc.poll() is None:
                pass
        except KeyboardInterrupt:
            pass
    finally:
        server.stop() if args.dir else server.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
