"""Screenshots of every page at 1440x900 light and dark and at 390x844, to look at.

    make screenshots                                    # its own stack (below)
    .venv/bin/python tools/screenshots.py --only cluster
    SCREENSHOTS_URL=http://127.0.0.1:8000 make screenshots   # a running `make demo`

Its own stack, so it works the same on any machine and never touches your demo: a one-node
Kafka on free ports in a temporary folder, then `tools/demo.py --no-kafka` on a temporary
var dir (migrate, users, demo data, Celery worker with beat, feeder, consumer crowd,
web process), with both samplers every 2 s so the dashboard's chart and lag have points. Logs
in as admin, walks the main pages (and every tab of a topic), and writes
screenshots/<viewport>/<nn>-<page>.png (the first screen; <nn>-<page>.full.png the whole
page when longer) plus screenshots/index.html; then stops it all.
Needs what `make demo` needs, and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.kafka.local import LocalKafka, free_port  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SAMPLE_S = "2"


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    scheme: str  # "light" or "dark": the system preference the page sees
    mobile: bool = False


VIEWPORTS = (
    Viewport("1440-light", 1440, 900, "light"),
    Viewport("1440-dark", 1440, 900, "dark"),
    Viewport("390-light", 390, 844, "light", mobile=True),
)


class Stack:
    """Kafka + tools/demo.py on free ports and a temporary var dir."""

    def __init__(self, *, dev: bool = False) -> None:
        self.dev = dev
        self.tmp = Path(tempfile.mkdtemp(prefix="console-screenshots-"))
        self.kafka: LocalKafka | None = None
        self.demo: subprocess.Popen | None = None
        self.log = self.tmp / "demo.log"
        self.url = ""

    def start(self) -> str:
        print("· starting Kafka...", flush=True)
        self.kafka = LocalKafka(self.tmp / "kafka", nodes=1)
        self.kafka.start()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_CLUSTERS_")}
        env.pop("CONSOLE_CLUSTERS_FILE", None)
        env.update(
            DJANGO_SETTINGS_MODULE="console.settings",
            CONSOLE_VAR_DIR=str(self.tmp / "var"),
            KAFKA_CLUSTERS_0_NAME="demo",
            KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS=self.kafka.bootstrap_servers,
            CONSOLE_THROUGHPUT_SAMPLE_S=SAMPLE_S,
            CONSOLE_LAG_SAMPLE_S=SAMPLE_S,
            PYTHONUNBUFFERED="1",
        )
        if self.dev:  # templates and static files read afresh at each request
            env["CONSOLE_DEBUG"] = "1"
        print(f"· starting the demo console on port {port} (log: {self.log})...", flush=True)
        with open(self.log, "wb") as out:
            self.demo = subprocess.Popen(
                [sys.executable, "tools/demo.py", "--no-kafka", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while "Kafka console: http" not in self.log.read_text(errors="replace"):
            if self.demo.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self.demo and self.demo.poll() is None:
            self.demo.send_signal(signal.SIGTERM)  # demo.py stops its worker, feeder, web process
            try:
                self.demo.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.demo.pid, signal.SIGKILL)
        if self.kafka:
            self.kafka.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)


def log_in(page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/clusters/$"))


def settle(page) -> None:
    """Let htmx, charts and the live tail finish drawing before the picture."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(400)
    if page.locator(".chart").count():
        page.locator(".chart .uplot").first.wait_for(timeout=5000)
    page.wait_for_timeout(300)


def plan(page, base: str, cluster: str, wait_samples: float) -> list[tuple[str, str]]:
    """(name, url) of the pages to take, found by following the pages' own links."""
    c = f"{base}/clusters/{cluster}"
    # Wait for a few throughput samples, so the chart is more than an empty state.
    deadline = time.monotonic() + wait_samples
    page.goto(f"{c}/")
    while page.locator("#rate-table tbody tr").count() < 5 and time.monotonic() < deadline:
        page.wait_for_timeout(2000)
        page.goto(f"{c}/")
    pages = [("clusters", f"{base}/clusters/"), ("cluster", f"{c}/")]
    broker = page.locator('#broker-table a:has-text("configs")').first
    if broker.count():
        pages.append(("broker", base + broker.get_attribute("href")))
    pages.append(("topics", f"{c}/topics/"))
    page.goto(f"{c}/topics/")
    topic = "clicks" if page.locator('[data-topic="clicks"]').count() else ""
    if not topic and page.locator("[data-topic]").count():
        topic = page.locator("[data-topic]").first.get_attribute("data-topic")
    if topic:
        page.goto(f"{c}/topics/{topic}/")
        for i, link in enumerate(page.locator("nav.tabs a").all()):
            label = re.sub(r"[^a-z0-9]+", "-", link.inner_text().strip().lower()).strip("-")
            pages.append((f"topic-{i}-{label}", base + link.get_attribute("href")))
    pages.append(("topic-create", f"{c}/topics/+new/"))
    pages.append(("groups", f"{c}/groups/"))
    page.goto(f"{c}/groups/")
    group_link = page.locator("table a[href*='/groups/']").first
    if group_link.count():
        group_url = base + group_link.get_attribute("href")
        pages.append(("group", group_url))
        target = "?target=earliest" + (f"&topic={topic}" if topic else "")
        pages.append(("group-reset-preview", f"{group_url}reset/{target}"))
    pages.append(("audit", f"{base}/audit/"))
    # A job: the cluster page's "Check the task worker" queues one and opens its page.
    page.goto(f"{c}/")
    page.click("text=Check the task worker")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    page.wait_for_timeout(3000)  # let it finish, so the report shows
    pages.append(("job", page.url))
    pages.append(("not-found", f"{c}/topics/no-such-topic/"))
    return pages


def write_index(out: Path, names: list[str]) -> None:
    rows = []
    for name in names:
        cells = "".join(
            f'<td><a href="{v.name}/{name}.png"><img src="{v.name}/{name}.png" loading="lazy"></a></td>'
            for v in VIEWPORTS
        )
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    head = "".join(f"<th>{v.name}</th>" for v in VIEWPORTS)
    (out / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Screenshots</title>"
        "<style>body{font:14px system-ui;margin:1rem}td{vertical-align:top}"
        "img{width:360px;border:1px solid #ccc}th{text-align:left}</style>"
        f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("SCREENSHOTS_URL", ""))
    parser.add_argument("--user", default=os.environ.get("SCREENSHOTS_USER", "admin"))
    parser.add_argument("--password", default=os.environ.get("SCREENSHOTS_PASSWORD", "admin"))
    parser.add_argument("--cluster", default="", help="default: the first cluster listed")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument(
        "--only", default="", help="only pages whose name contains one of these (a,b,...)"
    )
    parser.add_argument(
        "--wait-samples", type=float, default=40, help="seconds to wait for chart samples"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only start the stack and keep it until Ctrl-C (then run again with --url)",
    )
    parser.add_argument(
        "--dev", action="store_true", help="with --serve: DEBUG on, so edits show at once"
    )
    args = parser.parse_args()
    if args.serve:
        stack = Stack(dev=args.dev)
        try:
            print(f"\n  {stack.start()}  (admin / admin); Ctrl-C stops it\n", flush=True)
            for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT too when started with &
                signal.signal(sig, lambda *_: sys.exit(0))
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop()
        return 0

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium (or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    stack = None if args.url else Stack()
    out = Path(args.out)
    try:
        base = (args.url or stack.start()).rstrip("/")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            # The log-in page itself, before logging in.
            login_shots = [("login", f"{base}/accounts/login/")]
            log_in(page, base, args.user, args.password)
            cluster = args.cluster or page.locator("[data-cluster]").first.get_attribute(
                "data-cluster"
            )
            pages = plan(page, base, cluster, 0 if args.url else args.wait_samples)
            state = context.storage_state()
            context.close()
            shots = login_shots + pages
            shots = [(f"{i:02d}-{n}", u) for i, (n, u) in enumerate(shots, 1)]
            if args.only:
                wanted = [w for w in args.only.split(",") if w]
                shots = [(n, u) for n, u in shots if any(w in n for w in wanted)]
            if out.exists():
                shutil.rmtree(out)
            for v in VIEWPORTS:
                (out / v.name).mkdir(parents=True)
                for name, url in shots:
                    ctx = browser.new_context(
                        viewport={"width": v.width, "height": v.height},
                        color_scheme=v.scheme,
                        is_mobile=v.mobile,
                        has_touch=v.mobile,
                        storage_state=None if name.endswith("-login") else state,
                    )
                    p = ctx.new_page()
                    p.set_default_timeout(20_000)
                    p.goto(url)
                    settle(p)
                    # What a person sees first, and the whole page when it is longer.
                    p.screenshot(path=out / v.name / f"{name}.png")
                    if p.evaluate("document.documentElement.scrollHeight") > v.height + 8:
                        p.screenshot(path=out / v.name / f"{name}.full.png", full_page=True)
                    ctx.close()
                print(f"· {v.name}: {len(shots)} pages", flush=True)
            browser.close()
        write_index(out, [n for n, _ in shots])
        print(f"\n  {len(shots) * len(VIEWPORTS)} screenshots in {out}/ (index.html)\n")
    finally:
        if stack:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
