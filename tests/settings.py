"""Test settings: the production settings, with only what tests must change.

Each pytest session gets its own var dir (database files, Celery's SQLite broker);
subprocesses the tests start (Celery worker, web processes) inherit it through the environment
and, with CONSOLE_TEST_SUBPROCESS=1, use the test database directly: a SQLite file in the
var dir, or with CONSOLE_POSTGRES_DSN a database on that server named after the var dir.
"""

import os
import re
import tempfile

if "CONSOLE_VAR_DIR" not in os.environ:
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp(prefix="console-test-")
os.environ.setdefault("CONSOLE_KAFKA_TIMEOUT", "5")
# Tests create topics and groups behind the console's back and list them at once: the list
# pages read their index afresh (the scale benchmark sets its own).
os.environ.setdefault("CONSOLE_LIST_INDEX_S", "0")

# Tests change Kafka behind the console's back and load the page at once: no shared page
# copies (tests/console/test_shared_pages.py turns them on).
os.environ.setdefault("CONSOLE_SHARED_PAGE_S", "0")
os.environ.setdefault("CONSOLE_IDENTITY_RECENT_S", "0")
os.environ.setdefault("CONSOLE_BROWSE_METADATA_S", "0")
# The back-pressure tests stop a page and count what it is held: a small buffer keeps them
# quick (deployed: 10,000 rows).
os.environ.setdefault("CONSOLE_TAIL_BUFFER", "2000")

from console.settings import *  # noqa: E402,F403
from console.settings import DATABASES, VAR_DIR  # noqa: E402

POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if POSTGRES:
    # CONSOLE_POSTGRES_DSN (CI): pytest-django creates this database on that server and
    # drops it at the end. Its name comes from the session's var dir, so every session
    # (and every subprocess of one) agrees on it, and sessions sharing a server never meet.
    TEST_DATABASE = "test_" + re.sub(r"[^a-z0-9_]", "_", VAR_DIR.name.lower())[:58]
else:
    TEST_DATABASE = str(VAR_DIR / "test.sqlite3")
DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE}
if os.environ.get("CONSOLE_TEST_SUBPROCESS"):
    DATABASES["default"]["NAME"] = TEST_DATABASE
elif not POSTGRES:
    DATABASES["default"]["NAME"] = str(VAR_DIR / "unused.sqlite3")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
