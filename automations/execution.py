"""Claim, execute and record one occurrence of a chrono (the body of run_chrono)."""

import logging
import time
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from automations import targets
from automations.models import Chrono, ChronoRun

log = logging.getLogger(__name__)
Status = ChronoRun.Status


def execute(chrono_id: int, scheduled_for: datetime | None, sent_at: datetime | None,
            run_id: int | None, attempt: int) -> str:
    run = _load_run(run_id) if run_id else _scheduled_run(chrono_id, scheduled_for, sent_at)
    if run is None:
        return "no-op"
    if _blocked_by_overlap(run):
        _finish(run, Status.SKIPPED, error="Skipped: the previous run is still running.")
        return Status.SKIPPED
    if not _claim(run, attempt):
        log.info("run %s already claimed (attempt %s); duplicate delivery ignored", run.pk, attempt)
        return "duplicate"
    run.refresh_from_db()
    outcome = _attempt(run)
    return _record(run, outcome)


def _load_run(run_id: int) -> ChronoRun | None:
    return ChronoRun.objects.select_related("chrono").filter(pk=run_id).first()


def _scheduled_run(chrono_id: int, scheduled_for: datetime | None, sent_at: datetime | None) -> ChronoRun | None:
    """Find or create the run of this occurrence; None when the chrono is gone or paused."""
    chrono = Chrono.objects.filter(pk=chrono_id, is_active=True).first()
    if chrono is None:
        return None
    occurrence = scheduled_for or occurrence_at(chrono, sent_at or timezone.now())
    try:
        with transaction.atomic():
            run, _ = ChronoRun.objects.get_or_create(
                chrono=chrono, scheduled_for=occurrence, trigger=ChronoRun.Trigger.SCHEDULE
            )
    except IntegrityError:  # another delivery created it between our get and create
        run = ChronoRun.objects.get(chrono=chrono, scheduled_for=occurrence, trigger=ChronoRun.Trigger.SCHEDULE)
    run.chrono = chrono
    return run


def occurrence_at(chrono: Chrono, sent_at: datetime) -> datetime:
    """The fire time a beat send at `sent_at` stands for: the latest one not after it.

    Two beats (or a redelivery) sending the same occurrence map to the same instant, so
    the unique (chrono, scheduled_for, trigger) key turns the second into a no-op.
    """
    from automations import schedule as sched

    anchor = chrono.created_at if chrono.schedule_kind == Chrono.ScheduleKind.INTERVAL else None
    fire = sched.previous_fire_time(chrono.parsed_schedule, chrono.timezone, sent_at, anchor=anchor)
    return fire or sent_at.replace(microsecond=0)


def _blocked_by_overlap(run: ChronoRun) -> bool:
    if run.chrono.overlap_policy != Chrono.Overlap.SKIP or run.status != Status.PENDING:
        return False
    return ChronoRun.objects.filter(chrono_id=run.chrono_id, status=Status.RUNNING).exclude(pk=run.pk).exists()


def _claim(run: ChronoRun, attempt: int) -> bool:
    """Pending → running, only if nobody else took this attempt. The dedupe point."""
    claimed = ChronoRun.objects.filter(pk=run.pk, status=Status.PENDING, attempt=attempt).update(
        status=Status.RUNNING, attempt=attempt + 1, started_at=timezone.now()
    )
    return claimed == 1


def _attempt(run: ChronoRun) -> targets.Outcome:
    context = {"attempt": run.attempt, "input": run.input, "now": timezone.now()}
    started = time.monotonic()
    try:
        outcome = targets.resolve(run.chrono.target_type)(run.chrono, run, context)
    except Exception as exc:  # a target bug must fail the run, never the worker
        log.exception("target %s of chrono %s raised", run.chrono.target_type, run.chrono_id)
        outcome = targets.Outcome(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=False)
    outcome.extra["duration_ms"] = int((time.monotonic() - started) * 1000)
    return outcome


def _record(run: ChronoRun, outcome: targets.Outcome) -> str:
    chrono = run.chrono
    now = timezone.now()
    run.attempts = [*run.attempts, {
        "attempt": run.attempt,
        "started_at": run.started_at.isoformat(),
        "finished_at": now.isoformat(),
        "duration_ms": outcome.extra["duration_ms"],
        "ok": outcome.ok,
        "http_status": outcome.http_status,
        "error": outcome.error,
    }]
    run.http_status = outcome.http_status
    run.response_snippet = (outcome.response_snippet or "")[: ChronoRun.SNIPPET_CHARS]
    run.result = outcome.result
    run.duration_ms = outcome.extra["duration_ms"]
    if not outcome.ok and outcome.retryable and run.attempt < chrono.effective_max_attempts:
        return _schedule_retry(run, outcome)
    status = Status.SUCCESS if outcome.ok else Status.FAILED
    _finish(run, status, error=outcome.error, now=now)
    return status


def _schedule_retry(run: ChronoRun, outcome: targets.Outcome) -> str:
    from automations.tasks import enqueue_run

    delay = max(run.chrono.backoff_seconds(run.attempt), outcome.retry_after or 0)
    run.status = Status.PENDING
    run.error_message = f"Attempt {run.attempt} failed: {outcome.error}; retrying in {delay:g}s."
    with transaction.atomic():
        run.save()
        enqueue_run(run, attempt=run.attempt, countdown=delay)
    return "retrying"


def _finish(run: ChronoRun, status: str, error: str = "", now: datetime | None = None) -> None:
    """Store the final status on the run and on its chrono; one-shot chronos end here."""
    now = now or timezone.now()
    chrono = run.chrono
    run.status = status
    run.error_message = error
    run.finished_at = now
    if run.started_at and run.duration_ms is None:
        run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    with transaction.atomic():
        run.save()
        updates = {"last_run_at": now, "last_run_status": status, "last_error": error}
        if chrono.is_recurring:
            updates["next_run_at"] = chrono.compute_next_run(now)
        elif run.trigger == ChronoRun.Trigger.SCHEDULE:
            updates.update(is_active=False, next_run_at=None)
        Chrono.objects.filter(pk=chrono.pk).update(**updates)
