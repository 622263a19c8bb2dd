"""Start and stop a real Kafka Connect worker (distributed mode) on loopback.

It runs from the jars tools/kafka resolved from Maven Central (connect-runtime comes with
kafka-tools); the file connectors (connect-file: FileStreamSource, FileStreamSink) are
loaded from a plugin path of their own, as a deployment would. Used by the test fixture
``connect_worker`` and by ``python -m tools.connect``.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import uuid
from pathlib import Path

from tools.kafka.local import HERE as KAFKA_HERE
from tools.kafka.local import LOG4J2, KafkaStartError, ensure_jars
from tools.service import LocalService, get_json

PLUGINS = KAFKA_HERE / ".cache" / "connect-plugins"
MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"


class ConnectStartError(RuntimeError):
    """The worker did not come up; the message names the log to read."""


def plugin_path() -> Path:
    """A plugin directory holding connect-file (copied from the resolved jars)."""
    libs = ensure_jars()
    jars = sorted(libs.glob("connect-file-*.jar"))
    if not jars:
        raise ConnectStartError(
            f"connect-file is not among the jars in {libs}: run `python -m tools.kafka fetch`"
        )
    target = PLUGINS / "connect-file"
    target.mkdir(parents=True, exist_ok=True)
    for jar in jars:
        dest = target / jar.name
        if not dest.exists():
            shutil.copy2(jar, dest)
    return PLUGINS


class LocalConnect(LocalService):
    """One Connect worker in distributed mode against `bootstrap`, REST on 127.0.0.1:`port`."""

    name = "the Connect worker"
    error = ConnectStartError
    poll_interval = 0.5
    log_name = "connect.log"
    url = LocalService.base_url  # the REST API

    def __init__(
        self,
        base_dir: Path | str,
        *,
        bootstrap: str,
        port: int | None = None,
        topic_creation: bool = True,
        heap_mb: int = 256,
        group_id: str | None = None,
    ) -> None:
        super().__init__(base_dir, port=port)
        self.bootstrap = bootstrap
        self.topic_creation = topic_creation
        self.heap_mb = heap_mb
        self.group_id = group_id or f"connect-{uuid.uuid4().hex[:8]}"
        self._not_ready = ""

    @property
    def config_file(self) -> Path:
        return self.base_dir / "worker.properties"

    def properties(self) -> dict[str, str]:
        g = self.group_id
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": g,
            "listeners": f"http://127.0.0.1:{self.port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "plugin.path": str(plugin_path()),
            # Plain strings: a FileStreamSource line arrives in Kafka as that line.
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "config.storage.topic": f"{g}-configs",
            "offset.storage.topic": f"{g}-offsets",
            "status.storage.topic": f"{g}-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "3",
            "status.storage.partitions": "1",
            "offset.flush.interval.ms": "1000",
            "topic.creation.enable": "true" if self.topic_creation else "false",
            # One worker: no grace period waiting for a departed member's tasks.
            "scheduled.rebalance.max.delay.ms": "0",
            "connector.client.config.override.policy": "All",
            "task.shutdown.graceful.timeout.ms": "2000",
        }

    def _classpath(self) -> str:
        # Everything but connect-file, which the plugin path loads in isolation.
        libs = ensure_jars()
        jars = [str(j) for j in sorted(libs.glob("*.jar")) if not j.name.startswith("connect-file")]
        return os.pathsep.join(jars)

    def start(self, timeout: float = 120.0) -> LocalConnect:
        """Write the config, start the JVM and wait until the REST API lists the plugins."""
        java = shutil.which("java")
        if java is None:
            raise ConnectStartError("java is not on PATH: install Java 17+.")
        try:
            ensure_jars()
        except KafkaStartError as exc:
            raise ConnectStartError(str(exc)) from None
        self.base_dir.mkdir(parents=True, exist_ok=True)
        props = self.properties()
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log4j = self.base_dir / "log4j2.properties"
        log4j.write_text(
            LOG4J2.format(log=self.log_file, level=os.environ.get("CONNECT_LOG_LEVEL", "INFO"))
        )
        cmd = [
            java,
            f"-Xmx{self.heap_mb}m",
            f"-Xms{min(self.heap_mb, 128)}m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            self._classpath(),
            MAIN,
            str(self.config_file),
        ]
        self.launch(cmd, timeout, cwd=self.base_dir, output=self.base_dir / "stdout.log")
        (self.base_dir / "pid").write_text(str(self.process.pid))
        return self

    def get(self, path: str, timeout: float = 5.0):
        return get_json(self.url + path, timeout)

    def ready(self) -> bool:
        """The REST API lists the file connectors (and the herder answers)."""
        try:
            plugins = self.get("/connector-plugins", timeout=2)
            # The herder answers only once it joined the group and read the config topic.
            self.get("/connectors", timeout=2)
            if any("FileStreamSource" in p.get("class", "") for p in plugins):
                return True
            self._not_ready = f"no FileStreamSource among the plugins: {plugins}"
        except (OSError, urllib.error.URLError, ValueError) as exc:
            self._not_ready = str(exc)
        return False

    def exited_error(self, code: int) -> Exception:
        return ConnectStartError(
            f"the Connect worker exited with {code}; read "
            f"{self.log_file} and {self.base_dir / 'stdout.log'}:\n{self.tail()}"
        )

    def not_ready_error(self, timeout: float) -> Exception:
        return ConnectStartError(
            f"the Connect worker at {self.url} was not ready after {timeout:.0f}s "
            f"({self._not_ready}); read {self.log_file}:\n{self.tail()}"
        )

    def tail(self, chars: int = 3000) -> str:
        text = ""
        for f in (self.base_dir / "stdout.log", self.log_file):
            if f.exists():
                text += f"--- {f.name}\n" + f.read_text(errors="replace")[-chars:]
        return text

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
