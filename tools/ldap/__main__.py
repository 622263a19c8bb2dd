"""`python -m tools.ldap run [--port N] [--dir DIR] [--tls]`: a test OpenLDAP until Ctrl-C.

Starts slapd on loopback with the test directory of local.py (users ada, olga, vic, nog;
groups kafka-admins, kafka-operators, kafka-viewers), prints the CONSOLE_LDAP_* settings
that point the console at it and the test passwords, and serves until interrupted; then
stops slapd and deletes its folder (unless --dir was given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.ldap.local import PASSWORDS, USERS, LdapError, LocalLdap
from tools.service import run_foreground


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
    lines = [f"{name}={value}" for name, value in server.settings().items()]
    if args.tls:
        lines.append(f"CONSOLE_LDAP_START_TLS=true\nCONSOLE_LDAP_CA_FILE={server.ca_file}")
    for uid, (_name, _password, group) in USERS.items():
        lines.append(f"# {uid} / {PASSWORDS[uid]}  ({group or 'no group'})")
    lines.append(f"# slapd pid {server.pid}, log {server.log_file}; Ctrl-C stops it")
    return run_foreground(
        server, "\n".join(lines), stop=server.stop if args.dir else server.destroy
    )


if __name__ == "__main__":
    sys.exit(main())
