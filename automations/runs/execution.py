"""Claim, execute and record one occurrence of a chrono (the body of run_chrono).

Every delivery of a run's message goes through ``admit()``, which decides exactly one of:
claim the next attempt, skip or queue it behind a run still in progress (the chrono's
overlap policy), recover an attempt whose worker died (its claim is stale), or ignore a
duplicate delivery. The conditional ``pending → running`` update is the dedupe point: two
deliveries of the same attempt can never both call the target.

The common case is cheap (issue 12): one conditional write claims the attempt (with the
chrono's row locked first only where the overlap policy needs to see its other runs), and
one write stores the outcome, conditional on the claim still being ours, with the chrono's
summary and the tallies (on PostgreSQL a single statement, elsewhere one transaction). On
PostgreSQL the run's read, the lock and the claim travel together in one round trip
(``_load_and_claim_in_one_round_trip``), so a run costs two. Only a delivery that the
conditional claim refuses takes the slow, fully locked path that tells a duplicate from a
stale claim or an overlap.
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import Exists, Q
from django.utils import timezone

from automations import targets
from automations.events import alerts
from automations.models import Chrono, ChronoRun
from automations.runs import prepared, tallies
from chronoflow import secrets

log = logging.getLogger(__name__)
Status = ChronoRun.Status

CLAIMED, DUPLICATE, QUEUED, RETRYING, SUPERSEDED = "claimed", "duplicate", "queued", "retrying", "superseded"
WAITING = "waiting"  # the target could not start yet (a channel reconnecting): tried again, attempt not counted
# Errors of a database we cannot reach (down, restarting, connection cut): worth waiting out.
# Others (a bad query, a constraint) would fail the same way again, so they are not retried.
UNREACHABLE = (OperationalError, InterfaceError)
JITTER = 0.5  # each backoff is stretched by a random 0–50 %, so retries of many runs spread out


def execute(chrono_id: int, scheduled_for: datetime | None, sent_at: datetime | None,
            run_id: int | None, attempt: int) -> str:
    """Run attempt ``attempt + 1`` of an occurrence, unless another delivery already did.

    Returns the run's final status, "retrying", "waiting", "queued", "duplicate" or "no-op".
    """
    found = _load_and_claim_in_one_round_trip(chrono_id, scheduled_for, run_id, attempt)
    if found is None:  # not PostgreSQL, or no such pending row: the general path
        run = _load_run(run_id) if run_id else _scheduled_run(chrono_id, scheduled_for, sent_at)
        if run is None:
            return "no-op"
        verdict = admit(run, attempt)
    else:
        run, claimed = found
        verdict = CLAIMED if claimed else _admit_locked(run, attempt)
    if verdict != CLAIMED:
        return verdict
    outcome = _attempt(run)
    before = list(run.attempts)

    def record() -> str:
        try:
            run.attempts = list(before)  # a retried write must not append the attempt twice
            queue = holds_a_queue(run.chrono)
            if not queue and not alerts.has_policy(run.chrono):
                # Each outcome's writes are atomic on their own (finish(), schedule_retry(),
                # wait()); a plain final one is a single statement, with no transaction around it.
                return _record(run, outcome)
            with transaction.atomic():
                if queue:
                    lock_chrono(run.chrono_id)  # releasing a queued run must not race its admission
                return _record(run, outcome)
        except Superseded:
            # Our attempt outlived its deadline and was recovered by the reaper: the run is
            # someone else's now, and writing our outcome over it would undo their attempt.
            log.warning("run %s: attempt %s ended after it was given up as lost; result dropped",
                        run.pk, run.attempt)
            return SUPERSEDED

    return with_database_retry(record)


class Superseded(Exception):
    """The claim this outcome belongs to is no longer the run's (rolls the record back)."""


def _runs_with_chrono():
    # The alert policy comes along (or is known absent), so recording asks no more.
    # So do its event triggers: whether runs can queue behind this one is known without a query.
    # order_by() and [:1], not first(): no ORDER BY to compile or sort on a primary-key lookup.
    return ChronoRun.objects.select_related(*(f"chrono__{name}" for name in CHRONO_RELATED)).order_by()


# Compiled once per worker (automations/runs/prepared.py): compiling these select_related
# queries cost more CPU than running them.
_RUN_BY_ID = prepared.Prepared(lambda pk: _runs_with_chrono().filter(pk=pk)[:1], lambda pk: [pk])
_PENDING_OCCURRENCE = prepared.Prepared(
    lambda chrono_id, due: _runs_with_chrono().filter(chrono_id=chrono_id).filter(scheduled_for=due)
    .filter(trigger=ChronoRun.Trigger.SCHEDULE).filter(chrono__is_active=True)[:1],
    # is_active=True compiles to the bare column, no parameter (PostgreSQL and SQLite alike).
    lambda chrono_id, due: [chrono_id, ChronoRun._meta.get_field("scheduled_for").get_db_prep_value(due, connection),
                            ChronoRun.Trigger.SCHEDULE])


def _load_run(run_id: int) -> ChronoRun | None:
    return _RUN_BY_ID.first(run_id)


def _scheduled_run(chrono_id: int, scheduled_for: datetime | None, sent_at: datetime | None) -> ChronoRun | None:
    """Find or create the run of this occurrence; None when the chrono is gone or paused."""
    if scheduled_for is not None:
        # The common case: beat recorded the occurrence as a pending run before sending it,
        # so one query finds the run and its (active) chrono. Otherwise, the full path below.
        run = _PENDING_OCCURRENCE.first(chrono_id, scheduled_for)
        if run is not None:
            return run
    chrono = Chrono.objects.select_related(*CHRONO_RELATED).filter(pk=chrono_id, is_active=True).first()
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


# --- Admission: claim, overlap, stale claims ---------------------------------------------


def _load_and_claim_in_one_round_trip(chrono_id: int, scheduled_for: datetime | None, run_id: int | None,
                                      attempt: int) -> tuple[ChronoRun, bool] | None:
    """PostgreSQL: read the run and claim it in one round trip; (run, claimed) or None.

    Three statements go in one pipeline and one implicit transaction (it ends at the sync):
    the run with its chrono (as ``_load_run`` / ``_scheduled_run`` read it), the chrono's
    row lock where the overlap policy needs it (a first attempt, a policy other than allow:
    ``FOR UPDATE`` locks only a row that matches), and ``_claim``'s conditional
    ``pending → running`` with the policy checked in SQL. Each statement takes its own
    snapshot, so the claim sees every run committed before the lock was granted, as the
    transaction of steps in ``_claim`` does; the lock is held until the implicit commit.
    Up to 5 round trips (read, BEGIN, lock, claim, COMMIT) become 1.

    None (the caller takes the general path) on other databases, inside a transaction, for a
    shape the ORM must build, and when no pending row was found (beat did not record it).
    A found run the claim refused is (run, False): the locked slow path tells why.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block or not (run_id or scheduled_for):
        return None
    statement = _RUN_BY_ID.statement(run_id) if run_id else _PENDING_OCCURRENCE.statement(chrono_id, scheduled_for)
    if statement is None:
        return None
    now = timezone.now()
    claim_sql, claim_params = _claim_sql(chrono_id, scheduled_for, run_id, attempt, now)
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline() as pipeline, \
            connection.cursor() as load, connection.cursor() as lock, connection.cursor() as claim:
        load.execute(*statement)
        if attempt == 0:
            lock.execute(f"SELECT 1 FROM {_chrono_table()} WHERE id = %s AND overlap_policy <> %s FOR UPDATE",
                         [chrono_id, Chrono.Overlap.ALLOW])
        claim.execute(claim_sql, claim_params)
        pipeline.sync()  # the implicit transaction commits here: the lock is released
        run = _RUN_BY_ID.instance(load.fetchone()) if run_id else _PENDING_OCCURRENCE.instance(load.fetchone())
        claimed = claim.fetchone()
    if claimed is not None and (run is None or run.pk != claimed[0]):
        run = _load_run(claimed[0])  # the row appeared between the two statements' snapshots: ours now
    if run is None:
        return None
    if claimed is None:
        return run, False
    run.status, run.attempt, run.started_at, run.next_attempt_at = Status.RUNNING, attempt + 1, now, None
    run.attempts = ChronoRun._meta.get_field("attempts").from_db_value(claimed[1], None, connection)
    return run, True


def _chrono_table() -> str:
    return connection.ops.quote_name(Chrono._meta.db_table)


IN_PROGRESS = (Status.RUNNING, Status.PENDING)  # the parameters of _another_in_progress's SQL


def _another_in_progress(chrono: str, run: str) -> str:
    """SQL: ``in_progress()`` of the chrono (an SQL expression) has a run other than ``run``
    (kept in step with it); its parameters are IN_PROGRESS."""
    table = connection.ops.quote_name(ChronoRun._meta.db_table)
    return (f"EXISTS (SELECT 1 FROM {table} o WHERE o.chrono_id = {chrono} AND o.id <> {run}"
            " AND (o.status = %s OR (o.status = %s AND o.attempt > 0)))")


def _claim_sql(chrono_id: int, scheduled_for: datetime | None, run_id: int | None, attempt: int,
               now: datetime) -> tuple[str, list]:
    """The claim of ``_load_and_claim_in_one_round_trip``: by id, or by the occurrence's key of an active chrono."""
    table = connection.ops.quote_name(ChronoRun._meta.db_table)
    field = ChronoRun._meta.get_field("started_at")
    params: list = [Status.RUNNING, attempt + 1, field.get_db_prep_value(now, connection)]
    if run_id:
        where = f"{table}.id = %s AND {table}.chrono_id = %s"
        params += [run_id, chrono_id]
    else:
        where = f"{table}.chrono_id = %s AND {table}.scheduled_for = %s AND {table}.trigger = %s"
        params += [chrono_id, field.get_db_prep_value(scheduled_for, connection), ChronoRun.Trigger.SCHEDULE]
    where += f" AND {table}.status = %s AND {table}.attempt = %s"
    params += [Status.PENDING, attempt]
    chrono_checks = [] if run_id else ["c.is_active"]
    if attempt == 0:
        chrono_checks.append(f"(c.overlap_policy = %s OR NOT {_another_in_progress('c.id', f'{table}.id')})")
    if chrono_checks:
        where += f" AND EXISTS (SELECT 1 FROM {_chrono_table()} c WHERE c.id = %s AND {' AND '.join(chrono_checks)})"
        params.append(chrono_id)
        if attempt == 0:
            params += [Chrono.Overlap.ALLOW, *IN_PROGRESS]
    sql = (f"UPDATE {table} SET status = %s, attempt = %s, started_at = %s, next_attempt_at = NULL"
           f" WHERE {where} RETURNING {table}.id, {table}.attempts")
    return sql, params


def admit(run: ChronoRun, attempt: int) -> str:
    """Decide what this delivery of attempt ``attempt + 1`` does; see the module docstring."""
    if _claim(run, attempt):
        return CLAIMED
    return _admit_locked(run, attempt)


def _claim(run: ChronoRun, attempt: int) -> bool:
    """The cheap path: claim the attempt with one conditional write, or leave it to the slow one.

    The write succeeds only when the run is still pending at this attempt and, for a first
    attempt under the skip or queue policy, no other run of the chrono is in progress (seen
    with the chrono's row locked, as admissions and records of the queue policy take it).
    """
    now = timezone.now()
    if attempt == 0 and run.chrono.overlap_policy != Chrono.Overlap.ALLOW:
        with transaction.atomic():
            lock_chrono(run.chrono_id)
            attempts = _claim_returning(run, attempt, now, exclusive=True)
    else:
        attempts = _claim_returning(run, attempt, now, exclusive=False)
    if attempts is None:
        return False
    # What the claim wrote, and the attempt history as the claim found it: it is ours now,
    # but a recovery by the reaper may have added to it since the run was read.
    run.status, run.attempt, run.started_at, run.next_attempt_at = Status.RUNNING, attempt + 1, now, None
    run.attempts = attempts
    return True


def _claim_returning(run: ChronoRun, attempt: int, now: datetime, exclusive: bool) -> list | None:
    """``pending → running`` for this attempt, in one statement that also returns the attempt history.

    None when the run is not pending at ``attempt`` (or, ``exclusive``, when another run of
    the chrono is in progress). Hand-written because the ORM's update() returns no row: an
    UPDATE ... RETURNING (PostgreSQL, SQLite ≥ 3.35) saves the read-back of ``attempts``.
    """
    table = connection.ops.quote_name(ChronoRun._meta.db_table)
    field = ChronoRun._meta.get_field("started_at")
    busy = ""
    params = [Status.RUNNING, attempt + 1, field.get_db_prep_value(now, connection), run.pk, Status.PENDING, attempt]
    if exclusive:
        busy = f" AND NOT {_another_in_progress('%s', '%s')}"
        params += [run.chrono_id, run.pk, *IN_PROGRESS]
    sql = (f"UPDATE {table} SET status = %s, attempt = %s, started_at = %s, next_attempt_at = NULL"
           f" WHERE id = %s AND status = %s AND attempt = %s{busy} RETURNING attempts")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return ChronoRun._meta.get_field("attempts").from_db_value(row[0], None, connection)


def _admit_locked(run: ChronoRun, attempt: int) -> str:
    """The slow path, for deliveries the conditional claim refused: why, with the chrono locked."""
    with transaction.atomic():
        lock_chrono(run.chrono_id)
        current = ChronoRun.objects.select_related("chrono").get(pk=run.pk)
        if current.status == Status.RUNNING and current.attempt == attempt + 1:
            # Our own attempt is marked running: a redelivery after its worker died, or a
            # plain duplicate. Only a claim past its deadline is taken back.
            return recover_if_stale(current) or DUPLICATE
        if current.status != Status.PENDING or current.attempt != attempt:
            return DUPLICATE
        if attempt == 0:
            verdict = _overlap_verdict(current)
            if verdict is not None:
                return verdict
        claimed = ChronoRun.objects.filter(pk=run.pk, status=Status.PENDING, attempt=attempt).update(
            status=Status.RUNNING, attempt=attempt + 1, started_at=timezone.now(), next_attempt_at=None
        )
    if claimed != 1:
        return DUPLICATE
    run.refresh_from_db()
    return CLAIMED


def lock_chrono(chrono_id: int) -> None:
    """Serialise admissions and records of one chrono (SQLite: IMMEDIATE transactions already do)."""
    # Hand-written: the ORM's select_for_update() costs more to compile than the lock takes,
    # and carried the model's ORDER BY name. SQLite has no FOR UPDATE (nor needs it).
    if connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(Chrono._meta.db_table)} WHERE id = %s FOR UPDATE",
                           [chrono_id])


def _overlap_verdict(run: ChronoRun) -> str | None:
    """None to go ahead; otherwise the run was skipped or queued per the chrono's policy.

    A run is in progress while it runs and while it waits for a retry: its occurrence
    is not over. Retries themselves (attempt > 0) are never held back. Runs a hook or a
    message started are never skipped: they queue (hooks refuse with 429 past
    EVENT_QUEUE_MAX, before a run exists), and each finished run releases the oldest.
    """
    chrono = run.chrono
    if chrono.overlap_policy == Chrono.Overlap.ALLOW:
        return None
    busy = in_progress(chrono.pk).exclude(pk=run.pk).order_by("pk").first()
    if busy is None:
        return None
    if run.trigger in ChronoRun.EVENT_TRIGGERS:
        return _queue(run, f"Queued behind run #{busy.pk}: started by a {run.trigger}, it waits its turn.")
    siblings = ChronoRun.objects.filter(chrono_id=chrono.pk).exclude(pk=run.pk)
    if chrono.overlap_policy == Chrono.Overlap.QUEUE:
        queued = siblings.filter(status=Status.PENDING, attempt=0, next_attempt_at__isnull=True).first()
        if queued is None:
            return _queue(run, f"Queued behind run #{busy.pk} (overlap policy: queue one).")
        error = f"Skipped: run #{queued.pk} is already queued behind run #{busy.pk} (overlap policy: queue one)."
    else:
        error = f"Skipped: run #{busy.pk} is still in progress (overlap policy: skip)."
    finish(run, Status.SKIPPED, error=error)
    return Status.SKIPPED


def _queue(run: ChronoRun, reason: str) -> str:
    ChronoRun.objects.filter(pk=run.pk).update(next_attempt_at=None, error_message=reason)
    return QUEUED


CHRONO_RELATED = ("alert_policy", "hook", "message_trigger")


def holds_a_queue(chrono: Chrono) -> bool:
    """Whether runs may wait behind this chrono's runs: the queue policy, or a hook or message trigger."""
    if chrono.overlap_policy == Chrono.Overlap.ALLOW:
        return False
    return chrono.overlap_policy == Chrono.Overlap.QUEUE or any(_has(chrono, name) for name in ("hook", "message_trigger"))


def _has(chrono: Chrono, relation: str) -> bool:
    try:
        return getattr(chrono, relation) is not None  # select_related: known without a query
    except ObjectDoesNotExist:
        return False


def in_progress(chrono_id: int):
    """Runs of the chrono whose occurrence is not over: running, or pending a retry."""
    return ChronoRun.objects.filter(chrono_id=chrono_id).filter(
        Q(status=Status.RUNNING) | Q(status=Status.PENDING, attempt__gt=0))


# --- One attempt and its outcome ------------------------------------------------------------


def _attempt(run: ChronoRun) -> targets.Outcome:
    context = {"attempt": run.attempt, "input": run.input, "now": timezone.now()}
    started = time.monotonic()
    try:
        outcome = targets.run(run.chrono, run, context)
    except UNREACHABLE as exc:  # our database, not the target, failed: worth another attempt
        log.warning("target %s of chrono %s hit a database error: %s", run.chrono.target_type, run.chrono_id, exc)
        outcome = targets.Outcome(ok=False, error=f"Database error during the attempt: {type(exc).__name__}")
    except Exception as exc:  # a target bug must fail the run, never the worker
        log.exception("target %s of chrono %s raised", run.chrono.target_type, run.chrono_id)
        outcome = targets.Outcome(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=False)
    outcome.extra["duration_ms"] = int((time.monotonic() - started) * 1000)
    return outcome


def _record(run: ChronoRun, outcome: targets.Outcome) -> str:
    chrono = run.chrono
    now = timezone.now()
    _scrub(outcome, chrono)
    if outcome.wait_s and not outcome.ok:
        return wait(run, outcome.error, outcome.wait_s, claimed_attempt=run.attempt)
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
    claim = run.attempt  # the outcome is written only while this claim is still the run's
    if not outcome.ok and outcome.retryable and run.attempt < chrono.effective_max_attempts:
        return schedule_retry(run, f"Attempt {run.attempt} failed: {outcome.error}", outcome.retry_after,
                              claimed_attempt=claim)
    if outcome.ok:
        status = Status.SUCCESS
    else:
        status = Status.TIMEOUT if outcome.timed_out else Status.FAILED
    finish(run, status, error=outcome.error, now=now, claimed_attempt=claim)
    return status


def _scrub(outcome: targets.Outcome, chrono: Chrono) -> None:
    """Secrets of the chrono's headers must not reach the run, even if the server echoes them."""
    values = secrets.secret_values(chrono.headers)
    outcome.error = secrets.redact(outcome.error or "", values)
    outcome.response_snippet = secrets.redact(outcome.response_snippet or "", values)
    outcome.result = secrets.redact_json(outcome.result, values)


def retry_delay(chrono: Chrono, attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: exponential backoff, jittered, capped.

    A server's Retry-After is a floor: we never come back sooner than it asked.
    """
    backoff = chrono.backoff_seconds(attempt) * (1 + random.uniform(0, JITTER))
    return max(min(backoff, settings.RUN_MAX_BACKOFF_S), retry_after or 0)


def schedule_retry(run: ChronoRun, reason: str, retry_after: float | None = None,
                   claimed_attempt: int | None = None) -> str:
    """Put the run back to pending and send its next attempt after the backoff.

    With ``claimed_attempt``, only while the run is still running that attempt (else
    Superseded); without, the caller holds the chrono's row.
    """
    from automations.queue import enqueue_run

    delay = retry_delay(run.chrono, run.attempt, retry_after)
    run.status = Status.PENDING
    run.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    run.error_message = f"{reason}; retrying in {delay:.3g}s."
    # No savepoint: inside record()'s transaction a failure rolls all of it back anyway.
    with transaction.atomic(savepoint=False):
        _write_run(run, claimed_attempt)
        enqueue_run(run, attempt=run.attempt, countdown=delay)
    return RETRYING


def wait(run: ChronoRun, reason: str, wait_s: float, claimed_attempt: int) -> str:
    """The target could not start (nothing was done): back to pending, the attempt not counted."""
    from automations.queue import enqueue_run

    run.status, run.attempt = Status.PENDING, claimed_attempt - 1
    run.next_attempt_at = timezone.now() + timedelta(seconds=wait_s)
    run.error_message = f"{reason} Checking again in {wait_s:g}s."
    with transaction.atomic(savepoint=False):
        fields = {"status": run.status, "attempt": run.attempt, "next_attempt_at": run.next_attempt_at,
                  "error_message": run.error_message, "started_at": None}
        if ChronoRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempt=claimed_attempt).update(**fields) != 1:
            raise Superseded
        enqueue_run(run, attempt=run.attempt, countdown=wait_s)
    return WAITING


# The fields an attempt's outcome, a retry or a final status change.
OUTCOME_FIELDS = ("status", "error_message", "finished_at", "next_attempt_at", "duration_ms",
                  "http_status", "response_snippet", "result", "attempts")


def _write_run(run: ChronoRun, claimed_attempt: int | None) -> None:
    where = {"status": Status.RUNNING, "attempt": claimed_attempt} if claimed_attempt is not None else {}
    if update_row(ChronoRun, run.pk, {field: getattr(run, field) for field in OUTCOME_FIELDS}, where) != 1 \
            and claimed_attempt is not None:
        raise Superseded


def update_row(model, pk: int, values: dict, where: dict | None = None) -> int:
    """``model.objects.filter(pk=pk, **where).update(**values)`` for plain column values, hand-built.

    The run's hot path writes two rows per run; compiling those updates through the ORM cost
    more CPU than the database spends on them (issue 12). Values are prepared by their
    fields exactly as update() prepares them; ``where`` is equality on columns only.
    """
    sql, params = update_sql(model, pk, values, where)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_sql(model, pk: int, values: dict, where: dict | None = None, extra: str = "") -> tuple[str, list]:
    """update_row's statement and parameters; ``extra`` (SQL) is one more condition."""
    meta, quote = model._meta, connection.ops.quote_name
    sets, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions = [f"{quote(meta.pk.column)} = %s"]
    params.append(pk)
    for name, value in (where or {}).items():
        field = meta.get_field(name)
        conditions.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    if extra:
        conditions.append(extra)
    return f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} WHERE {' AND '.join(conditions)}", params


def _finish_in_one_statement(run: ChronoRun, chrono_updates: dict, claimed_attempt: int | None) -> None:
    """PostgreSQL: the run's outcome, its chrono's summary and the tallies in one statement
    (one round trip, no transaction to open and commit: 1 of a run's statements instead of 5).
    The chrono and tallies are written only if the run's conditional update matched."""
    where = {"status": Status.RUNNING, "attempt": claimed_attempt} if claimed_attempt is not None else {}
    run_sql, run_params = update_sql(ChronoRun, run.pk, {field: getattr(run, field) for field in OUTCOME_FIELDS}, where)
    matched = "EXISTS (SELECT 1 FROM written)"
    chrono_sql, chrono_params = update_sql(Chrono, run.chrono_id, chrono_updates, extra=matched)
    tally_sql, tally_params = tallies.upsert_sql(tallies.rows_of(run), where=matched)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH written AS ({run_sql} RETURNING 1), summary AS ({chrono_sql}), counted AS ({tally_sql}) "
                       "SELECT count(*) FROM written", [*run_params, *chrono_params, *tally_params])
        matched_rows = cursor.fetchone()[0]
    if matched_rows != 1 and claimed_attempt is not None:
        raise Superseded


def finish(run: ChronoRun, status: str, error: str = "", now: datetime | None = None,
           claimed_attempt: int | None = None) -> None:
    """Store the final status on the run and on its chrono; one-shot chronos end here.

    A run queued behind this one (overlap policy "queue one") is sent on its way. With
    ``claimed_attempt``, only while the run is still running that attempt (else Superseded).
    """
    now = now or timezone.now()
    chrono = run.chrono
    run.status = status
    run.error_message = error
    run.finished_at = now
    run.next_attempt_at = None
    if run.started_at and run.duration_ms is None:
        run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    updates = {"last_run_at": now, "last_run_status": status, "last_error": error}
    if chrono.is_recurring:
        updates["next_run_at"] = chrono.compute_next_run(now)
    elif run.trigger == ChronoRun.Trigger.SCHEDULE:
        updates.update(is_active=False, next_run_at=None)
    releases = status != Status.SKIPPED and holds_a_queue(chrono)
    if connection.vendor == "postgresql" and "is_active" not in updates and not releases:
        _finish_in_one_statement(run, updates, claimed_attempt)  # the common case
        run._stored_status = status
    else:
        _finish_in_steps(run, status, updates, now, claimed_attempt, releases)
    if alerts.has_policy(chrono):
        alerts.after_run(run)  # failure alerts and auto-pause (automations/events/alerts.py)


def _finish_in_steps(run: ChronoRun, status: str, updates: dict, now: datetime, claimed_attempt: int | None,
                     releases: bool) -> None:
    chrono = run.chrono
    # No savepoint: inside record()'s transaction a failure rolls all of it back anyway.
    with transaction.atomic(savepoint=False):
        _write_run(run, claimed_attempt)
        if "is_active" in updates:  # a one-shot chrono ends: through the ORM, which keeps beat's rows in step
            Chrono.objects.filter(pk=chrono.pk).update(**updates)
        else:
            update_row(Chrono, chrono.pk, updates)
        if releases:
            _release_queued(chrono, now)
        # A queryset write sends no post_save: count the finished run here, in the same transaction.
        # Last before the commit: every finished run upserts the same few tally rows, so their
        # row locks are held for as short a time as the transaction allows.
        tallies.count(run)
        run._stored_status = status


def _release_queued(chrono: Chrono, now: datetime) -> None:
    from automations.queue import enqueue_run

    queued = ChronoRun.objects.queued(chrono.pk).first()  # the oldest: events keep their order
    if queued is not None:
        ChronoRun.objects.filter(pk=queued.pk).update(next_attempt_at=now)
        enqueue_run(queued)


# --- Database outages ---------------------------------------------------------------------


def with_database_retry(write, deadline_s: float | None = None):
    """Call ``write()``, retrying while the database is unreachable, for up to RUN_DB_RETRY_S.

    Used after the target was called: giving up there would leave the run marked running
    and have its side effect repeated by a later attempt, so we wait for the database.
    """
    deadline = time.monotonic() + (settings.RUN_DB_RETRY_S if deadline_s is None else deadline_s)
    delay = 0.2
    while True:
        try:
            return write()
        except UNREACHABLE as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable while recording a run (%s); retrying in %.1fs", exc, delay)
            connections.close_all()  # a broken connection is not reused
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


# --- A claim whose worker was lost ----------------------------------------------------

def stale_at(run: ChronoRun) -> datetime:
    """When a running attempt of this run counts as lost."""
    return run.started_at + timedelta(seconds=targets.deadline_s(run.chrono) + settings.RUN_REAPER_GRACE_S)


def recover_if_stale(run: ChronoRun, now: datetime | None = None) -> str | None:
    """If the run's running attempt is stale, recover it; returns what became of it, else None.

    Call inside a transaction holding the chrono's row (admit and the reaper do), with the
    run freshly read: the claim is then certainly the one that looked stale.
    """
    now = now or timezone.now()
    if run.status != Status.RUNNING or (run.started_at and now < stale_at(run)):
        return None
    limit = targets.deadline_s(run.chrono) + settings.RUN_REAPER_GRACE_S
    error = (f"Attempt {run.attempt} was lost: no result {limit:g}s after it started "
             "(its worker stopped or was killed mid-run).")
    run.attempts = [*run.attempts, _lost_entry(run, now, error)]
    run.duration_ms = None
    if run.attempt < run.chrono.effective_max_attempts:
        return schedule_retry(run, error)
    finish(run, Status.TIMEOUT, error=f"Timed out: {error[0].lower()}{error[1:]}", now=now)
    return Status.TIMEOUT


def _lost_entry(run: ChronoRun, now: datetime, error: str) -> dict:
    started = run.started_at or now
    return {"attempt": run.attempt, "started_at": started.isoformat(), "finished_at": now.isoformat(),
            "duration_ms": int((now - started).total_seconds() * 1000), "ok": False, "http_status": None,
            "error": error, "lost": True}
