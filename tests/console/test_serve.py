"""The web process (console/serve.py) on SQLite keeps each handler thread's database
connection: Django sets a new one up for ~0.7 ms of CPU, on every request otherwise."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_asgi_server


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


def _page(url: str) -> None:
    """A page whose session cookie is looked up in the database."""
    request = urllib.request.Request(
        f"{url}/accounts/login/", headers={"Cookie": "sessionid=" + "x" * 32}
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.mark.slow
@pytest.mark.parametrize(("max_age", "kept"), [(None, True), ("0", False)])
def test_a_web_process_on_sqlite_keeps_its_connections(transactional_db, tmp_path, max_age, kept):
    env = {}
    if max_age is not None:
        env["CONSOLE_DB_CONN_MAX_AGE"] = max_age
    else:
        os.environ.pop("CONSOLE_DB_CONN_MAX_AGE", None)
    web, url = start_asgi_server(tmp_path, **env)
    try:
        for _ in range(3):
            _page(url)
        held = _sqlite_files_open(web.popen.pid)
        assert bool(held) is kept, held
    finally:
        web.stop()
