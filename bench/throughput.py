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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support import PrivateRedis, Receiver, cpu_seconds, drop_database, scratch_database  # noqa: E402
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
    parser.add_argument("--workers", type=int, default=1, help="worker processes, as --scale worker=N (default 1)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--receiver-delay-ms", type=int, default=0,
                        help="the receiver waits this long before answering (a slow webhook; default 0)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="",
                        help="broker URL (flushed); default: a private redis-server on a free port")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",")]

    private_redis = None if args.redis else PrivateRedis()
    args.redis = args.redis or private_redis.url
    database_url = scratch_database(args.pg_url, SCRATCH_DB)
    (ROOT / "var" / "bench-throughput").mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=args.redis, DATA_DIR=str(ROOT / "var" / "bench-throughput"),
                      DJANGO_SETTINGS_MODULE="chronoflow.settings", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)
    import django

    django.setup()
    receiver = Receiver(args.receiver_delay_ms / 1000)
    print(f"Throughput bench: {args.messages:,} messages a scenario, {args.rounds} round(s), "
          f"{args.workers} × worker -P {args.pool or 'WORKER_POOL'} -c {args.concurrency or 'WORKER_CONCURRENCY'}, "
          f"{os.cpu_count()} CPUs; "
          f"receiver {receiver.url} answering after {args.receiver_delay_ms} ms")
    rates: dict[str, list[float]] = {s: [] for s in scenarios}
    cpu: dict[str, list[float]] = {s: [] for s in scenarios}
    try:
        with_bench_table()
        for round_no in range(1, args.rounds + 1):
            for scenario in scenarios:
                rate, cpu_ms = run_scenario(scenario, args, receiver)
                rates[scenario].append(rate)
                cpu[scenario].append(cpu_ms)
                print(f"  round {round_no}: {scenario:<20} {rate:8.1f} runs/s  {cpu_ms:6.2f} ms worker CPU/run",
                      flush=True)
        report(rates, cpu, args)
    finally:
        from django.db import connections

        connections.close_all()
        receiver.shutdown()
        drop_database(args.pg_url, SCRATCH_DB)
        if private_redis is not None:
            private_redis.stop()
    return 0


# --------------------------------------------------------------------------- scenarios

def run_scenario(scenario: str, args, receiver: Receiver) -> tuple[float, float]:
    from chronoflow.celery import app

    redis_client().flushdb()
    n = args.messages
    if scenario == "noop":
        for _ in range(n):
            app.send_task("bench.noop")
        return drain(args, lambda: [float(t) for t in redis_client().lrange(DONE_KEY, 0, -1)], n,
                     done_count=lambda: redis_client().llen(DONE_KEY))
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

        def done_count():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM bench_outcome")
                return cursor.fetchone()[0]

        return drain(args, done_times, n, done_count=done_count)
    target = scenario.split()[1]
    runs = pending_runs(target, n, receiver.url)
    for chrono_id, run_id in runs:
        app.send_task("automations.tasks.run_chrono", kwargs={"chrono_id": chrono_id, "run_id": run_id, "attempt": 0})
    return drain(args, lambda: finished_times([run_id for _, run_id in runs]), n, done_count=finished_count)


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


def finished_count() -> int:
    """Finished runs (pending_runs left only this scenario's)."""
    from automations.models import ChronoRun

    return ChronoRun.objects.filter(finished_at__isnull=False).count()


def finished_times(run_ids: list[int]) -> list[float]:
    from automations.models import ChronoRun

    finished = ChronoRun.objects.filter(pk__in=run_ids, finished_at__isnull=False)
    statuses = set(finished.values_list("status", flat=True))
    if statuses - {"success"}:
        raise SystemExit(f"runs ended {statuses}: {finished.exclude(status='success').values('status', 'error_message').first()}")
    return [t.timestamp() for t in finished.values_list("finished_at", flat=True)]


def drain(args, done_times, n: int, done_count, timeout: float = 600) -> tuple[float, float]:
    """Start the worker(s), wait for n completions, stop them.

    Returns the rate, (n - 1) / (last - first), and the workers' CPU per run (ms), both
    measured from the first completion on, so worker start-up is not counted. ``done_count()``
    is polled every 0.1 s and ``done_times()`` read once at the end: reading all the times at
    every poll held the GIL of the process the receiver answers in.
    """
    loglevel = getattr(args, "loglevel", "warning")  # bench/endtoend.py passes its run's level
    log = open(ROOT / "var" / "bench-throughput" / "worker.log", "a")
    workers = [subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
               for command in worker_commands(args, loglevel, "--include", "bench.throughput_tasks")]
    first = None  # (completions, workers' CPU seconds) when the first completions were seen
    try:
        deadline = time.monotonic() + timeout
        while True:
            done = done_count()
            if done and first is None:
                first = (done, sum(cpu_seconds(w.pid) for w in workers))
            if done >= n:
                used = sum(cpu_seconds(w.pid) for w in workers) - first[1]
                cpu_ms = used * 1000 / max(done - first[0], 1)
                break
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a worker exited; see var/bench-throughput/worker.log")
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {n} done after {timeout:.0f} s")
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    times = sorted(done_times())
    return (n - 1) / max(times[-1] - times[0], 1e-6), cpu_ms


def worker_commands(args, loglevel: str, *extra: str) -> list[list[str]]:
    """The project's worker command line, once per ``--workers`` process (each its own node name)."""
    from chronoflow.processes import worker_command

    count = getattr(args, "workers", 1)
    command = worker_command(concurrency=args.concurrency, loglevel=loglevel, pool=args.pool) + list(extra)
    return [command + ["-n", f"bench{i}@%h"] if count > 1 else command for i in range(1, count + 1)]


def report(rates: dict[str, list[float]], cpu: dict[str, list[float]], args) -> None:
    medians = {s: statistics.median(r) for s, r in rates.items()}
    base = medians.get("noop")
    print()
    print(f"{'scenario':<22} {'median runs/s':>14} {'range':>17} {'× noop':>8} {'worker CPU ms/run':>18}")
    for scenario, median in medians.items():
        low, high = min(rates[scenario]), max(rates[scenario])
        ratio = f"{median / base:8.2f}" if base else "       -"
        print(f"{scenario:<22} {median:14.1f} {low:8.1f}–{high:<8.1f} {ratio} {statistics.median(cpu[scenario]):18.2f}")
    if base and "run_chrono HTTP" in medians:
        ratio = medians["run_chrono HTTP"] / base
        verdict = "meets" if ratio >= 0.5 else "misses"
        print(f"\nrun_chrono HTTP / noop = {ratio:.2f} ({verdict} the 0.5× goal)")
    if "post_insert" in medians and "run_chrono HTTP" in medians:
        print(f"run_chrono HTTP / post_insert = {medians['run_chrono HTTP'] / medians['post_insert']:.2f} (goal > 1)")
    print("(worker CPU: the worker process and its pool children, from the first completion to the last; "
          "PostgreSQL's and Redis's own CPU not included)")


# --------------------------------------------------------------------------- plumbing

def with_bench_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_outcome "
                       "(id bigserial PRIMARY KEY, n integer, status integer, finished_at double precision)")


if __name__ == "__main__":
    sys.exit(main())
