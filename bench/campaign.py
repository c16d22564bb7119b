"""Campaign benchmark: import N contacts from a generated CSV, then enqueue a campaign to all of them.

    .venv/bin/python bench/campaign.py                          # 100,000 contacts, 1 round
    .venv/bin/python bench/campaign.py --contacts 10000 --rounds 3
    .venv/bin/python bench/campaign.py --trace-phases ''          # times without tracemalloc

Each round, on a scratch PostgreSQL database (made on --pg-url's server, dropped at the end) and
a private redis-server as the broker (no worker runs, so nothing is sent), times three phases:

1. ``import``: the CSV through contacts/importer.py (the code behind ``import_contacts`` and
   ``POST /api/contacts/import/``), one row in 50 a duplicate without its 9th digit (merged);
2. ``start``: ``campaigns.sending.start`` on a campaign to every contact: its ledger, one row
   per contact, written in one transaction, and the first dispatch task queued;
3. ``dispatch``: the dispatch chain a worker would run, here in this process: one
   ``send_recipient`` task per ledger row put on the broker, 200 a chunk.

Memory per phase: the Python peak (tracemalloc, started for each phase named in
``--trace-phases``; it slows Python code several times, so ``--trace-phases ''`` gives truer
times) and the process's ru_maxrss after the phase (a lifetime peak: it only grows). Bounded memory shows as peaks that do not grow with N.
The median over rounds is printed last. Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.contacts_import import write_csv  # noqa: E402
from bench.support import PrivateRedis, drop_database, scratch_database  # noqa: E402

SCRATCH_DB = "chronoflow_bench_campaign"
PHASES = ("import", "start", "dispatch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="CSV rows (default 100,000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the median is reported (default 1)")
    parser.add_argument("--trace-phases", default=",".join(PHASES),
                        help="phases measured under tracemalloc (default all; '' for none: truer times)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="", help="broker URL (flushed); default: a private redis-server")
    args = parser.parse_args(argv)

    private_redis = None if args.redis else PrivateRedis()
    broker = args.redis or private_redis.url
    data_dir = ROOT / "var" / "bench-campaign"
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = scratch_database(args.pg_url, SCRATCH_DB)
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=broker, DATA_DIR=str(data_dir),
                      DJANGO_SETTINGS_MODULE="chronoflow.settings", LOG_LEVEL="WARNING")
    import django

    django.setup()
    csv_path = data_dir / "bench-campaign.csv"
    write_csv(csv_path, args.contacts)
    print(f"Campaign bench: {args.contacts:,} CSV rows ({csv_path.stat().st_size / 1e6:.1f} MB), {args.rounds} round(s), "
          f"tracemalloc on {args.trace_phases or 'no phase'}, {os.cpu_count()} CPUs", flush=True)
    results: list[dict[str, tuple[float, float, float]]] = []
    try:
        for round_no in range(1, args.rounds + 1):
            subprocess.run([sys.executable, "manage.py", "flush", "--no-input", "-v", "0"], cwd=ROOT, check=True,
                           env=os.environ.copy()) if round_no > 1 else migrate()
            flush_broker(broker)
            traced = {name.strip() for name in args.trace_phases.split(",") if name.strip()}
            results.append(one_round(csv_path, traced, round_no))
        report(results)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args.pg_url, SCRATCH_DB)
        if private_redis is not None:
            private_redis.stop()
    return 0


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def flush_broker(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def one_round(csv_path: Path, traced: set[str], round_no: int) -> dict[str, tuple[float, float, float]]:
    """Each phase's (seconds, tracemalloc peak MB, ru_maxrss MB after it)."""
    from campaigns import sending
    from campaigns.models import Campaign, CampaignRecipient
    from contacts.importer import Importer
    from whatsapp.models import Channel

    measured: dict[str, tuple[float, float, float]] = {}

    def phase(name: str, work):
        if name in traced:
            tracemalloc.start()
        started = time.perf_counter()
        value = work()
        elapsed = time.perf_counter() - started
        peak = float("nan")
        if name in traced:
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        measured[name] = (elapsed, peak, maxrss_mb())
        return value

    with csv_path.open(encoding="utf-8", newline="") as lines:
        imported = phase("import", lambda: Importer().run(lines))
    channel = Channel.objects.create(name="Bench", session_name="bench", status=Channel.Status.WORKING)
    campaign = Campaign.objects.create(name="Bench", channel=channel, message="{Olá|Oi} {{ contact.first_name }}!")
    written = phase("start", lambda: sending.start(campaign))
    handed = phase("dispatch", lambda: dispatch_all(campaign.pk))
    queued = CampaignRecipient.objects.filter(campaign=campaign, state="queued").count()
    if not (written == queued == handed == imported.created):
        raise SystemExit(f"{imported.created} contacts, {written} ledger rows, {queued} queued, {handed} handed out")
    print(f"  round {round_no}: {imported.rows:,} rows -> {imported.created:,} contacts ({imported.merged:,} merged); "
          f"{written:,} ledger rows; {handed:,} send tasks on the broker", flush=True)
    for name in PHASES:
        seconds, peak, rss = measured[name]
        print(f"    {name:<9} {seconds:7.1f} s  peak Python {mb(peak)}  ru_maxrss {rss:6.0f} MB", flush=True)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    return measured


def dispatch_all(campaign_id: int) -> int:
    """What the chain of dispatch tasks does, run here: each call hands out one chunk (and queues
    the task for the next, which no worker takes); the next ``after`` is the chunk's last row."""
    from campaigns import sending
    from campaigns.models import CampaignRecipient

    handed, after = 0, 0
    while True:
        count = sending.dispatch(campaign_id, after)
        handed += count
        if count < sending.DISPATCH_CHUNK:
            return handed
        after = (CampaignRecipient.objects.filter(campaign_id=campaign_id, state="queued", pk__gt=after)
                 .order_by("pk").values_list("pk", flat=True)[count - 1])


def mb(value: float) -> str:
    return "     -   " if value != value else f"{value:6.1f} MB"  # nan: not traced


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def report(results: list[dict[str, tuple[float, float, float]]]) -> None:
    print(f"Median of {len(results)} round(s):")
    for name in PHASES:
        seconds = statistics.median(r[name][0] for r in results)
        peak = statistics.median(r[name][1] for r in results)
        print(f"  {name:<9} {seconds:7.1f} s  peak Python {mb(peak)}")
    total = statistics.median(sum(r[name][0] for name in PHASES) for r in results)
    print(f"  total     {total:7.1f} s  ru_maxrss at the end {max(r['dispatch'][2] for r in results):.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
