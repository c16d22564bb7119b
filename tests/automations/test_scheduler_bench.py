"""Smoke test of bench/scheduler.py: its whole machinery (scratch database, bulk build, one
beat process per scheduler, the editor, the report) on a few hundred chronos for seconds.
The real bench (100,000 chronos, minutes per scheduler) is run by hand, never in CI."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_runs_both_schedulers_and_reports_chrono_scheduler_picking_up_edits():
    done = subprocess.run(
        [sys.executable, "bench/scheduler.py", "--chronos", "200", "--databases", "sqlite",
         "--window-seconds", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert "stock DatabaseScheduler" in report and "ChronoScheduler" in report
    assert "ratios, stock / ChronoScheduler" in report
    pickups = re.search(r"edit pickup \(each\)\s+.*?((?:\d+\.\d+ s, ){2}\d+\.\d+ s)\s*$", report, re.MULTILINE)
    assert pickups, report  # ChronoScheduler's column: three numbers, none "unsent"
    assert all(float(s) < 2 for s in re.findall(r"(\d+\.\d+) s", pickups.group(1)))
