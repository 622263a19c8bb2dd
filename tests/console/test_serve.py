"""The web process (console/serve.py) on SQLite keeps each handler thread's database
connection: Django sets a new one up for ~0.7 ms of CPU, on every request otherwise. On
its own SQLite database (the suite may run on PostgreSQL, as CI does)."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, start_asgi_server


def _sqlite_files_open(pid: int) -> list[str]:
    """The SQLite files the process has open now (its database, WAL and shared memory)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while we looked
            continue
        if ".sqlite3" in target:
            found.append(target)
    return found


def _page(url: str) -> int:
    """A request whose session cookie is looked up in the database (then sent to log in:
    its status, unfollowed)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/", headers={"Cookie": "sessionid=" + "x" * 32})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize(("max_age", "kept"), [(None, True), ("0", False)])
def test_a_web_process_on_sqlite_keeps_its_connections(monkeypatch, tmp_path, max_age, kept):
    monkeypatch.delenv("CONSOLE_DB_CONN_MAX_AGE", raising=False)  # the default unless set
    env = {
        "DJANGO_SETTINGS_MODULE": "console.settings",  # its SQLite database in the var dir
        "CONSOLE_VAR_DIR": str(tmp_path),
        "CONSOLE_POSTGRES_DSN": "",
    }
    if max_age is not None:
        env["CONSOLE_DB_CONN_MAX_AGE"] = max_age
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        timeout=120,
    )
    web, url = start_asgi_server(tmp_path, **env)
    try:
        for _ in range(3):
            assert _page(url) == 302  # to the log-in page
        held = _sqlite_files_open(web.popen.pid)
        assert bool(held) is kept, held
    finally:
        web.stop()
