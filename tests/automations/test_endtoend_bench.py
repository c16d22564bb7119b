"""Smoke test of bench/endtoend.py: its whole machinery (scratch database and redis-server,
the scheduler bench's chronos, the no-op baseline, real worker and beat processes, the
receiver's arrivals matched by Idempotency-Key, the report) on 300 chronos and one minute
boundary. It waits for that boundary, so it takes 30 to 90 s. The real bench (100,000
chronos) is run by hand, never in CI."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_the_bench_delivers_every_occurrence_due_at_a_boundary_once():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("bench/endtoend.py needs a PostgreSQL server (DATABASE_URL)")
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    done = subprocess.run(
        [sys.executable, "bench/endtoend.py", "--chronos", "300", "--boundaries", "1", "--noop-messages", "200",
         "--noop-rounds", "1",
         "--pg-url", server],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert re.search(r"boundary \d\d:\d\d:00: 5 / 5 arrived", report), report
    assert "lost 0, duplicates 0" in report, report
    assert re.search(r"bare no-op \(bench/throughput.py, same worker flags\): \d+\.\d runs/s", report), report
    assert "before the next boundary: yes" in report, report
