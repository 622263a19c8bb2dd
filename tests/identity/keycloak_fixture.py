"""A real Keycloak (tools/keycloak) for the session: the OIDC provider of the tests.

Import `keycloak` into a test module (one instance serves the whole session: the first
start of a fresh cache takes ~30-100 s while Keycloak builds itself, later ones seconds).
Its realm is realm.json, fresh at every start (in-memory database); a test that changes a
user's groups puts them back. Like the other fixtures it never skips: a missing Java 21+
or Maven fails the tests that need it, with what to install.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.keycloak.local import LocalKeycloak


@pytest.fixture(scope="session")
def keycloak() -> Iterator[LocalKeycloak]:
    """Keycloak on 127.0.0.1 with realm "console"; `.issuer` is CONSOLE_OIDC_ISSUER."""
    base = Path(tempfile.mkdtemp(prefix="keycloak-"))
    server = LocalKeycloak(base)
    server.start()
    print(
        f"\nKeycloak started in {server.startup_seconds:.1f}s, "
        f"RSS {server.rss_bytes() / 2**20:.0f} MiB, at {server.issuer}"
    )
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
