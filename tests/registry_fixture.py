"""A real Confluent-compatible schema registry (Apicurio Registry, in-memory) for the tests.

Ask for it by name (tests/conftest.py imports it once, so one registry serves the session):

    def test_x(schema_registry): ...   # tests/conftest.py provides it

and hand `schema_registry.url` to `SchemaRegistryClient({"url": ...})`. One registry serves
the whole session and keeps what tests register, so give each test its own subjects (e.g. a
topic name with a uuid). Like the Kafka fixtures it never skips: a missing Java or Maven
fails the tests that need it, with what to install.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.registry.local import LocalRegistry


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[LocalRegistry]:
    """Apicurio Registry on 127.0.0.1 for the session; `.url` ends in /apis/ccompat/v7."""
    base = Path(tempfile.mkdtemp(prefix="registry-"))
    registry = LocalRegistry(base)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(base, ignore_errors=True)
