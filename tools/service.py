"""What the local service runners share (tools/registry, connect, keycloak, ldap, postgres).

Each runs one real server on loopback for the tests, the benchmarks and `python -m tools.X`:
a free loopback port, the process in a process group of its own with its output in a log
file, a readiness probe with a deadline that fails with the log's tail, and a stop of the
whole group (SIGTERM, then SIGKILL). `LocalService` is that life cycle; `run_foreground`
is the loop of `python -m tools.X run`; `run_program`, `maven_unpack` and the pid helpers
are the small steps around it.

Standard library only: CI runs tools.ldap and tools.postgres before the virtualenv exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.kafka.local import free_port, port_open, stop_process_group

__all__ = [
    "LocalService",
    "free_port",
    "get_json",
    "log_tail",
    "maven_unpack",
    "pid_alive",
    "port_open",
    "probe_json",
    "read_pid",
    "run_foreground",
    "run_program",
    "stop_command",
    "stop_pid_group",
]


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ("" while it cannot be read)."""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def get_json(url: str, timeout: float = 2.0) -> Any:
    """GET `url` and decode its JSON (None for an empty body); OSError/ValueError if the
    server does not answer or answers something else."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def probe_json(url: str, timeout: float = 2.0) -> Any:
    """`get_json`, or None while the server is not answering."""
    try:
        return get_json(url, timeout)
    except (OSError, urllib.error.URLError, ValueError):
        return None


def run_program(
    cmd: Sequence[str],
    error: type[Exception],
    *,
    shown: Sequence[str] | None = None,
    note: str = "",
    timeout: float = 60,
    **kwargs: Any,
) -> str:
    """Run a program to its end and return its output; `error` with what it printed (and
    `note`) if it fails. `shown` is how the message names the command (default `cmd`)."""
    shown = shown or cmd
    try:
        result = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{shown[0]} did not finish in {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise error(
            f"{' '.join(shown)} failed ({result.returncode}):\n{result.stdout}{result.stderr}{note}"
        )
    return result.stdout


def maven_unpack(
    pom: Path,
    properties: Mapping[str, str],
    into: Path,
    unpacked: Callable[[], object],
    what: str,
    error: type[Exception],
) -> None:
    """Once: `mvn dependency:unpack` with `pom` and `properties` into `into` (where the pom
    unpacks to), then `into/.complete`; later calls return at once. `error` unless mvn
    succeeds and `unpacked()` is true; `what` names the download in its message."""
    marker = into / ".complete"
    if marker.exists():
        return
    if shutil.which("mvn") is None:
        raise error("Maven (mvn) is not on PATH: install Maven (Debian: maven).")
    shutil.rmtree(into, ignore_errors=True)
    cmd = [
        "mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
        *(f"-D{k}={v}" for k, v in properties.items()), "dependency:unpack",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not unpacked():
        raise error(f"mvn could not fetch {what}:\n" + (result.stdout + result.stderr)[-4000:])
    marker.write_text("ok\n")


def pid_alive(pid: int) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 0)
        return True
    return False


def read_pid(path: Path) -> int | None:
    """The pid written in `path`, or None."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        return int(path.read_text())
    return None


def stop_pid_group(pid: int, timeout: float = 30) -> bool:
    """Stop the process group `pid` leads (one a `start` command left running): SIGTERM,
    then SIGKILL after `timeout`. False if it was not running."""
    if not pid_alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def stop_command(base: Path, pids: Sequence[int], *, clean: bool, what: str) -> int:
    """The `stop` of a start/stop command: stop the process groups `pids` (from the pid
    files under `base`), delete `base` with `clean`, say how many `what` stopped."""
    stopped = sum(stop_pid_group(pid) for pid in pids)
    if clean:
        shutil.rmtree(base, ignore_errors=True)
    print(f"stopped {stopped} {what}")
    return 0


class LocalService:
    """One server process on 127.0.0.1 in a process group of its own, logging to a file.

    A subclass names itself (`name`, for messages), its error class (`error`), its log
    (`log_name`, under `base_dir`) and how to tell it is up (`ready()`; `ready_url` for
    the message); its `start()` builds the command and calls `launch()`. `stop()` ends the
    whole group; a `with` block starts and stops it."""

    name = "the server"
    error: type[Exception] = RuntimeError
    tmp_prefix = "service-"
    log_name = "server.log"
    poll_interval = 0.2
    tail_lines = 30
    stop_timeout = 20.0

    def __init__(self, base_dir: Path | str | None = None, *, port: int | None = None) -> None:
        self.base_dir = (
            Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix=self.tmp_prefix))
        )
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.base_dir / self.log_name

    @property
    def ready_url(self) -> str:
        return self.base_url

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """Whether the server answers (polled by `wait_ready`)."""
        raise NotImplementedError

    def launch(
        self,
        cmd: Sequence[str],
        timeout: float,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        output: Path | None = None,
    ) -> None:
        """Start `cmd` in a session of its own, its output appended to `output` (default
        `log_file`), and wait until `ready()`; if it does not come up, stop it and raise."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with (output or self.log_file).open("ab") as out:
            self.process = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise self.exited_error(self.process.returncode)
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise self.not_ready_error(timeout)
            time.sleep(self.poll_interval)

    def exited_error(self, code: int) -> Exception:
        return self.error(
            f"{self.name} exited with code {code}: read {self.log_file}\n{self.log_tail()}"
        )

    def not_ready_error(self, timeout: float) -> Exception:
        return self.error(
            f"{self.name} did not answer {self.ready_url} in {timeout:.0f}s: "
            f"read {self.log_file}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int | None = None) -> str:
        return log_tail(self.log_file, lines or self.tail_lines)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the process group (SIGCONT, SIGTERM, then SIGKILL after `timeout`)."""
        proc, self.process = self.process, None
        stop_process_group(proc, self.stop_timeout if timeout is None else timeout)

    def start(self, timeout: float = 60.0):
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_foreground(
    service: LocalService, banner: str, *, stop: Callable[[], None] | None = None
) -> int:
    """The loop of `python -m tools.X run`: print `banner`, serve until Ctrl-C, SIGTERM or
    the server's own end, then `stop` it (default `service.stop`). The server runs in a
    session of its own, so only this stops it."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        print(banner, flush=True)
        while not stopping.wait(0.2) and service.running:
            pass
    finally:
        (stop or service.stop)()
    return 0


def start_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server (Debian's) on a free loopback port, keeping nothing on disk
    but in `directory`; its process and URL. Fails loudly when redis-server is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not port_open(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.1)
    return proc, f"redis://127.0.0.1:{port}/0"
