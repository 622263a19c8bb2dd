"""A cluster started with dies_with_us (the tests' and the benchmarks') goes when the
process that started it dies, even by an abort: no run leaves brokers behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tools.kafka.local import LocalKafka
    k = LocalKafka(Path(sys.argv[1]), nodes=1, dies_with_us=True).start()
    print(k.nodes[0].process.pid, flush=True)
    os.abort()  # as librdkafka's failed assertions do: no finally, no atexit
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.kafka
def test_brokers_go_when_their_starter_aborts(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode != 0  # aborted
    broker = int(child.stdout.split()[0])
    deadline = time.monotonic() + 60
    while _alive(broker):
        assert time.monotonic() < deadline, "the broker outlived the process that started it"
        time.sleep(0.5)
