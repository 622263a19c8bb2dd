"""`python -m tools.keycloak fetch` / `run [--port 18080]`.

`fetch` has Maven fetch and unpack Keycloak's server distribution, and imports realm.json
into the database that every later start copies (CI and `make test` call it ahead of the
tests; once per realm.json, about a minute). `run` starts Keycloak in the foreground with
the test realm (realm.json: realm "console", client "kafka-console", users ada, olga, vic
and nog), prints the settings that point the console at it, and stops it on Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from tools.keycloak.local import (
    CLIENT_ID,
    CLIENT_SECRET,
    USERS,
    KeycloakStartError,
    LocalKeycloak,
    choose_java,
    ensure_dist,
)
from tools.service import run_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.keycloak", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="fetch and unpack Keycloak, then exit")
    run = sub.add_parser("run", help="run Keycloak in the foreground until Ctrl-C")
    run.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            java = choose_java()
            home = ensure_dist()
            # The realm's database too, so that the tests' Keycloak starts in seconds.
            keycloak = LocalKeycloak()
            template = keycloak.ensure_template()
            shutil.rmtree(keycloak.base_dir, ignore_errors=True)
            print(f"{home} (Java {java.major}: {java.home}); realm database {template}")
            return 0
        keycloak = LocalKeycloak(port=args.port).start()
    except KeycloakStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    users = ", ".join(f"{u}/{pw} ({g or 'no group'})" for u, (pw, g) in USERS.items())
    return run_foreground(
        keycloak,
        f"Keycloak up in {keycloak.startup_seconds:.1f}s (log: {keycloak.log_file})\n"
        f"  admin console: {keycloak.base_url}/admin/ "
        f"({keycloak.admin_user} / {keycloak.admin_password})\n"
        f"  users: {users} \n"
        f"Point the console at it:\n"
        f"  CONSOLE_OIDC_ISSUER={keycloak.issuer}\n"
        f"  CONSOLE_OIDC_CLIENT_ID={CLIENT_ID}\n"
        f"  CONSOLE_OIDC_CLIENT_SECRET={CLIENT_SECRET}\n"
        f"  CONSOLE_OIDC_PROVIDER_NAME=Keycloak\n"
        f"  CONSOLE_ROLE_MAP=kafka-admins=admin,kafka-operators=operator,kafka-viewers=viewer",
    )


if __name__ == "__main__":
    sys.exit(main())
