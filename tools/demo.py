"""Run the console against a local demo Kafka, with demo data, a Celery worker and the web process.

    make demo            # or: .venv/bin/python tools/demo.py [--port 8000]

Starts (and on Ctrl-C stops): a one-node KRaft Kafka on 127.0.0.1:19092, a Celery worker
(kombu's SQLAlchemy transport on SQLite unless REDIS_URL is set), a clickstream feeder, and
The web process (console/serve.py) serving the console on http://127.0.0.1:8000/. Needs Python 3.11+, Java 17+, Maven.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.serve import command  # noqa: E402
from tools.kafka.local import port_open  # noqa: E402

PY = sys.executable
USERS = [
    ("admin", "admin", "admin"),
    ("operator", "operator", "operator"),
    ("viewer", "viewer", "viewer"),
]


def run(*args: str, env: dict[str, str]) -> None:
    subprocess.run(args, cwd=ROOT, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8000")))
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--feed-rate", type=float, default=5.0, help="clicks per second")
    parser.add_argument(
        "--no-kafka", action="store_true", help="use the clusters already configured"
    )
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    env["PYTHONPATH"] = str(ROOT)
    if not args.no_kafka:
        print("· starting Kafka (first run resolves the jars with Maven)...", flush=True)
        run(PY, "-m", "tools.kafka", "start", "--port", str(args.kafka_port), env=env)
        env.setdefault("KAFKA_CLUSTERS_0_NAME", "demo")
        env.setdefault("KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS", f"127.0.0.1:{args.kafka_port}")
    print("· preparing the database and static files...", flush=True)
    run(PY, "manage.py", "migrate", "-v", "0", env=env)
    run(PY, "manage.py", "collectstatic", "--noinput", "-v", "0", env=env)
    for username, password, role in USERS:
        run(
            PY,
            "manage.py",
            "ensure_user",
            username,
            "--role",
            role,
            "--password",
            password,
            env=env,
        )
    print("· loading demo data...", flush=True)
    run(PY, "manage.py", "demo_seed", env=env)

    bin_dir = Path(PY).parent
    procs: list[subprocess.Popen] = []
    mode = "Redis" if env.get("REDIS_URL") else "embedded SQLite broker"
    print(f"· starting the Celery worker ({mode}), the feeder and the web process...", flush=True)
    procs.append(
        subprocess.Popen(
            [
                str(bin_dir / "celery"),
                "-A",
                "console",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "-B",
                "-s",
                str(Path(env.get("CONSOLE_VAR_DIR", ROOT / "var")) / "celerybeat-schedule"),
            ],
            cwd=ROOT,
            env=env,
        )
    )
    procs.append(
        subprocess.Popen(
            [PY, "manage.py", "demo_feed", "--rate", str(args.feed_rate)], cwd=ROOT, env=env
        )
    )
    # 8 live members on the 6-partition clicks topic: the group page explains the 2 idle ones.
    procs.append(subprocess.Popen([PY, "manage.py", "demo_crowd"], cwd=ROOT, env=env))
    procs.append(
        subprocess.Popen(
            command(args.port),
            cwd=ROOT,
            env=env,
        )
    )
    deadline = time.monotonic() + 60
    while not port_open(args.port) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    if port_open(args.port):
        print(
            f"\n  Kafka console: http://127.0.0.1:{args.port}/\n"
            "  Log in as admin / admin (also operator / operator, viewer / viewer).\n"
            "  Ctrl-C stops the console, the worker and Kafka.\n",
            flush=True,
        )

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                print(f"a demo process exited ({dead[0].args[0]}): stopping", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.no_kafka:
            subprocess.run([PY, "-m", "tools.kafka", "stop"], cwd=ROOT, env=env, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
