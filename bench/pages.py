"""How fast the pages an operator and a monitoring system read are, at 100,000 chronos and millions of runs.

    .venv/bin/python bench/pages.py                                  # 100,000 chronos, 1,000,000 runs
    .venv/bin/python bench/pages.py --runs 10000000                  # 10 million runs (generation: minutes)
    .venv/bin/python bench/pages.py --code /tmp/old-checkout         # the same pages on another checkout

It (re)creates a scratch PostgreSQL database (``--db`` on ``--pg-url``'s server), migrates it
with the checkout's own ``manage.py``, fills it with SQL (``generate_series``, not the ORM),
starts the real web process (the checkout's gunicorn command line) and times each page
``--repeat`` times after two warm-up requests, with a token (API), a staff session (admin)
or the metrics token. It prints p50/p95/max per page in milliseconds.

The data: chronos are HTTP chronos on hourly crontabs, 2 % of them failing; runs arrive at
one a second (86,400 a day) across the chronos, newest now; 90 % success, 7 % failed, 2 %
timeout, 1 % skipped, and 50 pending or running at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench0123456789abcdef0123456789abcdef000"
METRICS_TOKEN = "bench-metrics-token"
PASSWORD = "bench-pass-1"


def pages(chrono_id: int, last_page: int) -> list[tuple[str, str, str]]:
    """(label, path, how) for each page the issue lists; how: token, admin or metrics."""
    return [
        ("GET /api/runs/", "/api/runs/", "token"),
        ("admin run list", "/admin/automations/chronorun/", "admin"),
        ("admin run list, failed", "/admin/automations/chronorun/?status__exact=failed", "admin"),
        ("GET /metrics", "/metrics", "metrics"),
        ("GET /api/chronos/", "/api/chronos/", "token"),
        (f"GET /api/chronos/?page={last_page}", f"/api/chronos/?page={last_page}", "token"),
        ("GET /api/chronos/?search=", "/api/chronos/?search=chrono%2012345", "token"),
        ("admin index (dashboard)", "/admin/", "admin"),
        ("admin chrono list", "/admin/automations/chrono/", "admin"),
        (f"GET /api/chronos/{chrono_id}/runs/", f"/api/chronos/{chrono_id}/runs/", "token"),
    ]


# --- Data --------------------------------------------------------------------------------------

CHRONOS_SQL = """
INSERT INTO automations_chrono (
    name, description, schedule, schedule_kind, schedule_expression, run_at, timezone,
    target_type, method, url, headers, payload, timeout_ms, channel_id, message_template, recipients,
    function_id, extras, is_active, is_recurring, next_run_at, last_run_at, last_run_status, last_error,
    periodic_task_id, max_attempts, backoff_ms, misfire_policy, catchup_window_s, overlap_policy,
    created_at, updated_at, attachment_kind, attachment_url, attachment_file, attachment_filename,
    attachment_mimetype, routine)
SELECT 'chrono ' || g, '', (g %% 60) || ' * * * *', 'cron', (g %% 60) || ' * * * *', NULL, 'UTC',
       'HTTP', 'POST', 'http://127.0.0.1:9/hook/' || g, '{}', '{"n": 1}', NULL, NULL, '', '[]',
       NULL, '{}', g %% 20 <> 0, true,
       date_trunc('hour', now()) + interval '1 hour' + (g %% 60) * interval '1 minute',
       now() - (g %% 3600) * interval '1 second',
       CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'success' END,
       CASE WHEN g %% 50 = 0 THEN 'HTTP 500: boom' ELSE '' END,
       NULL, NULL, NULL, 'run_once', 3600, 'skip', now() - interval '200 days', now() - interval '1 day',
       '', '', '', '', '', ''
FROM generate_series(1, %(chronos)s::int) AS g
"""

# Run g is scheduled (runs - g) seconds ago, for chrono 1 + g mod chronos: unique per occurrence.
RUNS_SQL = """
INSERT INTO automations_chronorun (
    chrono_id, scheduled_for, trigger, status, attempt, started_at, finished_at, duration_ms, http_status,
    response_snippet, error_message, result, input, attempts, next_attempt_at, created_at)
SELECT c, t, 'schedule', s, 1, t + lateness, t + lateness + d * interval '1 millisecond', d,
       CASE s WHEN 'success' THEN 200 WHEN 'failed' THEN 500 END, '', CASE s WHEN 'failed' THEN 'HTTP 500: boom' ELSE '' END,
       NULL, NULL, '[]', NULL, t
FROM (
    SELECT 1 + g %% %(chronos)s::int AS c,
           date_trunc('second', now()) - (%(total)s::bigint - g) * interval '1 second' AS t,
           CASE WHEN g %% 100 < 90 THEN 'success' WHEN g %% 100 < 97 THEN 'failed'
                WHEN g %% 100 < 99 THEN 'timeout' ELSE 'skipped' END AS s,
           ((g * 7919) %% 2000) * interval '1 millisecond' AS lateness,
           10 + (g * 104729) %% 3000 AS d
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
) AS rows
"""

LIVE_SQL = """
UPDATE automations_chronorun SET status = CASE WHEN id % 2 = 0 THEN 'pending' ELSE 'running' END,
       finished_at = NULL, duration_ms = NULL
WHERE id IN (SELECT id FROM automations_chronorun ORDER BY scheduled_for DESC LIMIT 50)
"""

# automations/runs/tallies.py's counters, computed in SQL from the runs (bucket: ms rounded up to 2 significant figures).
BUCKET = "(CASE WHEN v < 100 THEN v ELSE ceil(v / 10.0 ^ (length(v::text) - 2)) * 10 ^ (length(v::text) - 2) END)::bigint"
TALLY_SQL = f"""
INSERT INTO automations_runtally (hour, target_type, status, metric, value_ms, n, total_ms)
SELECT hour, target_type, status, metric, value_ms, count(*), sum(total)
FROM (
    SELECT h AS hour, 'HTTP' AS target_type, status, m AS metric,
           CASE WHEN m = 'runs' THEN 0 ELSE {BUCKET} END AS value_ms,
           CASE WHEN m = 'runs' THEN 0 ELSE v END AS total
    FROM (SELECT r.status, h, m,
                 CASE m WHEN 'lateness' THEN greatest(ceil(extract(epoch FROM r.started_at - r.scheduled_for) * 1000), 0)::bigint
                        WHEN 'duration' THEN r.duration_ms::bigint ELSE 0 END AS v
          FROM automations_chronorun r
          CROSS JOIN LATERAL (VALUES (date_trunc('hour', r.scheduled_for), 'runs'), (timestamptz '1970-01-01', 'runs'),
                                     (date_trunc('hour', r.scheduled_for), 'lateness'), (timestamptz '1970-01-01', 'lateness'),
                                     (timestamptz '1970-01-01', 'duration')) AS k(h, m)
          WHERE r.status IN ('success', 'failed', 'timeout', 'skipped')
            AND (m <> 'duration' OR r.duration_ms IS NOT NULL)) AS per_run
) AS keyed
GROUP BY hour, target_type, status, metric, value_ms
"""


def build(admin_url: str, db: str, code: Path, chronos: int, runs: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    url = db_url(admin_url, db)
    env = {**os.environ, "DATABASE_URL": url}
    step("migrate", lambda: subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=code, env=env, check=True))
    with psycopg.connect(url, autocommit=True) as conn:
        step(f"{chronos:,} chronos", lambda: conn.execute(CHRONOS_SQL, {"chronos": chronos}))
        batch = 1_000_000
        for first in range(1, runs + 1, batch):
            last = min(first + batch - 1, runs)
            step(f"runs {first:,}-{last:,}", lambda: conn.execute(
                RUNS_SQL, {"chronos": chronos, "first": first, "last": last, "total": runs}))
        conn.execute(LIVE_SQL)
        has_tallies = conn.execute("SELECT to_regclass('automations_runtally')").fetchone()[0]
        if has_tallies:
            step("run tallies", lambda: conn.execute(TALLY_SQL))
        step("vacuum analyze", lambda: conn.execute("VACUUM ANALYZE"))
    users = ("from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
             f"u = User.objects.create_superuser('bench', password='{PASSWORD}'); Token.objects.create(user=u, key='{TOKEN}')")
    subprocess.run([sys.executable, "manage.py", "shell", "-c", users], cwd=code, env=env, check=True)


def step(label: str, work) -> None:
    started = time.monotonic()
    work()
    print(f"  {label}: {time.monotonic() - started:.1f} s", flush=True)


def db_url(admin_url: str, db: str) -> str:
    return re.sub(r"/[^/]*$", f"/{db}", admin_url)


# --- Measuring ---------------------------------------------------------------------------------


def start_web(code: Path, url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "METRICS_TOKEN": METRICS_TOKEN, "API_THROTTLE_USER": "100000/minute",
           "DATA_DIR": tempfile.mkdtemp(prefix="bench-pages-"), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    command = subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                              "'chronoflow.settings'); django.setup(); from chronoflow import processes; "
                              f"print(repr(processes.web_command('127.0.0.1', {port})))"],
                             cwd=code, env=env, check=True, capture_output=True, text=True).stdout
    popen = subprocess.Popen(eval(command), cwd=code, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,  # noqa: S307
                             start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/health/db", timeout=10)
            if popen.poll() is None:  # ours answered, not something else on the port
                return popen
            break
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still loading on a busy machine
            time.sleep(0.2)
    raise RuntimeError(f"the web process did not start:\n{log.read_text()}")


def sessions(base: str) -> dict[str, requests.Session]:
    token, admin, metrics = requests.Session(), requests.Session(), requests.Session()
    token.headers["Authorization"] = f"Token {TOKEN}"
    metrics.headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
    admin.get(f"{base}/admin/login/", timeout=30)
    response = admin.post(f"{base}/admin/login/", timeout=60, data={
        "username": "bench", "password": PASSWORD, "next": "/admin/", "csrfmiddlewaretoken": admin.cookies["csrftoken"]})
    response.raise_for_status()
    return {"token": token, "admin": admin, "metrics": metrics}


def measure(base: str, chrono_id: int, last_page: int, repeat: int) -> list[tuple[str, list[float]]]:
    clients = sessions(base)
    results = []
    for label, path, how in pages(chrono_id, last_page):
        times = []
        for i in range(repeat + 2):
            started = time.monotonic()
            response = clients[how].get(base + path, timeout=120)
            elapsed = (time.monotonic() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
            if i >= 2:  # two warm-up requests
                times.append(elapsed)
        results.append((label, times))
        print(f"  {label:<34} p50 {percentile(times, 50):8.1f}  p95 {percentile(times, 95):8.1f}  max {max(times):8.1f} ms",
              flush=True)
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chronos", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="pages_bench")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose migrations and web process run")
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run (same code)")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()

    print(f"{args.chronos:,} chronos, {args.runs:,} runs, code {args.code}", flush=True)
    if not args.reuse:
        build(args.pg_url, args.db, args.code, args.chronos, args.runs)
    url = db_url(args.pg_url, args.db)
    if not args.port:
        with socket.socket() as probe:  # a free port: never another process's server
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    log = Path(tempfile.gettempdir()) / "bench-pages-web.log"
    web = start_web(args.code, url, args.port, log)
    try:
        measure(f"http://127.0.0.1:{args.port}", 5, max(1, min(1000, args.chronos // 50)), args.repeat)
    finally:
        os.killpg(web.pid, 15)
        web.wait(timeout=30)


if __name__ == "__main__":
    main()
