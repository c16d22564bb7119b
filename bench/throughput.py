"""Execution throughput: how fast one worker drains a queue of runs, against bare Celery baselines.

    .venv/bin/python bench/throughput.py                       # 1,000 messages a scenario, 3 rounds
    .venv/bin/python bench/throughput.py --messages 300 --rounds 1

Scenarios, all through the same Redis and PostgreSQL and the same worker command line
(chronoflow/processes.py's, so ChronoFlow's acks_late / prefetch 1 settings hold for each):

- ``noop``: a bare Celery task that does nothing (it records its completion time in Redis);
- ``post_insert``: a hand-written task: POST to a loopback receiver, then one INSERT;
- ``run_chrono HTTP``: ChronoFlow's run task, HTTP target to the same receiver, recorded;
- ``run_chrono FUNCTION``: the same for a trivial user function (sandbox child per run).

Per scenario and round: the worker is stopped, N messages are queued (for run_chrono: N pending
runs, one per chrono, as beat would leave them), the worker starts, and the drain rate is
(N - 1) / (last completion - first completion), so worker start-up is not counted. The report
prints the median over rounds of runs/s and each scenario's ratio to ``noop`` of the same run.

It makes a scratch PostgreSQL database on --pg-url's server (dropped at the end) and flushes
--redis. Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DONE_KEY = "bench:throughput:done"
SCRATCH_DB = "chronoflow_bench_throughput"
SCENARIOS = ("noop", "post_insert", "run_chrono HTTP", "run_chrono FUNCTION")


def redis_client():
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per scenario and round (default 1,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported (default 3)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker concurrency (default: WORKER_CONCURRENCY, the project's)")
    parser.add_argument("--pool", default="", help="worker pool (-P): threads, prefork (default: WORKER_POOL)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--receiver-delay-ms", type=int, default=0,
                        help="the receiver waits this long before answering (a slow webhook; default 0)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="broker (flushed)")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",")]

    database_url = scratch_database(args.pg_url)
    (ROOT / "var" / "bench-throughput").mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=args.redis, DATA_DIR=str(ROOT / "var" / "bench-throughput"),
                      DJANGO_SETTINGS_MODULE="chronoflow.settings", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)
    import django

    django.setup()
    receiver = Receiver(args.receiver_delay_ms / 1000)
    print(f"Throughput bench: {args.messages:,} messages a scenario, {args.rounds} round(s), "
          f"worker -P {args.pool or 'WORKER_POOL'} -c {args.concurrency or 'WORKER_CONCURRENCY'}, {os.cpu_count()} CPUs; "
          f"receiver {receiver.url} answering after {args.receiver_delay_ms} ms")
    rates: dict[str, list[float]] = {s: [] for s in scenarios}
    try:
        with_bench_table()
        for round_no in range(1, args.rounds + 1):
            for scenario in scenarios:
                rate = run_scenario(scenario, args, receiver)
                rates[scenario].append(rate)
                print(f"  round {round_no}: {scenario:<20} {rate:8.1f} runs/s", flush=True)
        report(rates, args)
    finally:
        from django.db import connections

        connections.close_all()
        receiver.shutdown()
        drop_database(args.pg_url)
    return 0


# --------------------------------------------------------------------------- scenarios

def run_scenario(scenario: str, args, receiver: "Receiver") -> float:
    from chronoflow.celery import app

    redis_client().flushdb()
    n = args.messages
    if scenario == "noop":
        for _ in range(n):
            app.send_task("bench.noop")
        return drain(args, lambda: [float(t) for t in redis_client().lrange(DONE_KEY, 0, -1)], n)
    if scenario == "post_insert":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE bench_outcome")
        for i in range(n):
            app.send_task("bench.post_insert", kwargs={"url": receiver.url, "n": i})

        def done_times():
            with connection.cursor() as cursor:
                cursor.execute("SELECT finished_at FROM bench_outcome")
                return [row[0] for row in cursor.fetchall()]

        return drain(args, done_times, n)
    target = scenario.split()[1]
    runs = pending_runs(target, n, receiver.url)
    for chrono_id, run_id in runs:
        app.send_task("automations.tasks.run_chrono", kwargs={"chrono_id": chrono_id, "run_id": run_id, "attempt": 0})
    return drain(args, lambda: finished_times([run_id for _, run_id in runs]), n)


def pending_runs(target: str, n: int, receiver_url: str) -> list[tuple[int, int]]:
    """N chronos of the target type, each with one pending run due now (what beat leaves)."""
    from django.utils import timezone

    from automations.models import Chrono, ChronoRun
    from functions.models import UserFunction

    ChronoRun.objects.all().delete()
    Chrono.objects.all().delete()
    now = timezone.now()
    fields = {"HTTP": {"url": f"{receiver_url}/chrono", "method": "POST", "payload": {"hello": "world"}}}
    if target == "FUNCTION":
        function, _ = UserFunction.objects.get_or_create(name="bench", defaults={"code": "def run(ctx):\n    return 42\n"})
        fields["FUNCTION"] = {"function": function}
    chronos = Chrono.objects.bulk_create(
        Chrono(name=f"bench {target} {i}", schedule="manual", schedule_kind="manual", schedule_expression="manual",
               target_type=target, **fields[target])
        for i in range(n)
    )
    runs = ChronoRun.objects.bulk_create(ChronoRun(chrono=c, scheduled_for=now) for c in chronos)
    return [(run.chrono_id, run.pk) for run in runs]


def finished_times(run_ids: list[int]) -> list[float]:
    from automations.models import ChronoRun

    finished = ChronoRun.objects.filter(pk__in=run_ids, finished_at__isnull=False)
    statuses = set(finished.values_list("status", flat=True))
    if statuses - {"success"}:
        raise SystemExit(f"runs ended {statuses}: {finished.exclude(status='success').values('status', 'error_message').first()}")
    return [t.timestamp() for t in finished.values_list("finished_at", flat=True)]


def drain(args, done_times, n: int, timeout: float = 600) -> float:
    """Start the worker, wait for n completions, stop it; (n - 1) / (last - first)."""
    from chronoflow.processes import worker_command

    command = worker_command(concurrency=args.concurrency, loglevel="warning", pool=args.pool) + [
        "--include", "bench.throughput_tasks"]
    log = open(ROOT / "var" / "bench-throughput" / "worker.log", "a")
    worker = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            times = done_times()
            if len(times) >= n:
                break
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see var/bench-throughput/worker.log")
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(times)} of {n} done after {timeout:.0f} s")
            time.sleep(0.25)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    times.sort()
    return (n - 1) / max(times[-1] - times[0], 1e-6)


def report(rates: dict[str, list[float]], args) -> None:
    medians = {s: statistics.median(r) for s, r in rates.items()}
    base = medians.get("noop")
    print()
    print(f"{'scenario':<22} {'median runs/s':>14} {'range':>17} {'× noop':>8}")
    for scenario, median in medians.items():
        low, high = min(rates[scenario]), max(rates[scenario])
        ratio = f"{median / base:8.2f}" if base else "       -"
        print(f"{scenario:<22} {median:14.1f} {low:8.1f}–{high:<8.1f} {ratio}")
    if base and "run_chrono HTTP" in medians:
        ratio = medians["run_chrono HTTP"] / base
        verdict = "meets" if ratio >= 0.5 else "misses"
        print(f"\nrun_chrono HTTP / noop = {ratio:.2f} ({verdict} the 0.5× goal)")
    if "post_insert" in medians and "run_chrono HTTP" in medians:
        print(f"run_chrono HTTP / post_insert = {medians['run_chrono HTTP'] / medians['post_insert']:.2f} (goal > 1)")


# --------------------------------------------------------------------------- plumbing

def with_bench_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_outcome "
                       "(id bigserial PRIMARY KEY, n integer, status integer, finished_at double precision)")


def scratch_database(server_url: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    return server_url.rsplit("/", 1)[0] + "/" + SCRATCH_DB


def drop_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


class Receiver(http.server.ThreadingHTTPServer):
    """A loopback webhook receiver answering 200, after ``delay_s``."""

    daemon_threads = True

    def __init__(self, delay_s: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    sys.exit(main())
