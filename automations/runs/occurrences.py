"""Scheduled occurrences as ChronoRun rows, written by beat in bulk before anything is sent.

Beat records every due occurrence of a chrono as a ``pending`` run, then publishes its
message; the worker's get_or_create on (chrono, scheduled_for, trigger) finds that row.
A message lost with the broker therefore still leaves its row, and the reaper sends it
again once ``next_attempt_at`` (the occurrence) is RUN_REAPER_GRACE_S overdue.
Occurrences that beat's misfire policy drops are recorded too, as ``skipped`` runs with
their reason. Both writes are one statement per batch, idempotent on the unique key.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, CharField, Value, When

from automations.models import Chrono, ChronoRun
from automations.runs import tallies

Status = ChronoRun.Status
SCHEDULE = ChronoRun.Trigger.SCHEDULE
BATCH = 2000  # skipped rows per INSERT


def record_pending(occurrences: Iterable[tuple[int, datetime]]) -> None:
    """A pending run for each (chrono id, occurrence) that has none yet, in one statement.

    Not bulk_create: preparing its 17 values per row took about 0.5 s for a minute's burst
    of 1,667 on a busy 2-core machine, all of it before the first message goes out. Every column but the chrono and
    the occurrence holds the same value on each row, so each is prepared once, from the
    model's own defaults (a field added later is covered the same way).
    """
    occurrences = list(occurrences)
    if not occurrences:
        return
    columns, constants = _constant_columns()
    table = connection.ops.quote_name(ChronoRun._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in ["chrono_id", "scheduled_for", "next_attempt_at", *columns])
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _insert_postgresql(cursor, table, names, constants, occurrences)
            else:
                _insert_each(cursor, table, names, constants, occurrences)


def send_pending_with_policies(cursor, occurrences: list[tuple[int, datetime]]) -> None:
    """PostgreSQL: one statement that reads the misfire policy of each occurrence's chrono and
    records a pending run for each occurrence of an active one (as record_pending does).

    It only executes: the caller fetches the (id, misfire_policy, catchup_window_s,
    is_active) rows, one per chrono that exists, when it needs them; beat sends it in
    pipeline mode so PostgreSQL works on it while beat publishes (automations/beat/pending.py).
    """
    columns, constants = _constant_columns()
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in ["chrono_id", "scheduled_for", "next_attempt_at", *columns])
    policy = policy_columns()
    cursor.execute(
        f"WITH chronos AS (SELECT {policy} FROM {quote(Chrono._meta.db_table)} WHERE {quote('id')} = ANY(%s::bigint[])), "
        f"recorded AS (INSERT INTO {quote(ChronoRun._meta.db_table)} ({names}) "
        f"SELECT v.id, v.due, v.due{', %s' * len(constants)} "
        "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, due) JOIN chronos c ON c.id = v.id "
        f"WHERE c.{quote('is_active')} ON CONFLICT DO NOTHING) "
        "SELECT * FROM chronos",
        [sorted({pk for pk, _ in occurrences}), *constants,
         [pk for pk, _ in occurrences], [due for _, due in occurrences]])


def policy_columns() -> str:
    """The chrono columns beat re-reads before sending an occurrence, in the order it reads them:
    id, misfire_policy, catchup_window_s, is_active."""
    quote = connection.ops.quote_name
    return ", ".join(quote(Chrono._meta.get_field(name).column)
                     for name in ("id", "misfire_policy", "catchup_window_s", "is_active"))


def _constant_columns() -> tuple[list[str], list]:
    """The columns (and their database values) that every new pending scheduled run shares."""
    template = ChronoRun(trigger=SCHEDULE)
    columns, values = [], []
    for field in ChronoRun._meta.concrete_fields:
        if field.primary_key or field.attname in ("chrono_id", "scheduled_for", "next_attempt_at"):
            continue
        value = field.get_db_prep_save(field.pre_save(template, add=True), connection)
        if value is not None:  # NULL is every nullable column's default anyway
            columns.append(field.column)
            values.append(value)
    return columns, values


def _insert_postgresql(cursor, table: str, names: str, constants: list, occurrences: list) -> None:
    # Only chronos that still exist: one deleted since beat read it would fail the statement.
    chrono_table = connection.ops.quote_name(Chrono._meta.db_table)
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT v.id, v.due, v.due{', %s' * len(constants)} "
        f"FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, due) JOIN {chrono_table} c ON c.id = v.id "
        "ON CONFLICT DO NOTHING",
        [*constants, [pk for pk, _ in occurrences], [due for _, due in occurrences]])


def _insert_each(cursor, table: str, names: str, constants: list, occurrences: list) -> None:
    field = ChronoRun._meta.get_field("scheduled_for")
    marks = ", ".join(["%s"] * (3 + len(constants)))
    rows = []
    for pk, due in occurrences:
        when = field.get_db_prep_save(due, connection)
        rows.append((pk, when, when, *constants))
    # One prepared statement run per row in a single transaction: SQLite is in-process, so
    # this is no more round trips than one INSERT; a chrono deleted meanwhile is left out.
    chrono_table = connection.ops.quote_name(Chrono._meta.db_table)
    cursor.executemany(f"INSERT OR IGNORE INTO {table} ({names}) SELECT {marks} "
                       f"WHERE EXISTS (SELECT 1 FROM {chrono_table} WHERE id = %s)",
                       [(*row, row[0]) for row in rows])


def record_skipped(occurrences: list[tuple[int, datetime, str]], now: datetime) -> None:
    """A skipped run for each (chrono id, occurrence, reason) that has no run yet; chronos say why."""
    target_types = dict(Chrono._base_manager.filter(pk__in={c for c, _, _ in occurrences})
                        .values_list("pk", "target_type"))
    taken = _existing_keys(occurrences)
    runs = [ChronoRun(chrono_id=chrono_id, scheduled_for=due, trigger=SCHEDULE, status=Status.SKIPPED,
                      error_message=reason, finished_at=now, next_attempt_at=None)
            for chrono_id, due, reason in occurrences
            if chrono_id in target_types and (chrono_id, due) not in taken]
    if not runs:
        return
    with transaction.atomic():
        ChronoRun.objects.bulk_create(runs, ignore_conflicts=True, batch_size=BATCH)
        tallies.count_many((run, target_types[run.chrono_id]) for run in runs)  # bulk_create sends no post_save
        _tell_chronos(runs)


def _existing_keys(occurrences: list[tuple[int, datetime, str]]) -> set[tuple[int, datetime]]:
    """(chrono id, occurrence) of the given ones that already have a scheduled run (sent by a previous beat)."""
    if not occurrences:
        return set()
    dues = [due for _, due, _ in occurrences]
    rows = ChronoRun.objects.filter(chrono_id__in={c for c, _, _ in occurrences}, trigger=SCHEDULE,
                                    scheduled_for__gte=min(dues), scheduled_for__lte=max(dues))
    return set(rows.values_list("chrono_id", "scheduled_for"))


def _tell_chronos(runs: list[ChronoRun]) -> None:
    """Each chrono's last_error says why its newest dropped occurrence did not run."""
    newest: dict[int, ChronoRun] = {}
    for run in runs:
        if run.chrono_id not in newest or newest[run.chrono_id].scheduled_for < run.scheduled_for:
            newest[run.chrono_id] = run
    pks = sorted(newest)
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        reason = Case(*(When(pk=pk, then=Value(newest[pk].error_message)) for pk in chunk), output_field=CharField())
        Chrono._base_manager.filter(pk__in=chunk).update(last_error=reason, last_run_status=Status.SKIPPED)
