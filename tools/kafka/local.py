"""Start and stop a real Apache Kafka (KRaft) on loopback, from the jars Maven resolved.

One node (`nodes=1`) runs broker and controller in one JVM. Three nodes (`nodes=3`) run three
combined broker+controller JVMs with a static three-voter quorum, so replication, ISR and
broker failures are real. Used by the demo, the test fixtures and the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBS = HERE / ".cache" / "libs"

LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
"""


class KafkaStartError(RuntimeError):
    """The broker did not come up; the message names the log to read."""


def _pom_digest() -> str:
    import hashlib

    return hashlib.sha256((HERE / "pom.xml").read_bytes()).hexdigest()[:16]


def ensure_jars() -> Path:
    """Resolve the Kafka jars with Maven once per version of pom.xml; later calls reuse the
    cache. A changed pom is resolved into a fresh directory that then replaces the old one,
    so no stale jar (an older slf4j-api, say) stays on the classpath."""
    import fcntl

    marker = LIBS / ".complete"
    digest = _pom_digest()
    if marker.exists() and marker.read_text().strip() == digest:
        return LIBS
    if shutil.which("mvn") is None:
        raise KafkaStartError("Maven (mvn) is not on PATH: install Maven and Java 17+.")
    LIBS.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (test sessions, the demo) may fetch at once: one does, the rest wait.
    with open(LIBS.parent / "fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == digest:
            return LIBS
        fresh = LIBS.parent / "libs.new"
        shutil.rmtree(fresh, ignore_errors=True)
        cmd = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(HERE / "pom.xml"),
            "dependency:copy-dependencies",
            f"-Dkafka.libs={fresh}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise KafkaStartError("mvn could not resolve the Kafka jars:\n" + result.stdout[-4000:])
        (fresh / ".complete").write_text(digest + "\n")
        # Running JVMs keep the jars they opened; the old directory goes on the next fetch.
        old = LIBS.parent / "libs.old"
        shutil.rmtree(old, ignore_errors=True)
        if LIBS.exists():
            LIBS.rename(old)
        fresh.rename(LIBS)
    return LIBS


def stop_process_group(proc: subprocess.Popen | None, timeout: float) -> None:
    """Stop a process started in its own session, and its children: SIGCONT (it may be
    paused), SIGTERM, then SIGKILL after `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether a listener could bind `port` on loopback now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    sasl_port: int = 0
    ssl_port: int = 0
    process: subprocess.Popen | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"


class LocalKafka:
    """A Kafka cluster of `nodes` JVMs on 127.0.0.1, data under `base_dir`."""

    def __init__(
        self,
        base_dir: Path | str,
        *,
        nodes: int = 1,
        port: int | None = None,
        heap_mb: int | None = None,
        broker_config: dict[str, str] | None = None,
        scram_users: dict[str, str] | None = None,
        tls: bool = False,
        dies_with_us: bool = False,
    ) -> None:
        self.base_dir = Path(base_dir)
        # The brokers get SIGTERM when the thread that started them dies, even by a crash
        # (util-linux's setpriv; exec keeps the pid): a test run or benchmark that aborts
        # leaves no cluster behind taking the next run's memory and CPU. Not for the demo's
        # cluster, which outlives the command that starts it.
        self.dies_with_us = dies_with_us
        self.heap_mb = heap_mb or (512 if nodes == 1 else 320)
        self.broker_config = broker_config or {}
        # SCRAM-SHA-512 users (name -> password) served on an extra SASL_PLAINTEXT listener.
        self.scram_users = scram_users or {}
        # An extra SSL listener with a certificate from a throwaway CA (ca_file).
        self.tls = tls
        self.cluster_id = uuid.uuid4().hex[:22]
        first = port
        self.nodes: list[Node] = []
        for i in range(nodes):
            p = first + 2 * i if first else free_port()
            # Beside the broker's port when free; otherwise any free one (a port picked as
            # free by a caller says nothing of the one after it).
            cp = first + 2 * i + 1 if first and port_free(first + 2 * i + 1) else free_port()
            self.nodes.append(Node(i + 1, p, cp, self.base_dir / f"node{i + 1}"))
            if self.scram_users:
                self.nodes[-1].sasl_port = free_port()
            if tls:
                self.nodes[-1].ssl_port = free_port()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def ca_file(self) -> Path:
        return self.base_dir / "tls" / "ca.pem"

    @property
    def ssl_bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.ssl_port}" for n in self.nodes)

    def _make_certificates(self) -> None:
        """A CA and one broker certificate for 127.0.0.1, with openssl."""
        d = self.base_dir / "tls"
        if (d / "keystore.pem").exists():
            return
        d.mkdir(parents=True, exist_ok=True)

        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        run(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3",
            "-subj",
            "/CN=kafka-console-test-ca",
        )
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "broker.key",
            "-out",
            "broker.csr",
            "-subj",
            "/CN=localhost",
        )
        (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run(
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "broker.pem",
            "-days",
            "3",
            "-extfile",
            "san.ext",
        )
        (d / "keystore.pem").write_text(
            (d / "broker.key").read_text() + (d / "broker.pem").read_text()
        )

    @property
    def sasl_bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.sasl_port}" for n in self.nodes)

    def _properties(self, node: Node) -> dict[str, str]:
        n = len(self.nodes)
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self.nodes)
        rf = str(min(3, n))
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(node.data_dir / "logs"),
            "num.partitions": "6",
            "default.replication.factor": "1" if n == 1 else rf,
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "broker.rack": f"rack-{(node.node_id - 1) % 2 + 1}" if n > 1 else "",
            # Let three-broker tests notice a stopped broker quickly.
            "replica.lag.time.max.ms": "10000",
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "1000",
        }
        if not props["broker.rack"]:
            del props["broker.rack"]
        if self.scram_users:
            props["listeners"] += f",SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}"
            props["advertised.listeners"] += f",SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}"
            props["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
            props["sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
            props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        if self.tls:
            d = self.base_dir / "tls"
            props["listeners"] += f",SSL://127.0.0.1:{node.ssl_port}"
            props["advertised.listeners"] += f",SSL://127.0.0.1:{node.ssl_port}"
            props["listener.security.protocol.map"] += ",SSL:SSL"
            props["ssl.keystore.type"] = "PEM"
            props["ssl.keystore.location"] = str(d / "keystore.pem")
            props["ssl.truststore.type"] = "PEM"
            props["ssl.truststore.location"] = str(d / "ca.pem")
        props.update(self.broker_config)
        props.update(node.extra)
        return props

    def _java(self, main: str, *args: str, heap_mb: int = 256) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise KafkaStartError("java is not on PATH: install Java 17+.")
        return [
            java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 128)}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            "-cp",
            str(LIBS / "*"),
            main,
            *args,
        ]

    def _write_config(self, node: Node) -> None:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in self._properties(node).items()]
        node.config_file.write_text("\n".join(lines) + "\n")
        (node.data_dir / "log4j2.properties").write_text(
            LOG4J2.format(log=node.log_file, level=os.environ.get("KAFKA_LOG_LEVEL", "INFO"))
        )

    def _format(self, node: Node) -> None:
        if (node.data_dir / "logs" / "meta.properties").exists():
            return
        cmd = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(node.config_file),
            "--ignore-formatted",
            *[
                arg
                for user, password in self.scram_users.items()
                for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")
            ],
            heap_mb=256,
        )
        env = self._env(node)
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise KafkaStartError(
                f"formatting {node.data_dir} failed:\n{result.stdout}{result.stderr}"
            )

    def _env(self, node: Node) -> dict[str, str]:
        env = dict(os.environ)
        env["LOG_DIR"] = str(node.data_dir)
        return env

    def start(self, timeout: float = 90.0) -> LocalKafka:
        """Format storage (first time) and start every node; wait until all accept connections."""
        ensure_jars()
        if self.tls:
            self._make_certificates()
        for node in self.nodes:
            self._write_config(node)
            self._format(node)
        for node in self.nodes:
            self.start_node(node.node_id, wait=False)
        self.wait_ready(timeout)
        return self

    def start_node(self, node_id: int, *, wait: bool = True, timeout: float = 60.0) -> None:
        node = self.node(node_id)
        if node.process and node.process.poll() is None:
            return
        cmd = self._java("kafka.Kafka", str(node.config_file), heap_mb=self.heap_mb)
        cmd.insert(1, f"-Dlog4j2.configurationFile={node.data_dir / 'log4j2.properties'}")
        if self.dies_with_us and (setpriv := shutil.which("setpriv")):
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
        out = open(node.data_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the process
        node.process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=self._env(node), start_new_session=True
        )
        (node.data_dir / "pid").write_text(str(node.process.pid))
        if wait:
            self._wait_nodes([node], timeout)

    def wait_ready(self, timeout: float = 90.0) -> None:
        self._wait_nodes(self.nodes, timeout)

    def _wait_nodes(self, nodes: list[Node], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        while pending:
            for node in list(pending):
                if node.process and node.process.poll() is not None:
                    raise KafkaStartError(
                        f"Kafka node {node.node_id} exited with {node.process.returncode}; "
                        f"read {node.log_file} and {node.data_dir / 'stdout.log'}"
                    )
                if port_open(node.port):
                    pending.remove(node)
            if pending and time.monotonic() > deadline:
                raise KafkaStartError(
                    f"Kafka node(s) {[n.node_id for n in pending]} not listening after "
                    f"{timeout:.0f}s; read {pending[0].log_file}"
                )
            if pending:
                time.sleep(0.2)

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id - 1]

    def stop_node(self, node_id: int, *, timeout: float = 30.0) -> None:
        """Stop one node cleanly (SIGTERM, then SIGKILL after `timeout`)."""
        stop_process_group(self.node(node_id).process, timeout)

    def kill_node(self, node_id: int) -> None:
        """Kill one node without a clean shutdown (SIGKILL)."""
        node = self.node(node_id)
        if node.process and node.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(10)

    def pause_node(self, node_id: int) -> None:
        """Freeze a node (SIGSTOP): it keeps its sockets open but answers nothing."""
        os.killpg(self.node(node_id).process.pid, signal.SIGSTOP)

    def resume_node(self, node_id: int) -> None:
        os.killpg(self.node(node_id).process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop all nodes in parallel: brokers first would wait on a quorum that is leaving."""
        procs = [n.process for n in self.nodes if n.process and n.process.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def java_tool(self, main: str, *args: str, timeout: float = 60) -> str:
        """Run one of Kafka's own command-line tools (e.g. ConsumerGroupCommand); return stdout."""
        cmd = self._java(main, *args, heap_mb=256)
        cmd.insert(1, "-Dlog4j2.level=WARN")
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{main} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout


def authorizer_config(*super_users: str, allow_if_no_acl: bool = True) -> dict[str, str]:
    """broker_config for KRaft's StandardAuthorizer (the ACL tests use it on their own broker).

    User:ANONYMOUS (the PLAINTEXT and CONTROLLER listeners, so the controller and plain
    clients) is always a super user; `super_users` adds others (e.g. "User:admin" on SASL).
    With `allow_if_no_acl`, a resource without ACLs stays open to everyone, as before."""
    users = ["User:ANONYMOUS", *super_users]
    return {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true" if allow_if_no_acl else "false",
        "super.users": ";".join(dict.fromkeys(users)),
    }
