"""tools/postgres: a throwaway PostgreSQL that starts as root or not, stops, comes back with
its data, and leaves nothing behind."""

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tools.kafka.local import port_open
from tools.postgres.local import LocalPostgres

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_server_stops_and_comes_back_with_its_data():
    server = LocalPostgres().start()
    try:
        with psycopg.connect(server.dsn) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
            host = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
        assert host.startswith("127.0.0.1")
        server.stop()
        assert not port_open(server.port)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.dsn, connect_timeout=2)
        server.start()
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("still here",)
    finally:
        server.destroy()
    assert not server.base.exists()
    assert not port_open(server.port)


def test_password_is_required():
    with LocalPostgres() as server:
        wrong = server.dsn.replace(server.password, "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(wrong, connect_timeout=5)


def test_exec_runs_a_command_against_a_fresh_server_then_removes_it():
    script = (
        "import os, psycopg; "
        "c = psycopg.connect(os.environ['CONSOLE_POSTGRES_DSN']); "
        "print(c.execute('select current_database()').fetchone()[0]); "
        "print(c.info.port)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "tools.postgres", "exec", "--", sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    database, port = result.stdout.split()
    assert database == "console"
    assert not port_open(int(port))
