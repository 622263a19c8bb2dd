"""A production deployment on one machine, started from deploy/Procfile: web (console.serve: uvicorn),
worker and beat processes with the production settings, on a Redis and a PostgreSQL of
its own; and a small HTTP client that talks to it as a TLS-terminating proxy would.

The process list and the commands come from the Procfile itself, so a change there is what
the tests run. Each process runs as `/bin/sh -c <command>` (as honcho and foreman do) in a
session of its own, so a test can kill a whole worker (main process and pool) at once.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psutil
import psycopg

from tools.kafka.local import free_port, port_open
from tools.postgres.local import LocalPostgres
from tools.service import start_redis

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "deploy" / "Procfile"
PASSWORD = "deploy-pw-for-tests-1"


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's process types and their commands, in file order."""
    types: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        assert sep and re.fullmatch(r"[A-Za-z0-9_-]+", name.strip()), f"bad Procfile line {line!r}"
        types[name.strip()] = command.strip()
    return types


class Process:
    """One Procfile process: `/bin/sh -c command` in a session of its own, output to a log."""

    def __init__(self, kind: str, command: str, env: dict[str, str], log: Path) -> None:
        self.kind = kind
        self.log = log
        self.fh = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=ROOT,
            env=env,
            stdout=self.fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> set[int]:
        """This process and its children (a worker's pool)."""
        try:
            proc = psutil.Process(self.pid)
            return {self.pid, *(c.pid for c in proc.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.alive():
                raise RuntimeError(f"{self.kind} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind}: no {text!r} in {timeout}s:\n{self.output()[-3000:]}"
                )
            time.sleep(0.2)

    def kill_all(self) -> None:
        """SIGKILL the process and everything in its session (a worker's pool too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever of its session is left
        if self.popen.poll() is None:
            self.popen.wait(10)
        self.fh.close()


@dataclass
class Deployment:
    """Procfile processes around their own Redis and PostgreSQL; call start(), then stop()."""

    base: Path
    kafka_env: dict[str, str]
    web: int = 2
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    dsn: str = ""
    _postgres: LocalPostgres | None = None
    _redis: subprocess.Popen | None = None

    def by_kind(self, kind: str) -> list[Process]:
        return [p for p in self.processes if p.kind == kind]

    def _base_env(self) -> dict[str, str]:
        # Nothing of the test session's own configuration: the production settings module,
        # this deployment's database, broker and var dir, and the session's cluster 0.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "CONSOLE_", "KAFKA_CLUSTERS_", "CELERY_"))
            and k not in {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "PYTHONPATH"}
        }
        var = self.base / "var"
        metrics = self.base / "metrics"
        var.mkdir(exist_ok=True)
        metrics.mkdir(exist_ok=True)
        env.update(
            self.kafka_env,
            CONSOLE_PRODUCTION="1",
            CONSOLE_SECRET_KEY="production-secret-for-tests-" + uuid.uuid4().hex * 2,
            CONSOLE_ALLOWED_HOSTS="127.0.0.1",
            CONSOLE_POSTGRES_DSN=self.dsn,
            REDIS_URL=self.redis_url,
            CONSOLE_VAR_DIR=str(var),
            PROMETHEUS_MULTIPROC_DIR=str(metrics),
            CONSOLE_VENV=str(Path(sys.executable).parent.parent),
            CONSOLE_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"manage.py {args}: {result.stdout}{result.stderr}"
        return result.stdout

    def start(self) -> Deployment:
        self._postgres = LocalPostgres().start()  # its own directory, readable by postgres
        self.dsn = self._postgres.dsn
        redis_dir = self.base / "redis"
        redis_dir.mkdir()
        self._redis, self.redis_url = start_redis(redis_dir)
        self.env = self._base_env()
        # What the README's "Production" asks before starting the processes.
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "-v", "0")
        for role in ("operator", "admin"):
            self.manage("ensure_user", role, "--role", role, "--password", PASSWORD)
        commands = procfile()
        assert set(commands) == {"web", "worker", "beat"}, commands
        counts = {"web": self.web, "worker": self.workers, "beat": 1}
        for kind, command in commands.items():
            for i in range(counts[kind]):
                env = dict(self.env)
                if kind == "web":
                    port = free_port()
                    env["PORT"] = str(port)
                    self.urls.append(f"http://127.0.0.1:{port}")
                log = self.base / f"{kind}-{i}.log"
                self.processes.append(Process(kind, command, env, log))
        deadline = time.monotonic() + 120
        for url in self.urls:
            port = urlsplit(url).port
            while not port_open(port):
                dead = [p for p in self.processes if not p.alive()]
                if dead:
                    raise RuntimeError(f"{dead[0].kind} exited:\n{dead[0].output()[-3000:]}")
                assert time.monotonic() < deadline, "web processes did not listen in 120 s"
                time.sleep(0.2)
        for w in self.by_kind("worker"):
            w.wait_for(" ready.", 120)
        self.by_kind("beat")[0].wait_for("beat: Starting", 60)
        return self

    def stop(self) -> None:
        for p in self.processes:
            p.stop()
        if self._redis is not None:
            self._redis.terminate()
            self._redis.wait(10)
        if self._postgres is not None:
            self._postgres.destroy()

    # --- the database, read directly (the test process has settings of its own) ----------

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def job(self, job_id: str) -> dict:
        rows = self.query(
            "select state, worker, attempts, error, progress, result from console_job "
            "where id = %s",
            job_id,
        )
        assert rows, f"no job {job_id}"
        keys = ("state", "worker", "attempts", "error", "progress", "result")
        return dict(zip(keys, rows[0], strict=True))

    def worker_of(self, pid: int) -> Process:
        """The worker (main process and pool) that process `pid` belongs to."""
        (owner,) = [w for w in self.by_kind("worker") if pid in w.pids()]
        return owner


class Browser:
    """A logged-in user's HTTP client, behind the TLS proxy a production deployment has:
    every request says X-Forwarded-Proto: https (the settings trust it), so the secure
    cookies and the HTTPS-only checks apply as they do for a real browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def on(self, base: str) -> Browser:
        """The same user (same cookies) through another web process."""
        other = Browser(base)
        other.cookies = self.cookies
        return other

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, Message, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {
            "X-Forwarded-Proto": "https",
            "Host": f"{self.host}:{self.port}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode({**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{self.host}:{self.port}"
            headers["Referer"] = f"https://{self.host}:{self.port}{path}"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, response.headers, text  # names: any case
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, Message, str]:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> tuple[int, Message, str]:
        return self.request("POST", path, data)  # the CSRF token: the log-in's cookie

    def login(self, username: str, password: str = PASSWORD) -> Browser:
        status, _, _ = self.get("/accounts/login/")
        assert status == 200, status
        status, headers, text = self.request(
            "POST", "/accounts/login/", {"username": username, "password": password}
        )
        assert status == 302, (status, text[:2000])
        assert "sessionid" in self.cookies
        return self


def job_page_state(text: str) -> tuple[str, int | None]:
    """The job page's state and the delivered count it shows (the progress bar, the
    "delivered" fact, or the printed result, whichever the page has)."""
    state = re.search(r'id="job-status"[^>]*data-state="([a-z]+)"', text)
    assert state, text[:2000]
    patterns = (
        r'<progress id="job-progress" value="(\d+)"',
        r'data-fact="delivered"[^>]*data-value="(\d+)"',
        r"<dt>delivered</dt><dd>(\d+)</dd>",
        r"(?:&#x27;|')delivered(?:&#x27;|'): (\d+)",
    )
    for pattern in patterns:
        found = re.search(pattern, html.unescape(text) if "&#x27;" in pattern else text)
        if found:
            return state.group(1), int(found.group(1))
    return state.group(1), None


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
