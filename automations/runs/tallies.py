"""Counters of finished runs (RunTally), so the dashboard and /metrics read a few rows, not the runs.

``count(run)`` adds a run that has just become final: one upsert of up to five rows
(its hour and the all-time totals; runs by status, lateness, duration). It is called from
ChronoRun's post_save (``run_saved``), inside the transaction that stores the outcome,
so a counter never counts a run whose outcome rolled back. A run is counted once: when
its stored status moves to a final one.

Values are milliseconds rounded *up* to two significant figures (``bucket_ms``). Every
Prometheus bucket bound used here has at most two significant figures, so a histogram
read from the tallies is exact; a percentile is at most 10 % high.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from automations.models import ChronoRun, RunTally

ALL_TIME = RunTally.ALL_TIME
_COLUMNS = ("hour", "target_type", "status", "metric", "value_ms", "n", "total_ms")


def bucket_ms(ms: float) -> int:
    """``ms`` rounded up to two significant figures: 1234 → 1300, 19000 → 19000, 0.3 → 1."""
    ms = max(math.ceil(ms), 0)
    if ms < 100:
        return ms
    step = 10 ** (len(str(ms)) - 2)
    return -(-ms // step) * step


def lateness_ms(run: ChronoRun) -> float | None:
    """How late beat started a scheduled first attempt; None for other runs (retries start late on purpose).

    A one-shot dated before its chrono existed (imported, or made through an old client) runs at
    once, "late" by however far back it was dated: not beat's lateness, so not counted.
    """
    if run.trigger != ChronoRun.Trigger.SCHEDULE or run.attempt != 1 or run.started_at is None:
        return None
    field = ChronoRun._meta.get_field("scheduled_for")
    chrono = run.chrono
    if (chrono.schedule_kind == chrono.ScheduleKind.ONCE and chrono.created_at
            and field.to_python(run.scheduled_for) < chrono.created_at):
        return None
    return max((field.to_python(run.started_at) - field.to_python(run.scheduled_for)).total_seconds() * 1000, 0.0)


def run_saved(sender, instance: ChronoRun, **kwargs) -> None:
    if instance.status in ChronoRun.FINAL and getattr(instance, "_stored_status", None) not in ChronoRun.FINAL:
        count(instance)
    instance._stored_status = instance.status


def count(run: ChronoRun) -> None:
    """Add the finished ``run`` to its hour's tallies and to the all-time ones."""
    _upsert(rows_of(run))


def count_many(runs: Iterable[tuple[ChronoRun, str]]) -> None:
    """Add many finished runs, given as (run, its chrono's target type), in one statement."""
    summed: dict[tuple, list[int]] = {}
    for run, target_type in runs:
        for *key, n, total in _rows_of(run, target_type):
            sums = summed.setdefault(tuple(key), [0, 0])
            sums[0] += n
            sums[1] += total
    if summed:
        _upsert([(*key, n, total) for key, (n, total) in sorted(summed.items())])


def _rows_of(run: ChronoRun, target_type: str) -> list[tuple]:
    scheduled_for = ChronoRun._meta.get_field("scheduled_for").to_python(run.scheduled_for)  # a run made from text
    hour = scheduled_for.replace(minute=0, second=0, microsecond=0)
    rows = [(hour, "runs", 0, 0), (ALL_TIME, "runs", 0, 0)]
    late = lateness_ms(run)
    if late is not None:
        rows += [(hour, "lateness", bucket_ms(late), round(late)), (ALL_TIME, "lateness", bucket_ms(late), round(late))]
    if run.duration_ms is not None:
        rows.append((ALL_TIME, "duration", bucket_ms(run.duration_ms), run.duration_ms))
    return [(when, target_type, run.status, metric, value, 1, total) for when, metric, value, total in sorted(rows)]


def _upsert(rows: list[tuple]) -> None:
    sql, params = upsert_sql(rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rows_of(run: ChronoRun) -> list[tuple]:
    """The tally rows a finished ``run`` adds (for upsert_sql)."""
    return _rows_of(run, run.chrono.target_type)


def upsert_sql(rows: list[tuple], where: str = "") -> tuple[str, list]:
    """The statement that adds ``rows``, and its parameters; ``where`` (SQL) gates it as a whole.

    One statement, rows in a fixed order (so concurrent workers cannot deadlock on them).
    INSERT ... ON CONFLICT DO UPDATE: PostgreSQL and SQLite both speak it."""
    table = connection.ops.quote_name(RunTally._meta.db_table)
    values = ", ".join(["(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"] * len(rows))
    key = ", ".join(_COLUMNS[:5])
    source = f"VALUES {values}"
    if where:
        source = f"SELECT * FROM (VALUES {values}) AS v ({', '.join(_COLUMNS)}) WHERE {where}"
    sql = (f"INSERT INTO {table} ({', '.join(_COLUMNS)}) {source} ON CONFLICT ({key}) DO UPDATE SET "
           f"n = {table}.n + excluded.n, total_ms = {table}.total_ms + excluded.total_ms")
    field = RunTally._meta.get_field("hour")
    params = [field.get_db_prep_value(v, connection) if i == 0 else v
              for row in rows for i, v in enumerate(row)]
    return sql, params


# --- Reading ------------------------------------------------------------------------------------


@dataclass
class Tally:
    target_type: str
    status: str
    value_ms: int
    n: int
    total_ms: int


def read(metric: str, since: datetime | None = None) -> list[Tally]:
    """The tallies of ``metric``: all time, or the hours from ``since``'s hour on, summed over the hours."""
    from django.db.models import Sum

    rows = RunTally.objects.filter(metric=metric)
    if since is None:
        rows = rows.filter(hour=ALL_TIME)
    else:
        rows = rows.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    rows = rows.values("target_type", "status", "value_ms").annotate(n_=Sum("n"), total_=Sum("total_ms")).order_by()
    return [Tally(r["target_type"], r["status"], r["value_ms"], r["n_"], r["total_"]) for r in rows]


def nearest_rank(tallies: Iterable[Tally], fraction: float) -> float | None:
    """The value (ms) at ``fraction`` of the tallied values (nearest-rank method); None without any."""
    by_value: dict[int, int] = {}
    for tally in tallies:
        by_value[tally.value_ms] = by_value.get(tally.value_ms, 0) + tally.n
    total = sum(by_value.values())
    if not total:
        return None
    rank, seen = math.ceil(fraction * total), 0
    for value in sorted(by_value):
        seen += by_value[value]
        if seen >= rank:
            return float(value)
    return None

