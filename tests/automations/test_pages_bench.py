"""Smoke test of bench/pages.py: its whole machinery (a scratch database filled with SQL, the
real web process, every page with its token, session or metrics token, the report) on 500
chronos and 5,000 runs, one request a page. The real bench (100,000 chronos, 1 or 10 million
runs) is run by hand, never in CI."""

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
PAGES = ["GET /api/runs/", "admin run list", "admin run list, failed", "GET /metrics", "GET /api/chronos/",
         "GET /api/chronos/?page=10", "GET /api/chronos/?search=", "admin index (dashboard)", "admin chrono list",
         "GET /api/chronos/5/runs/"]


def test_the_bench_builds_its_data_and_times_every_page():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("bench/pages.py needs a PostgreSQL server (DATABASE_URL)")
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    db = f"pages_bench_smoke_{os.getpid()}"
    try:
        done = subprocess.run(
            [sys.executable, "bench/pages.py", "--chronos", "500", "--runs", "5000", "--repeat", "1",
             "--pg-url", server, "--db", db],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for page in PAGES:
        assert re.search(rf"{re.escape(page)}\s+p50\s+\d+\.\d\s+p95\s+\d+\.\d\s+max\s+\d+\.\d ms", done.stdout), done.stdout
