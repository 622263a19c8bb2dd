"""`python -m tools.registry fetch` / `run [--port 18081]`.

`fetch` has Maven fetch and unpack the Apicurio Registry this machine's Java can run (CI and
`make setup` can call it ahead of the tests). `run` starts a registry in the foreground,
prints the URL for the Confluent client, and stops it on Ctrl-C; its data lives in memory.
"""

from __future__ import annotations

import argparse
import sys

from tools.registry.local import LocalRegistry, RegistryStartError, choose_runtime, ensure_app
from tools.service import run_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.registry", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch and unpack Apicurio Registry, then exit")
    fetch.add_argument("--version", help="Apicurio version (default: newest this Java runs)")
    run = sub.add_parser("run", help="run a registry in the foreground until Ctrl-C")
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--version", help="Apicurio version (default: newest this Java runs)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            version, java = choose_runtime(args.version)
            print(f"{ensure_app(version)} (Java {java.major}: {java.home})")
            return 0
        registry = LocalRegistry(port=args.port, version=args.version).start()
    except RegistryStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_foreground(
        registry,
        f"Apicurio Registry {registry.version} up in {registry.startup_seconds:.1f}s: "
        f"{registry.url} (log: {registry.log_file})",
    )


if __name__ == "__main__":
    sys.exit(main())
