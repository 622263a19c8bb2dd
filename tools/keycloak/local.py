"""Start and stop a real Keycloak on loopback: the OIDC identity provider of the tests.

Keycloak's server distribution is on Maven Central
(`org.keycloak:keycloak-quarkus-dist:<version>:zip`); `ensure_dist()` has Maven fetch and
unpack it under `tools/keycloak/.cache/` once. `LocalKeycloak` runs `kc.sh start-dev` on a
free loopback port with the test realm from `realm.json` (realm "console", client
"kafka-console", users ada/olga/vic/nog, and a service account whose token the admin REST
helpers use to change a user's groups).

Every instance gets its own copy of a template H2 database: the first start (per realm.json
and Keycloak version) imports the realm with `--import-realm` into a fresh database, stops,
and keeps that database in the cache; later starts copy it and skip the schema creation and
the import. So each start is the realm as realm.json has it, whatever earlier runs changed.

Keycloak 26 needs Java 21+: the newest JDK found (e.g. /usr/lib/jvm/temurin-25-jdk-amd64)
is put first on the PATH of kc.sh only; the machine's default java is left alone.
`KEYCLOAK_JAVA_HOME` forces a JDK.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tools.registry.local import Java, find_javas
from tools.service import LocalService, free_port, maven_unpack, probe_json

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
POM = HERE / "pom.xml"
REALM_FILE = HERE / "realm.json"

VERSION = "26.7.3"
REALM = "console"
CLIENT_ID = "kafka-console"
CLIENT_SECRET = "kafka-console-test-secret"  # a throwaway test realm's, not a real secret
# The realm's service account for the admin REST API (manage-users in realm-management).
ADMIN_CLIENT_ID = "console-tests-admin"
ADMIN_CLIENT_SECRET = "console-tests-admin-secret"
# The master realm's admin, for a person looking at `python -m tools.keycloak run`.
MASTER_ADMIN = ("admin", "admin")
# The realm's users (realm.json): user name -> (password, Keycloak group or None).
USERS = {
    "ada": ("ada-password", "kafka-admins"),
    "olga": ("olga-password", "kafka-operators"),
    "vic": ("vic-password", "kafka-viewers"),
    "nog": ("nog-password", None),
}
JAVA_NEEDED = 21


class KeycloakStartError(RuntimeError):
    """Keycloak could not be fetched or did not come up; the message says what to do."""


def choose_java() -> Java:
    """The newest JDK on this machine, if it is 21+ (KEYCLOAK_JAVA_HOME first)."""
    forced = os.environ.get("KEYCLOAK_JAVA_HOME")
    javas = find_javas()
    if forced:
        javas.sort(key=lambda j: j.home != Path(forced).resolve())
    java = next((j for j in javas if j.major >= JAVA_NEEDED), None)
    if java is None:
        raise KeycloakStartError(
            f"Keycloak {VERSION} needs Java {JAVA_NEEDED}+, found only "
            + (", ".join(f"{j.home} ({j.major})" for j in javas) or "none")
            + ": install one (e.g. /usr/lib/jvm/temurin-25-jdk-amd64) or set KEYCLOAK_JAVA_HOME."
        )
    return java


def ensure_dist(version: str = VERSION) -> Path:
    """Fetch and unpack Keycloak `version` with Maven once; the distribution's home."""
    unpacked = CACHE / f"unpacked-{version}"
    home = unpacked / f"keycloak-{version}"
    found = (home / "bin" / "kc.sh").exists
    what = f"Keycloak {version}"
    maven_unpack(POM, {"keycloak.version": version}, unpacked, found, what, KeycloakStartError)
    return home


class LocalKeycloak(LocalService):
    """One Keycloak (dev mode, in-memory database) on 127.0.0.1 with realm.json imported."""

    name = "Keycloak"
    error = KeycloakStartError
    tmp_prefix = "keycloak-"
    log_name = "keycloak.log"
    poll_interval = 0.3
    tail_lines = 40
    stop_timeout = 30.0

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        port: int | None = None,
        heap_mb: int = 512,
        realm_file: Path = REALM_FILE,
    ) -> None:
        super().__init__(base_dir, port=port)
        self.management_port = free_port()
        self.heap_mb = heap_mb
        self.realm_file = realm_file
        self.admin_user, self.admin_password = MASTER_ADMIN
        self.java: Java | None = None
        self.startup_seconds: float | None = None

    @property
    def issuer(self) -> str:
        """The realm's issuer URL (CONSOLE_OIDC_ISSUER)."""
        return f"{self.base_url}/realms/{REALM}"

    @property
    def ready_url(self) -> str:
        return self.issuer

    def _template(self) -> Path:
        """Where the database with the imported realm is kept, per realm and version."""
        digest = hashlib.sha256(self.realm_file.read_bytes() + VERSION.encode()).hexdigest()
        return CACHE / f"realm-db-{digest[:16]}"

    def _prepare(self, *, import_realm: bool) -> tuple[list[str], dict[str, str]]:
        home = ensure_dist()
        self.java = choose_java()
        if import_realm:
            # --import-realm reads the distribution's data/import/ (the same realm for all).
            imports = home / "data" / "import"
            imports.mkdir(parents=True, exist_ok=True)
            target = imports / "console-realm.json"
            if not target.exists() or target.read_bytes() != self.realm_file.read_bytes():
                tmp = imports / f".console-realm.{os.getpid()}.tmp"
                shutil.copyfile(self.realm_file, tmp)
                tmp.replace(target)
        env = dict(os.environ)
        env.update(
            JAVA_HOME=str(self.java.home),
            PATH=f"{self.java.home / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            JAVA_OPTS_KC_HEAP=f"-Xms64m -Xmx{self.heap_mb}m",
            JAVA_OPTS_APPEND=" ".join(
                [
                    "-XX:TieredStopAtLevel=1",  # C1 only: starts faster, plenty for tests
                    f"-Djava.io.tmpdir={self.base_dir}",
                    # Each instance keeps its transaction log in its own folder.
                    "-Dquarkus.transaction-manager.object-store.directory="
                    f"{self.base_dir / 'transaction-logs'}",
                ]
            ),
            KC_BOOTSTRAP_ADMIN_USERNAME=self.admin_user,
            KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
        )
        cmd = [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--db=dev-file",
            # The H2 database goes to <base_dir>/data/h2/, this instance's own.
            f"--db-url=jdbc:h2:file:{self.base_dir}/data/h2/keycloakdb;NON_KEYWORDS=VALUE",
            *(["--import-realm"] if import_realm else []),
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--cache=local",
        ]
        return cmd, env

    def ensure_template(self, timeout: float = 240.0) -> Path:
        """The database with realm.json imported, made once per realm and version: a start
        with --import-realm into a fresh database, stopped, and its files kept."""
        template = self._template()
        if (template / "keycloakdb.mv.db").exists():
            return template
        h2 = self.base_dir / "data" / "h2"
        shutil.rmtree(h2, ignore_errors=True)
        self._run(timeout, import_realm=True)
        self.stop()
        tmp = CACHE / f".{template.name}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(h2, tmp)
        with contextlib.suppress(OSError):  # another session may have won the race
            tmp.rename(template)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(h2, ignore_errors=True)
        return template

    def start(self, timeout: float = 240.0) -> LocalKeycloak:
        """Start Keycloak on a copy of the template database; return once the realm's
        discovery document answers."""
        if self.running:
            return self
        began = time.monotonic()
        template = self.ensure_template(timeout)
        h2 = self.base_dir / "data" / "h2"
        shutil.rmtree(h2, ignore_errors=True)
        shutil.copytree(template, h2)
        self._run(timeout, import_realm=False)
        self.startup_seconds = time.monotonic() - began
        return self

    def _run(self, timeout: float, *, import_realm: bool) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        cmd, env = self._prepare(import_realm=import_realm)
        self.launch(cmd, timeout, env=env, cwd=self.base_dir)

    def ready(self) -> bool:
        return self.discovery() is not None

    def discovery(self) -> dict[str, Any] | None:
        """The realm's .well-known/openid-configuration, or None while not answering."""
        return probe_json(self.issuer + "/.well-known/openid-configuration")

    def rss_bytes(self) -> int:
        """Resident memory of Keycloak's processes (kc.sh and its JVM)."""
        if self.process is None:
            return 0
        total = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                text = status.read_text()
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                pgid = os.getpgid(int(status.parent.name))
                if pgid == self.process.pid and "VmRSS" in fields:
                    total += int(fields["VmRSS"].split()[0]) * 1024
        return total

    # --- the admin REST API (the realm's service account) -------------------------

    def _admin_token(self) -> str:
        """A token of the realm's service account (manage-users)."""
        data = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": ADMIN_CLIENT_ID,
                "client_secret": ADMIN_CLIENT_SECRET,
            }
        ).encode()
        url = f"{self.issuer}/protocol/openid-connect/token"
        with urllib.request.urlopen(url, data=data, timeout=10) as resp:
            return json.loads(resp.read())["access_token"]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """One admin REST call, e.g. admin("GET", "/users?username=ada"); JSON or None."""
        request = urllib.request.Request(
            f"{self.base_url}/admin/realms/{REALM}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._admin_token()}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def user_id(self, username: str) -> str:
        users = self.admin("GET", f"/users?exact=true&username={urllib.parse.quote(username)}")
        if not users:
            raise KeyError(f"no Keycloak user {username!r} in realm {REALM}")
        return users[0]["id"]

    def set_user_groups(self, username: str, groups: list[str]) -> None:
        """Make `username` a member of exactly `groups` (top-level group names)."""
        uid = self.user_id(username)
        by_name = {g["name"]: g["id"] for g in self.admin("GET", "/groups")}
        for group in self.admin("GET", f"/users/{uid}/groups"):
            if group["name"] not in groups:
                self.admin("DELETE", f"/users/{uid}/groups/{group['id']}")
        for name in groups:
            self.admin("PUT", f"/users/{uid}/groups/{by_name[name]}")

    def user_sessions(self, username: str) -> list[dict[str, Any]]:
        """The user's open sessions at Keycloak (an RP-initiated log-out ends them)."""
        return self.admin("GET", f"/users/{self.user_id(username)}/sessions")
