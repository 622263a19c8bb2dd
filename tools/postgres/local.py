"""A throwaway PostgreSQL on loopback, from the distribution's server binaries.

`LocalPostgres(base).start()` runs `initdb` (first start only) and `pg_ctl start` on a
data directory under `base`, listening on 127.0.0.1 only, with a superuser `console`
(random password, SCRAM) and a database `console`; `dsn` is what `CONSOLE_POSTGRES_DSN`
takes. `stop()` stops the server and keeps the data; `start()` brings it back on the same
port; `destroy()` also deletes the directory.

PostgreSQL's server programs refuse to run as root. As root they run as the `postgres`
OS user (Debian's `postgresql` package creates it), which then owns `base`; `base` must be
reachable by that user, so the default is a fresh directory in the system's temp dir.
As any other user they run as that user. The server is tuned for tests, not durability
(fsync off): never put data you want to keep in it.

Standard library only: CI runs it before the virtualenv exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from tools.service import free_port, port_open, run_program

SUPERUSER = "console"
DATABASE = "console"
# Test settings: nothing here has to survive a crash.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %d '",
}


class PostgresError(RuntimeError):
    """The server could not be set up or did not come up; the message says what to do."""


def find_bindir() -> Path:
    """The directory of initdb/pg_ctl: $POSTGRES_BINDIR, the newest Debian
    /usr/lib/postgresql/<version>/bin, or wherever PATH has initdb."""
    override = os.environ.get("POSTGRES_BINDIR")
    if override:
        return Path(override)
    versions = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "initdb").exists() and bindir.parent.name.isdigit():
            versions.append((int(bindir.parent.name), bindir))
    if versions:
        return max(versions)[1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found: "
        "apt-get install postgresql (tools/system-deps.sh does), or set POSTGRES_BINDIR."
    )


def _server_user() -> str | None:
    """The OS user the server runs as: None (this user) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresError(
            "running as root, and PostgreSQL refuses root: there is no 'postgres' user to run "
            "it as (apt-get install postgresql creates one)"
        ) from None
    return "postgres"


class LocalPostgres:
    def __init__(self, base: Path | str | None = None, *, port: int | None = None) -> None:
        self.base = Path(base) if base else Path(tempfile.mkdtemp(prefix="postgres-"))
        self.state_file = self.base / "state.json"
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self.port: int = port or state.get("port") or free_port()
        self.password: str = state.get("password") or secrets.token_hex(16)
        self.bindir = find_bindir()
        self.os_user = _server_user()

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    @property
    def dsn(self) -> str:
        """The URL for CONSOLE_POSTGRES_DSN (password included: it is a test server)."""
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, as_server: bool = True, timeout: float = 120) -> str:
        """Run one of the PostgreSQL programs; its output, or PostgresError with it."""
        user = self.os_user if as_server else None
        env = {**os.environ, "PGPASSWORD": self.password, "LC_ALL": "C"}
        return run_program(
            [str(self.bindir / args[0]), *args[1:]],
            PostgresError,
            shown=args,
            note=f"\n(server log: {self.log_file})",
            timeout=timeout,
            cwd=self.base,  # the server user may not be allowed into our cwd
            env=env,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )

    def _prepare(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            shutil.chown(self.base, self.os_user, self.os_user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.os_user:
            shutil.chown(pwfile, self.os_user, self.os_user)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
        except PostgresError as exc:
            raise PostgresError(
                f"{exc}\n{self.base} must be writable by "
                f"{self.os_user or 'this user'} and every directory above it searchable"
            ) from None
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        lines = [f"{k} = {v}" for k, v in SERVER_SETTINGS.items()]
        # The socket beside the data, not in /var/run/postgresql (which may not be ours).
        lines.append(f"unix_socket_directories = '{self.base}'")
        with conf.open("a") as fh:
            fh.write("\n# tools/postgres\n" + "\n".join(lines) + "\n")

    def running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            return False
        return True

    def start(self, timeout: float = 60) -> LocalPostgres:
        """Create the cluster on first use, start the server, create the database."""
        self._prepare()
        if not self.running():
            if port_open(self.port):
                raise PostgresError(f"port {self.port} is taken by another program")
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 10,
            )
        self.state_file.write_text(json.dumps({"port": self.port, "password": self.password}))
        self.state_file.chmod(0o600)
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        common = ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER]
        out = self._run("psql", *common, "-d", "postgres", "-tAc", query, as_server=False)
        if out.strip() != "1":
            self._run("createdb", *common, DATABASE, as_server=False)

    def stop(self, *, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server (the data stays; start() brings it back on the same port)."""
        if not self.running():
            return
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 10,
        )
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def destroy(self) -> None:
        with contextlib.suppress(PostgresError):
            self.stop(mode="immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()
