"""Start and stop a real Apicurio Registry on loopback, for its Confluent-compatible API.

Apicurio publishes its ready-built Quarkus application on Maven Central
(`io.apicurio:apicurio-registry-app:<version>:tar.gz:all`); `ensure_app()` has Maven fetch and
unpack it under `tools/registry/.cache/` once. The registry keeps its data in an in-memory H2
database (Apicurio's default storage), so every start is a fresh, empty registry.

The Confluent client (`confluent_kafka.schema_registry`) talks to `LocalRegistry.url`, which
ends in `/apis/ccompat/v7`.

Apicurio 3.x needs Java 21+; where only Java 17 is found, 2.6.x (which runs on 17) is used
instead. `REGISTRY_APICURIO_VERSION` forces a version, `REGISTRY_JAVA_HOME` a JDK.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tools.service import LocalService, free_port, maven_unpack, probe_json

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
POM = HERE / "pom.xml"

APICURIO_3 = "3.3.3"  # Quarkus 3.33, Java 21+
APICURIO_2 = "2.6.13.Final"  # Quarkus 3.15, Java 17+
CCOMPAT_PATH = "/apis/ccompat/v7"
# Where this project's machines keep a second, newer JDK beside Debian's OpenJDK 17.
EXTRA_JDKS = (Path("/usr/lib/jvm/temurin-25-jdk-amd64"),)


class RegistryStartError(RuntimeError):
    """The registry could not be fetched or did not come up; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Java:
    home: Path
    major: int

    @property
    def binary(self) -> Path:
        return self.home / "bin" / "java"


def _java_major(home: Path) -> int | None:
    """The major version from a JDK's `release` file (JAVA_VERSION="25.0.3"), else None."""
    release = home / "release"
    if not (home / "bin" / "java").exists() or not release.exists():
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), re.MULTILINE)
    return int(match.group(1)) if match else None


def find_javas() -> list[Java]:
    """Every JDK/JRE we can find, newest first: $REGISTRY_JAVA_HOME, $JAVA_HOME, java on
    PATH, the known extra JDKs and /usr/lib/jvm/*."""
    candidates: list[Path] = []
    for var in ("REGISTRY_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent.parent)
    candidates.extend(EXTRA_JDKS)
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates.extend(sorted(jvm.iterdir()))
    found: dict[Path, Java] = {}
    for home in candidates:
        home = home.resolve()
        major = _java_major(home)
        if major is not None and home not in found:
            found[home] = Java(home, major)
    forced = os.environ.get("REGISTRY_JAVA_HOME")
    javas = sorted(found.values(), key=lambda j: j.major, reverse=True)
    if forced:
        javas.sort(key=lambda j: j.home != Path(forced).resolve())
    return javas


def choose_runtime(version: str | None = None) -> tuple[str, Java]:
    """The Apicurio version to run (`version`, else the newest this machine's Java runs) and
    the Java to run it with."""
    javas = find_javas()
    if not javas:
        raise RegistryStartError(
            "No Java found: install a JDK (Debian: openjdk-17-jre-headless; Apicurio 3 "
            "wants Java 21+, e.g. /usr/lib/jvm/temurin-25-jdk-amd64)."
        )
    version = version or os.environ.get("REGISTRY_APICURIO_VERSION")
    version = version or (APICURIO_3 if javas[0].major >= 21 else APICURIO_2)
    need = 21 if version.startswith("3.") else 17
    java = next((j for j in javas if j.major >= need), None)
    if java is None:
        raise RegistryStartError(
            f"Apicurio {version} needs Java {need}+, found only "
            + ", ".join(f"{j.home} ({j.major})" for j in javas)
            + ": set REGISTRY_JAVA_HOME to a newer JDK."
        )
    return version, java


def ensure_app(version: str = APICURIO_3) -> Path:
    """Fetch and unpack Apicurio `version` with Maven once; later calls reuse the cache."""
    app_dir = CACHE / f"apicurio-{version}"
    found = partial(_launcher, app_dir)  # the jar to run, once unpacked
    what = f"Apicurio Registry {version}"
    maven_unpack(POM, {"apicurio.version": version}, app_dir, found, what, RegistryStartError)
    return app_dir


def _launcher(app_dir: Path) -> Path | None:
    """The jar to run: quarkus-run.jar (fast-jar, 3.x) or *-runner.jar (uber-jar, 2.x)."""
    fast = app_dir / "quarkus-run.jar"
    if fast.exists():
        return fast
    return next(iter(sorted(app_dir.glob("*-runner.jar"))), None)


class LocalRegistry(LocalService):
    """One Apicurio Registry JVM on 127.0.0.1 with in-memory storage; logs under `base_dir`."""

    kind = "apicurio"
    name = "Apicurio Registry"
    error = RegistryStartError
    tmp_prefix = "registry-"
    log_name = "registry.log"

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        port: int | None = None,
        heap_mb: int = 384,
        version: str | None = None,
    ) -> None:
        super().__init__(base_dir, port=port)
        # Quarkus's management interface (health, metrics) is on at build time: give it a
        # loopback port of its own so it never takes the default 9000.
        self.management_port = free_port()
        self.heap_mb = heap_mb
        self.version = version
        self.java: Java | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        """The URL for SchemaRegistryClient({"url": ...}): Apicurio's Confluent-compatible API."""
        return self.base_url + CCOMPAT_PATH

    @property
    def ready_url(self) -> str:
        return self.url + "/subjects"

    def command(self) -> list[str]:
        self.version, self.java = choose_runtime(self.version)
        version, java = self.version, self.java
        launcher = _launcher(ensure_app(version))
        assert launcher is not None
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": self.port,
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": self.management_port,
        }
        # A test registry needs a handful of database connections, not production's 20.
        pool = "apicurio.datasource.jdbc" if version.startswith("3.") else "quarkus.datasource.jdbc"
        props |= {f"{pool}.initial-size": 2, f"{pool}.min-size": 2}
        return [
            str(java.binary),
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # C1 only: starts faster, plenty for tests
            f"-Djava.io.tmpdir={self.base_dir}",
            *(f"-D{k}={v}" for k, v in props.items()),
            "-jar",
            str(launcher),
        ]

    def start(self, timeout: float = 90.0) -> LocalRegistry:
        """Start the JVM and return once GET /subjects answers 200."""
        if self.running:
            return self
        self.base_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        began = time.monotonic()
        self.launch(cmd, timeout, cwd=self.base_dir)
        self.startup_seconds = time.monotonic() - began
        return self

    def ready(self) -> bool:
        return self.subjects() is not None

    def subjects(self) -> list[str] | None:
        """GET /subjects, or None while the registry is not answering."""
        return probe_json(self.url + "/subjects")
