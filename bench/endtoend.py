"""End-to-end execution benchmark: beat, worker and a slow webhook, from due time to arrival.

    .venv/bin/python bench/endtoend.py                         # 100,000 chronos, 1,667 due a minute (~5 min)
    .venv/bin/python bench/endtoend.py --chronos 300 --boundaries 1 --noop-messages 200 --noop-rounds 1   # smoke run

What it does:

1. makes a scratch PostgreSQL database on --pg-url's server and a private redis-server
   (bench/support.py), and builds N chronos exactly as bench/scheduler.py does (imported:
   each an hourly crontab at minute i mod 60, so N/60 are due at each minute boundary),
   each an HTTP POST to a loopback Receiver that answers after --receiver-delay-ms (200);
2. measures the bare Celery no-op drain rate with bench/throughput.py's own function, with
   the same worker flags (pool, concurrency, log level) as the run below: the median of
   --noop-rounds (4) rounds, half of them before step 3 and half after step 4, since on a
   shared machine the rate of one round moves by a third from one minute to the next;
3. starts the real processes with the project's command lines (chronoflow/processes.py,
   as `manage.py runall` does): one `celery worker` (runs + housekeeping queues) and one
   `celery beat` with ChronoScheduler; waits until both are up;
4. waits through --boundaries minute boundaries and, for every occurrence due at them,
   matches the receiver's arrivals by their Idempotency-Key (one per run, so per chrono
   and occurrence) and reports: due time -> arrival p50/p99/max, lost occurrences (never
   arrived), duplicates (a key that arrived twice), whether each burst was over before the
   next boundary, each burst's drain rate ((n - 1) / (last arrival - first arrival)) beside
   the no-op rate and their ratio (the median of the bursts: the first one after the worker
   starts also opens its database connections); with beat's publish time per burst (from
   its log) and the worker's CPU per run.

Acceptance (issue 12): every occurrence arrives before the next boundary, drain >= 0.5x the
no-op, 0 lost, 0 duplicates. Exit status 0 whatever the figures (it is a measurement); 2 if
the run itself broke. Not a test: CI runs it only small (tests/automations/test_endtoend_bench.py).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import scheduler as scheduler_bench, throughput  # noqa: E402
from bench.support import PrivateRedis, Receiver, cpu_seconds, drop_database, scratch_database  # noqa: E402

SCRATCH_DB = f"chronoflow_bench_endtoend_{os.getpid()}"  # runs side by side do not clash
LOGS = ROOT / "var" / "bench-endtoend"
SETTLE_S = 3.0  # after the last expected arrival, wait this long for late duplicates
SENT_LINE = re.compile(r"beat: sent (\d+) due task\(s\); the earliest was due (\d+) ms ago")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    private_redis = None if args.redis else PrivateRedis()
    args.redis = args.redis or private_redis.url
    database_url = scratch_database(args.pg_url, SCRATCH_DB)
    LOGS.mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "bench-throughput").mkdir(parents=True, exist_ok=True)  # throughput.drain's worker log
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=args.redis, DATA_DIR=str(LOGS),
                      DJANGO_SETTINGS_MODULE="chronoflow.settings", LOG_LEVEL=args.loglevel.upper())
    receiver = Receiver(args.receiver_delay_ms / 1000, record=True)
    print(f"End-to-end bench: {args.chronos:,} chronos, {math.ceil(args.chronos / 60):,} due per minute, "
          f"{args.boundaries} boundaries; {args.workers} × worker -P {args.pool or 'WORKER_POOL'} -c {args.concurrency or 'WORKER_CONCURRENCY'} "
          f"-l {args.loglevel}; receiver answering after {args.receiver_delay_ms} ms; {os.cpu_count()} CPUs", flush=True)
    try:
        minutes = build(args, receiver)
        rates = noop_rates(args, receiver, (args.noop_rounds + 1) // 2)
        window = run_processes(args, minutes)
        rates += noop_rates(args, receiver, args.noop_rounds // 2)
        noop = statistics.median(rates)
        print(f"bare no-op (bench/throughput.py, same worker flags): {noop:.1f} runs/s (median of {len(rates)} "
              f"rounds, before and after the boundaries: {', '.join(f'{r:.1f}' for r in rates)})", flush=True)
        report(analyse(minutes, receiver, window), noop, window)
    finally:
        from django.db import connections

        connections.close_all()
        receiver.shutdown()
        drop_database(args.pg_url, SCRATCH_DB)
        if private_redis is not None:
            private_redis.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chronos", type=int, default=100_000, help="how many chronos (default 100,000)")
    parser.add_argument("--boundaries", type=int, default=3, help="minute boundaries to measure (default 3)")
    parser.add_argument("--receiver-delay-ms", type=int, default=200, help="the receiver answers after this (200)")
    parser.add_argument("--concurrency", type=int, default=None, help="worker -c (default: WORKER_CONCURRENCY)")
    parser.add_argument("--pool", default="", help="worker -P (default: WORKER_POOL)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, as --scale worker=N; the no-op gets as many (default 1)")
    parser.add_argument("--loglevel", default="info", help="worker and beat log level (default info, as runall)")
    parser.add_argument("--noop-messages", type=int, default=2000, help="messages per no-op round (2,000)")
    parser.add_argument("--noop-rounds", type=int, default=4,
                        help="no-op rounds, half before the boundaries and half after; the median counts (4)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="", help="broker URL (flushed); default: a private redis-server")
    return parser


# --------------------------------------------------------------------------- set-up

def build(args, receiver: Receiver) -> dict[int, int]:
    """bench/scheduler.py's chronos ({pk: minute}), each posting to the receiver at /chrono/<pk>."""
    import json

    started = time.monotonic()
    out = LOGS / "chronos.json"
    scheduler_bench.build_child(SimpleNamespace(chronos=args.chronos, out=str(out)))  # also migrates
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE automations_chrono SET url = %s || id, method = 'POST'", [f"{receiver.url}/chrono/"])
    minutes = {int(pk): m for pk, m in json.loads(out.read_text()).items()}
    print(f"built {len(minutes):,} chronos in {time.monotonic() - started:.1f}s", flush=True)
    return minutes


def noop_rates(args, receiver: Receiver, rounds: int) -> list[float]:
    """bench/throughput.py's no-op drain rate, with this run's worker flags, ``rounds`` times.

    Half the rounds run before the boundaries and half after: on a shared machine one round
    moves by a third from one minute to the next, so the baseline spans the measured window.
    """
    options = SimpleNamespace(messages=args.noop_messages, concurrency=args.concurrency, pool=args.pool,
                              loglevel=args.loglevel, workers=args.workers)
    return [throughput.run_scenario("noop", options, receiver)[0] for _ in range(rounds)]


# --------------------------------------------------------------------------- the real processes

def run_processes(args, minutes: dict[int, int]) -> dict:
    """Worker and beat with the project's command lines, through the measured boundaries."""
    from chronoflow.processes import beat_command

    scheduler_bench.reset_child(None)  # steady state: every task sent up to now, nothing missed
    throughput.redis_client().flushdb()
    beat_log = LOGS / "beat.log"
    logs = [LOGS / ("worker.log" if i == 0 else f"worker{i + 1}.log") for i in range(args.workers)]
    workers = [_start(command, log) for command, log in zip(throughput.worker_commands(args, args.loglevel), logs)]
    beat = _start(beat_command(loglevel=args.loglevel), beat_log)
    try:
        for worker, log in zip(workers, logs):
            _wait_for_line(log, " ready.", worker)
        _wait_for_line(beat_log, "periodic tasks loaded", beat)
        ready = time.time()
        first = math.ceil((ready + 2) / 60) * 60  # a boundary at least 2 s away
        boundaries = [first + 60 * k for k in range(args.boundaries)]
        print(f"worker and beat up; measuring boundaries at "
              f"{', '.join(time.strftime('%H:%M:%S', time.gmtime(b)) for b in boundaries)} UTC", flush=True)
        time.sleep(max(boundaries[0] - 1 - time.time(), 0))
        cpu_before = sum(cpu_seconds(w.pid) for w in workers), cpu_seconds(beat.pid)
        wait_for_arrivals(minutes, boundaries, [*workers, beat])
        cpu_after = sum(cpu_seconds(w.pid) for w in workers), cpu_seconds(beat.pid)
    finally:
        for process in (beat, *workers):
            process.terminate()
        for process in (beat, *workers):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return {"boundaries": boundaries, "worker_cpu_s": cpu_after[0] - cpu_before[0],
            "beat_cpu_s": cpu_after[1] - cpu_before[1], "publish_ms": _publish_times(beat_log, boundaries)}


def _start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_for_line(log: Path, marker: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while marker not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise SystemExit(f"{log.name}: the process exited ({process.returncode}) before {marker!r}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{log.name}: no {marker!r} after {timeout:.0f} s")
        time.sleep(0.1)


def wait_for_arrivals(minutes: dict[int, int], boundaries: list[int], processes) -> None:
    """Until the last boundary's burst has finished in full (plus SETTLE_S), or the minute after it is over."""
    from datetime import datetime, timezone

    from automations.models import ChronoRun

    expected_last = sum(1 for m in minutes.values() if m == time.gmtime(boundaries[-1]).tm_min)

    last = datetime.fromtimestamp(boundaries[-1], timezone.utc)
    deadline = boundaries[-1] + 60
    while time.time() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("worker or beat exited during the window; see var/bench-endtoend/")
        if time.time() > boundaries[-1] and ChronoRun.objects.filter(
                scheduled_for=last, finished_at__isnull=False).count() >= expected_last:
            time.sleep(SETTLE_S)
            return
        time.sleep(0.5)


def _publish_times(beat_log: Path, boundaries: list[int]) -> list[tuple[int, int]]:
    """(messages, ms from due to the end of publishing) of beat's biggest send around each boundary."""
    sends = [(int(n), int(ms)) for n, ms in SENT_LINE.findall(beat_log.read_text(errors="replace"))]
    biggest = sorted(range(len(sends)), key=lambda i: -sends[i][0])[:len(boundaries)]
    return [sends[i] for i in sorted(biggest)]  # in the log's order, as the boundaries are


# --------------------------------------------------------------------------- analysis

def analyse(minutes: dict[int, int], receiver: Receiver, window: dict) -> dict:
    """Per boundary: lateness of each due occurrence, lost ones, the burst's span; duplicates overall."""
    from automations.models import ChronoRun
    from automations.targets.http import idempotency_key

    keys = {}
    for pk, chrono_id, trigger, due in ChronoRun.objects.values_list("pk", "chrono_id", "trigger", "scheduled_for"):
        run = ChronoRun(pk=pk, chrono_id=chrono_id, trigger=trigger, scheduled_for=due)
        keys[idempotency_key(run)] = (chrono_id, due.timestamp())
    arrivals: dict[tuple[int, float], list[float]] = defaultdict(list)
    by_key: dict[str, int] = defaultdict(int)
    unknown = 0
    for received in list(receiver.received):
        by_key[received.idempotency_key] += 1
        if received.idempotency_key in keys:
            arrivals[keys[received.idempotency_key]].append(received.at)
        else:
            unknown += 1
    bursts = []
    for boundary in window["boundaries"]:
        minute = time.gmtime(boundary).tm_min
        due = [pk for pk, m in minutes.items() if m == minute]
        firsts = sorted(min(arrivals[(pk, float(boundary))]) for pk in due if arrivals.get((pk, float(boundary))))
        bursts.append({"boundary": boundary, "due": len(due), "arrived": len(firsts),
                       "lateness": [t - boundary for t in firsts],
                       "drain": (len(firsts) - 1) / max(firsts[-1] - firsts[0], 1e-6) if len(firsts) > 1 else math.nan,
                       "in_time": len(firsts) == len(due) and (not firsts or firsts[-1] < boundary + 60)})
    return {"bursts": bursts, "duplicates": sum(n - 1 for n in by_key.values() if n > 1), "unknown": unknown,
            "received": len(receiver.received)}


def report(stats: dict, noop: float, window: dict) -> None:
    bursts = stats["bursts"]
    lateness = sorted(x for b in bursts for x in b["lateness"])
    due = sum(b["due"] for b in bursts)
    lost = due - sum(b["arrived"] for b in bursts)
    drains = [b["drain"] for b in bursts if not math.isnan(b["drain"])]
    drain = statistics.median(drains) if drains else math.nan
    ratio = drain / noop if noop else math.nan
    print()
    for i, (b, publish) in enumerate(zip(bursts, window["publish_ms"] + [None] * len(bursts))):
        late = b["lateness"]
        print(f"boundary {time.strftime('%H:%M:%S', time.gmtime(b['boundary']))}: {b['arrived']:,} / {b['due']:,} arrived; "
              f"due -> arrival p50 {_pct(late, 50):.3f} s, p99 {_pct(late, 99):.3f} s, max {max(late, default=math.nan):.3f} s; "
              f"drain {b['drain']:.1f} runs/s; before the next boundary: {'yes' if b['in_time'] else 'NO'}"
              + (f"; beat published {publish[0]:,} in {publish[1]} ms" if publish else ""))
    runs = sum(b["arrived"] for b in bursts)
    print(f"\nall boundaries: due -> arrival p50 {_pct(lateness, 50):.3f} s, p99 {_pct(lateness, 99):.3f} s, "
          f"max {max(lateness, default=math.nan):.3f} s")
    print(f"lost {lost}, duplicates {stats['duplicates']} (requests received {stats['received']:,}, "
          f"{stats['unknown']} with a key of no run)")
    print(f"drain (median of bursts) {drain:.1f} runs/s, bare no-op {noop:.1f} runs/s: ratio {ratio:.2f}")
    print(f"worker CPU {window['worker_cpu_s'] * 1000 / max(runs, 1):.2f} ms per run, "
          f"beat CPU {window['beat_cpu_s']:.1f} s over the window")
    met = all(b["in_time"] for b in bursts) and lost == 0 and stats["duplicates"] == 0 and ratio >= 0.5
    print(f"acceptance (all in time, drain >= 0.5x no-op, 0 lost, 0 duplicates): {'met' if met else 'NOT met'}")


def _pct(values: list[float], p: float) -> float:
    return scheduler_bench.percentile(sorted(values), p)


if __name__ == "__main__":
    sys.exit(main())
