"""Beat scheduler benchmark: django-celery-beat's DatabaseScheduler vs ChronoScheduler.

    .venv/bin/python bench/scheduler.py                      # 100,000 chronos, PostgreSQL then SQLite
    .venv/bin/python bench/scheduler.py --chronos 20000 --databases postgres

What it does, per database:

1. creates a scratch database (PostgreSQL: CREATE DATABASE on --pg-url's server, dropped at
   the end; SQLite: a file in a temporary folder), migrates it and builds N chronos with
   bulk_create (Chrono + PeriodicTask rows as beat_sync writes them): every chrono an
   hourly crontab at minute (i mod 60), so N/60 are due each minute;
2. runs each scheduler in its own `celery beat` process (celery.beat.Service, as the CLI
   does) over the same rows. Sends are real: PostgreSQL runs publish to Redis (--redis),
   SQLite runs to the embedded default's filesystem broker. The beat process timestamps
   each send: the stock scheduler's when app.send_task returns, ChronoScheduler's when
   its pipelined batch is flushed;
3. while it runs, a separate editor process does what an operator does through the model:
   creates a chrono due now, edits existing ones to be due now (one of them right after a
   minute boundary, during the burst), pauses one and deletes one that are due at the second
   boundary;
4. prints, for each scheduler: dispatch lateness (send time minus the occurrence's due
   time) p50/p99/max over the occurrences due in the window (at least two minute
   boundaries after start-up; an occurrence never sent counts as later than the window),
   edit pickup (commit of the edit to the send of the edited chrono), whether pause and
   delete were honoured, start-up time (process launch to the end of the first tick) and
   peak RSS (VmHWM of the beat process); then the ratios.

Not a test: CI does not run it. tests/automations/test_scheduler_bench.py runs it with a
few hundred chronos as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEDULERS = {
    "stock": "django_celery_beat.schedulers:DatabaseScheduler",
    "chrono": "automations.beat.scheduler:ChronoScheduler",
}
LABELS = {"stock": "stock DatabaseScheduler", "chrono": "ChronoScheduler"}
TAIL_S = 20  # the window ends this long after the last boundary it measures
UTC = timezone.utc


# =========================================================================== orchestrator

def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        return CHILDREN[args.child](args)
    print(f"Beat scheduler bench: {args.chronos:,} chronos, {math.ceil(args.chronos / 60):,} due per minute; "
          f"{os.cpu_count()} CPUs")
    private_redis = None
    if not args.redis and "postgres" in args.databases:
        sys.path.insert(0, str(ROOT))
        from bench.support import PrivateRedis

        private_redis = PrivateRedis()
        args.redis = private_redis.url
    try:
        for database in args.databases.split(","):
            with ScratchDatabase(database, args) as scratch:
                results = {name: run_scheduler(scratch, name, args, run)
                           for run, name in enumerate(args.schedulers.split(","))}
                print_report(scratch, results, args)
    finally:
        if private_redis is not None:
            private_redis.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chronos", type=int, default=100_000, help="how many chronos (default 100,000)")
    parser.add_argument("--databases", default="postgres,sqlite", help="postgres, sqlite or both (comma-separated)")
    parser.add_argument("--schedulers", default="stock,chrono", help="stock, chrono or both (comma-separated)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to create the scratch database on")
    parser.add_argument("--redis", default="",
                        help="broker for the PostgreSQL runs (flushed before each run); "
                             "default: a private redis-server on a free port")
    parser.add_argument("--boundaries", type=int, default=2, help="minute boundaries to measure (default 2)")
    parser.add_argument("--window-seconds", type=float, default=None,
                        help="measure a fixed window after start-up instead of minute boundaries (smoke runs)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--scheduler-class", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    return parser


class ScratchDatabase:
    """A database that exists for one bench run, with the environment children need."""

    def __init__(self, kind: str, args) -> None:
        if kind not in ("postgres", "sqlite"):
            raise SystemExit(f"--databases: unknown database {kind!r}; use postgres or sqlite")
        self.kind, self.args = kind, args
        self.folder = Path(tempfile.mkdtemp(prefix=f"cf-bench-{kind}-"))
        self.name = f"cf_bench_{os.getpid()}"

    def __enter__(self) -> "ScratchDatabase":
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(DATA_DIR=str(self.folder), DJANGO_SETTINGS_MODULE="chronoflow.settings", LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
        if self.kind == "postgres":
            self._pg("CREATE DATABASE " + self.name)
            env["DATABASE_URL"] = self.args.pg_url.rsplit("/", 1)[0] + "/" + self.name
            env["REDIS_URL"] = self.args.redis
        self.env = env
        started = time.monotonic()
        child(["--child", "build", "--chronos", str(self.args.chronos), "--out", str(self.folder / "chronos.json")],
              env)
        self.minutes = {int(pk): m for pk, m in json.loads((self.folder / "chronos.json").read_text()).items()}
        print(f"\n[{self.label}] built {len(self.minutes):,} chronos in {time.monotonic() - started:.1f}s")
        return self

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.kind == "postgres" else "SQLite"

    def _pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.args.pg_url, autocommit=True) as conn:
            conn.execute(sql)

    def flush_broker(self) -> None:
        if self.kind == "postgres":
            import redis

            redis.Redis.from_url(self.args.redis).flushdb()
        else:
            shutil.rmtree(self.folder / "broker", ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.flush_broker()
        if self.kind == "postgres":
            self._pg(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        shutil.rmtree(self.folder, ignore_errors=True)


def child(extra: list[str], env: dict, wait: bool = True):
    command = [sys.executable, str(Path(__file__).resolve()), *extra]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    if wait and process.wait() != 0:
        raise SystemExit(f"bench child {extra[1]} failed with exit code {process.returncode}")
    return process


def run_scheduler(scratch: ScratchDatabase, name: str, args, run: int) -> dict:
    """One beat process and one editor process over the scratch database; the beat's records."""
    child(["--child", "reset"], scratch.env)
    scratch.flush_broker()
    out = scratch.folder / f"{name}.json"
    ready_file = scratch.folder / f"{name}.ready"
    env = {**scratch.env, "BENCH_LAUNCHED_AT": repr(time.time()), "BENCH_READY_FILE": str(ready_file)}
    beat = child(["--child", "beat", "--scheduler-class", SCHEDULERS[name], "--out", str(out),
                  *(["--window-seconds", str(args.window_seconds)] if args.window_seconds else []),
                  "--boundaries", str(args.boundaries)], env, wait=False)
    ready = _wait_for(ready_file, beat, timeout=600)
    plan = edit_plan(scratch, ready, args, offset=2 * run)
    plan_file = scratch.folder / f"{name}.plan.json"
    plan_file.write_text(json.dumps(plan))
    editor = child(["--child", "edit", "--plan", str(plan_file), "--out", str(plan_file)], scratch.env, wait=False)
    if beat.wait() != 0 or editor.wait() != 0:
        raise SystemExit(f"bench: the {name} beat or its editor failed")
    result = json.loads(out.read_text())
    result["plan"] = json.loads(plan_file.read_text())
    return result


def _wait_for(path: Path, process, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"bench: beat exited ({process.returncode}) before its first tick")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("bench: beat did not finish its first tick in time")
        time.sleep(0.05)
    time.sleep(0.05)
    return json.loads(path.read_text())


def edit_plan(scratch: ScratchDatabase, ready: dict, args, offset: int) -> list[dict]:
    """When the editor acts, on which chronos: away from the ones the window measures."""
    start, end, boundaries = ready["ready"], ready["deadline"], ready["boundaries"]
    by_minute: dict[int, list[int]] = {}
    for pk, minute in sorted(scratch.minutes.items()):
        by_minute.setdefault(minute, []).append(pk)
    measured = {datetime.fromtimestamp(b, UTC).minute for b in boundaries}
    spare = [pk for m, pks in sorted(by_minute.items()) if m not in measured for pk in pks[offset:offset + 2]]
    if not boundaries:  # a smoke run: three changes spread over the first half of the window
        span = end - start
        return [{"at": start + span * 0.15, "action": "create"},
                {"at": start + span * 0.3, "action": "edit", "chrono": spare[0]},
                {"at": start + span * 0.45, "action": "edit", "chrono": spare[1]}]
    last = by_minute[datetime.fromtimestamp(boundaries[-1], UTC).minute]
    pause_at = max(boundaries[-1] - 12, start + 8)
    return [{"at": start + 3, "action": "create"},
            {"at": start + 6, "action": "edit", "chrono": spare[0]},
            {"at": boundaries[0] + 0.3, "action": "edit", "chrono": spare[1]},  # during the burst
            {"at": pause_at, "action": "pause", "chrono": last[offset], "due": boundaries[-1]},
            {"at": pause_at + 1, "action": "delete", "chrono": last[offset + 1], "due": boundaries[-1]}]


# =========================================================================== analysis

def analyse(scratch: ScratchDatabase, result: dict) -> dict:
    sends: dict[int, list[float]] = {}
    for at, chrono_id, _ in result["records"]:
        if chrono_id is not None:
            sends.setdefault(chrono_id, []).append(at)
    touched = {step.get("chrono") for step in result["plan"]}
    lateness, duplicates = [], 0
    for boundary in result["boundaries"]:
        minute = datetime.fromtimestamp(boundary, UTC).minute
        for pk in (pk for pk, m in scratch.minutes.items() if m == minute and pk not in touched):
            hits = [t for t in sends.get(pk, ()) if boundary - 1 <= t < boundary + 3000]
            duplicates += max(len(hits) - 1, 0)
            lateness.append(min(hits) - boundary if hits else math.inf)
    return {"lateness": sorted(lateness), "duplicates": duplicates, "pickups": _pickups(result, sends),
            "honoured": _honoured(result, sends)}


def _pickups(result: dict, sends: dict[int, list[float]]) -> list[float]:
    """Seconds from each create/edit's commit to the first send of that chrono after it."""
    found = []
    for step in result["plan"]:
        if step["action"] in ("create", "edit"):
            after = [t for t in sends.get(step.get("chrono"), ()) if t >= step.get("committed", math.inf) - 0.001]
            found.append(min(after) - step["committed"] if after else math.inf)
    return found


def _honoured(result: dict, sends: dict[int, list[float]]) -> str:
    checks = []
    for step in result["plan"]:
        if step["action"] in ("pause", "delete"):
            sent = [t for t in sends.get(step["chrono"], ()) if t >= step["due"] - 1]
            checks.append(f"{step['action']} {'ok' if not sent else 'NOT honoured'}")
    return ", ".join(checks) or "-"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def seconds(value: float, window: float) -> str:
    if math.isnan(value):
        return "-"
    return f"> {window:.0f} s (unsent)" if math.isinf(value) else f"{value:.3f} s"


def print_report(scratch: ScratchDatabase, results: dict, args) -> None:
    rows, numbers = [], {}
    for name, result in results.items():
        stats = analyse(scratch, result)
        window = result["deadline"] - result["ready"]
        lateness = stats["lateness"]
        sent = sum(1 for x in lateness if not math.isinf(x))
        numbers[name] = {"p50": percentile(lateness, 50), "p99": percentile(lateness, 99),
                         "max": lateness[-1] if lateness else math.nan,
                         "pickup": max(stats["pickups"], default=math.nan),
                         "startup": result["ready"] - result["launched"], "rss": result["rss_mb"],
                         "window": window}
        n = numbers[name]
        rows.append((LABELS[name], [
            f"{sent:,} / {len(lateness):,}", seconds(n["p50"], window), seconds(n["p99"], window),
            seconds(n["max"], window), f"{stats['duplicates']}",
            ", ".join(seconds(x, window) for x in stats["pickups"]), stats["honoured"],
            f"{n['startup']:.1f} s", f"{n['rss']:.0f} MB", f"{len(result['boundaries'])} ({window:.0f} s)",
        ]))
    broker = "Redis" if scratch.kind == "postgres" else "filesystem"
    print(f"\n[{scratch.label}] {args.chronos:,} chronos, {math.ceil(args.chronos / 60):,} due per minute, "
          f"broker {broker}")
    names = ["occurrences sent in window", "p50 dispatch lateness", "p99 dispatch lateness",
             "max dispatch lateness", "duplicate sends", "edit pickup (each)", "pause / delete",
             "start-up", "peak RSS", "minute boundaries (window)"]
    widths = [max(len(label), *(len(v) for v in values)) + 3 for label, values in rows]
    print(f"{'':30}" + "".join(f"{label:>{w}}" for (label, _), w in zip(rows, widths)))
    for i, metric in enumerate(names):
        print(f"{metric:30}" + "".join(f"{values[i]:>{w}}" for (_, values), w in zip(rows, widths)))
    if "stock" in numbers and "chrono" in numbers:
        stock, ours = numbers["stock"], numbers["chrono"]
        print("ratios, stock / ChronoScheduler: " + ", ".join(
            f"{key} {_ratio(stock[key], ours[key], stock['window'])}"
            for key in ("p50", "p99", "max", "pickup", "startup", "rss")))


def _ratio(stock: float, ours: float, stock_window: float) -> str:
    """stock / ours; where stock never sent within its window, the bound that window gives."""
    if math.isnan(stock) or math.isnan(ours) or ours <= 0 or math.isinf(ours):
        return "-"
    if math.isinf(stock):
        return f"> {stock_window / ours:,.0f}x"
    return f"{stock / ours:,.1f}x"


# =========================================================================== children

def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build_child(args) -> int:
    """Migrate and build N hourly chronos the way beat_sync would, with bulk_create."""
    _django()
    from django.core.management import call_command
    from django.db import connection
    from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

    from automations.beat.sync import TASK, task_name
    from automations.models import Chrono

    call_command("migrate", verbosity=0)
    crontabs = {m: CrontabSchedule.objects.get_or_create(minute=str(m), hour="*", day_of_month="*",
                                                         month_of_year="*", day_of_week="*", timezone="UTC")[0]
                for m in range(60)}
    minutes: dict[int, int] = {}
    for first in range(0, args.chronos, 5000):
        batch = [Chrono(name=f"bench {i}", schedule=f"{i % 60} * * * *", schedule_kind="cron",
                        schedule_expression=f"{i % 60} * * * *", timezone="UTC", target_type="HTTP",
                        url="http://127.0.0.1:9/bench", is_active=True)
                 for i in range(first, min(first + 5000, args.chronos))]
        created = Chrono.objects.bulk_create(batch)
        tasks = []
        for i, chrono in enumerate(created, start=first):
            minutes[chrono.pk] = i % 60
            tasks.append(PeriodicTask(name=task_name(chrono.pk), task=TASK, kwargs=json.dumps({"chrono_id": chrono.pk}),
                                      crontab=crontabs[i % 60], enabled=True,
                                      description=f"ChronoFlow chrono {chrono.pk}: bench {i}"))
        PeriodicTask.objects.bulk_create(tasks)
    with connection.cursor() as cursor:  # link each chrono to its task, in one statement
        cursor.execute(
            "UPDATE automations_chrono SET periodic_task_id = (SELECT t.id FROM django_celery_beat_periodictask t"
            " WHERE t.name = 'chrono:' || automations_chrono.id)")
    PeriodicTasks.update_changed()
    Path(args.out).write_text(json.dumps(minutes))
    return 0


def reset_child(args) -> int:
    """A steady state for the next run: every task sent up to now, last edited an hour ago.

    (Stamping every row "changed now" instead would make the first change read of either
    scheduler re-read all N rows: a bulk edit, not the steady state being measured.)
    """
    _django()
    from datetime import timedelta as delta

    from django.utils import timezone as dj_timezone
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    now = dj_timezone.now()
    PeriodicTask.objects.update(last_run_at=now, total_run_count=0, date_changed=now - delta(hours=1))
    PeriodicTasks.update_changed()
    return 0


def beat_child(args) -> int:
    """Run celery beat with the given scheduler until the window closes; write what it sent."""
    launched = float(os.environ["BENCH_LAUNCHED_AT"])
    _django()
    import threading

    from celery.beat import Service

    from chronoflow.celery import app

    app.conf.beat_sync_every = 0  # celery's default; the project's 1 would handicap the stock scheduler

    records: list[tuple[float, int | None, str | None]] = []
    service = Service(app, scheduler_cls=args.scheduler_class)
    window: dict = {}
    scheduler = service.scheduler
    tick = scheduler.tick

    def first_tick(*a, **kw):
        interval = tick(*a, **kw)
        if not window:
            window.update(_window(time.time(), args))
            Path(os.environ["BENCH_READY_FILE"]).write_text(json.dumps(window))
            threading.Thread(target=_stop_at, args=(service, window["deadline"]), daemon=True).start()
        return interval

    scheduler.tick = first_tick
    publish_chunk = getattr(scheduler, "_publish_chunk", None)
    if publish_chunk is not None:
        # ChronoScheduler publishes in pipelined batches, mostly without app.send_task
        # (automations.beat.messages): each message sent counts when its batch is flushed.
        def stamped_chunk(chunk):
            errors = publish_chunk(chunk)
            flushed = time.time()
            records.extend((flushed, (kwargs or {}).get("chrono_id"), (kwargs or {}).get("scheduled_for"))
                           for (_, _, kwargs, _), error in zip(chunk, errors) if error is None)
            return errors

        scheduler._publish_chunk = stamped_chunk
    else:  # the stock scheduler: each send when app.send_task returns
        publish = app.send_task

        def send_task(name, args=None, kwargs=None, **options):
            result = publish(name, args, kwargs, **options)
            records.append((time.time(), (kwargs or {}).get("chrono_id"), (kwargs or {}).get("scheduled_for")))
            return result

        app.send_task = send_task
    if os.environ.get("BENCH_BEAT_LOG"):  # beat's own line per send: how long policies, rows and publishing took
        import logging

        beat_log = logging.getLogger("automations.beat.scheduler")
        beat_log.setLevel(logging.INFO)
        beat_log.addHandler(logging.StreamHandler())
    if os.environ.get("BENCH_PROFILE"):  # where the beat's time goes: BENCH_PROFILE=file.prof
        import cProfile

        cProfile.runctx("service.start()", globals(), {"service": service}, os.environ["BENCH_PROFILE"])
    else:
        service.start()
    Path(args.out).write_text(json.dumps({"launched": launched, **window, "records": records,
                                          "rss_mb": _peak_rss_mb()}))
    return 0


def _window(ready: float, args) -> dict:
    if args.window_seconds:
        return {"ready": ready, "deadline": ready + args.window_seconds, "boundaries": []}
    first = math.ceil(ready / 60) * 60
    boundaries = [first + 60 * k for k in range(args.boundaries)]
    return {"ready": ready, "deadline": boundaries[-1] + TAIL_S, "boundaries": boundaries}


def _stop_at(service, deadline: float) -> None:
    time.sleep(max(deadline - time.time(), 0))
    service.stop()


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def edit_child(args) -> int:
    """Act like an operator at the planned times, through the model; write each commit time."""
    _django()
    from automations.models import Chrono

    plan = json.loads(Path(args.plan).read_text())
    for step in plan:
        time.sleep(max(step["at"] - time.time(), 0))
        now = datetime.now(UTC)
        if step["action"] == "create":
            chrono = Chrono.objects.create(name="bench created", schedule=now.isoformat(), timezone="UTC",
                                           target_type="HTTP", url="http://127.0.0.1:9/bench")
            step["chrono"] = chrono.pk
        elif step["action"] == "edit":
            chrono = Chrono.objects.get(pk=step["chrono"])
            chrono.schedule = now.isoformat()  # due at once: pickup is all that delays it
            chrono.save()
        elif step["action"] == "pause":
            Chrono.objects.get(pk=step["chrono"]).pause()
        else:
            Chrono.objects.filter(pk=step["chrono"]).delete()
        step["committed"] = time.time()
    Path(args.out).write_text(json.dumps(plan))
    return 0


CHILDREN = {"build": build_child, "reset": reset_child, "beat": beat_child, "edit": edit_child}

if __name__ == "__main__":
    sys.exit(main())
