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

from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Value, When

from automations.models import Chrono, ChronoRun
from automations.runs import tallies

Status = ChronoRun.Status
SCHEDULE = ChronoRun.Trigger.SCHEDULE
BATCH = 2000  # rows per INSERT: a minute's burst at 100,000 chronos is one statement


def record_pending(occurrences: Iterable[tuple[int, datetime]]) -> None:
    """A pending run for each (chrono id, occurrence) that has none yet."""
    runs = [ChronoRun(chrono_id=chrono_id, scheduled_for=due, trigger=SCHEDULE, next_attempt_at=due)
            for chrono_id, due in occurrences]
    try:
        _insert(runs)
    except IntegrityError:
        # A chrono deleted since beat read it: its foreign key fails the whole statement.
        _insert(_of_existing_chronos(runs))


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


def _insert(runs: list[ChronoRun]) -> None:
    if runs:
        with transaction.atomic():  # PostgreSQL checks the deferred foreign key at commit
            ChronoRun.objects.bulk_create(runs, ignore_conflicts=True, batch_size=BATCH)


def _of_existing_chronos(runs: list[ChronoRun]) -> list[ChronoRun]:
    alive = set(Chrono._base_manager.filter(pk__in={run.chrono_id for run in runs}).values_list("pk", flat=True))
    return [run for run in runs if run.chrono_id in alive]


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
