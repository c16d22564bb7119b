"""The reaper: no run stays ``running`` or ``pending`` for ever.

A worker can die in the middle of an attempt (SIGKILL, OOM, a host lost). With Redis the
broker delivers the message again (late acknowledgement), but only after its visibility
timeout; Celery's filesystem transport, the embedded default, acknowledges a message when
the worker takes it, so after a crash nothing is redelivered at all. The reaper closes
both gaps, from a periodic task (RUN_REAPER_INTERVAL_S):

* an attempt still ``running`` past the longest it can take (its target's ``deadline_s``)
  plus RUN_REAPER_GRACE_S was lost with its worker: it is recorded as lost and the run goes
  on with its next attempt, or, when none is left, ends as ``timeout`` and the chrono's
  last_error says so (``execution.recover_if_stale``, which a redelivered message that
  finds such a stale claim calls too);
* a ``pending`` run whose next attempt is overdue by the grace (its message was lost with
  a worker, or never reached a broker that was down) is sent again. Duplicate sends are
  harmless: the claim in automations.runs.execution lets one of them through;
* but a scheduled occurrence that no worker ever started (beat records each one as a
  pending run before sending it) is first held to its chrono's misfire policy: one that
  the policy says is no longer worth running (its message expired in the queue, or was
  lost) ends as ``skipped`` with the reason, on the run and in the chrono's last_error.
  So is one of a chrono paused since.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automations.beat import entries as be
from automations.models import ChronoRun
from automations.runs import execution
Status = ChronoRun.Status
BATCH = 500  # runs looked at per pass; the next pass takes the rest


def reap(now: datetime | None = None) -> dict[str, int]:
    """One pass: recover stale running runs, re-send (or skip) overdue pending ones. Returns counts."""
    now = now or timezone.now()
    counts = {"recovered": 0, "timed_out": 0, "resent": 0, "skipped": 0}
    for run_id in _running_candidates(now):
        verdict = _recover(run_id, now)
        if verdict == Status.TIMEOUT:
            counts["timed_out"] += 1
        elif verdict is not None:
            counts["recovered"] += 1
    resent, counts["skipped"] = resend_overdue(now)
    counts["resent"] = resent + release_orphaned_queued(now)
    return counts


def _running_candidates(now: datetime) -> list[int]:
    cutoff = now - timedelta(seconds=settings.RUN_REAPER_GRACE_S)
    return list(ChronoRun.objects.filter(status=Status.RUNNING, started_at__lt=cutoff)
                .order_by("started_at").values_list("pk", flat=True)[:BATCH])


def _recover(run_id: int, now: datetime) -> str | None:
    with transaction.atomic():
        chrono_id = ChronoRun.objects.filter(pk=run_id).values_list("chrono_id", flat=True).first()
        execution.lock_chrono(chrono_id)
        run = ChronoRun.objects.select_related("chrono", "chrono__function").filter(pk=run_id).first()
        return execution.recover_if_stale(run, now) if run is not None else None


def resend_overdue(now: datetime) -> tuple[int, int]:
    """Send again the pending runs whose next attempt is overdue by the grace; (sent, skipped).

    An occurrence never started that its chrono's misfire policy has given up on is
    skipped instead; the others never started are sent with the expiry the policy gives.
    """
    from automations.queue import enqueue_run

    cutoff = now - timedelta(seconds=settings.RUN_REAPER_GRACE_S)
    overdue = (ChronoRun.objects.filter(status=Status.PENDING, next_attempt_at__lt=cutoff)
               .select_related("chrono").order_by("next_attempt_at"))
    sent = skipped = 0
    for run in overdue[:BATCH]:
        expires = None
        if never_started(run):
            reason, expires = misfire_verdict(run, now)
            if reason is not None:
                skipped += skip_unstarted(run, reason, now)
                continue
        # Conditional, so two reapers re-send a run once; the grace starts over from now.
        if ChronoRun.objects.filter(pk=run.pk, status=Status.PENDING, attempt=run.attempt,
                                    next_attempt_at=run.next_attempt_at).update(next_attempt_at=now):
            enqueue_run(run, attempt=run.attempt, expires=expires)
            sent += 1
    return sent, skipped


def never_started(run: ChronoRun) -> bool:
    """A scheduled occurrence no worker has taken yet: no attempt, and no note from an admission.

    Runs an admission left pending carry its note (queued behind a run, waiting for a
    channel) and have their own bounds: the misfire policy is about the first start only.
    """
    return (run.trigger == ChronoRun.Trigger.SCHEDULE and run.attempt == 0 and run.started_at is None
            and not run.error_message)


def misfire_verdict(run: ChronoRun, now: datetime) -> tuple[str | None, datetime | None]:
    """(why the occurrence is no longer worth running or None, until when it still is)."""
    chrono = run.chrono
    if not chrono.is_active:
        return "Skipped: the chrono was paused before this occurrence started.", None
    policy = (chrono.misfire_policy, chrono.catchup_window_s)
    following = chrono.compute_next_run(run.scheduled_for) if chrono.is_recurring else None
    due_us, next_us = be.to_us(run.scheduled_for), be.to_us(following) if following else None
    expiry = be.message_expiry(policy, due_us, next_us)
    return be.expiry_reason(policy, due_us, next_us, be.to_us(now)), be.from_us(expiry) if expiry else None


def skip_unstarted(run: ChronoRun, reason: str, now: datetime) -> int:
    """End a never-started run as skipped, unless a worker claims it first; 1 if it was skipped."""
    with transaction.atomic():
        execution.lock_chrono(run.chrono_id)
        # The conditional write holds the row: a worker's claim of it now finds it skipped.
        if not ChronoRun.objects.filter(pk=run.pk, status=Status.PENDING, attempt=0,
                                        next_attempt_at=run.next_attempt_at).update(status=Status.SKIPPED):
            return 0
        execution.finish(run, Status.SKIPPED, error=reason, now=now)  # the reason is on the run, not in a log
    return 1


def release_orphaned_queued(now: datetime) -> int:
    """A run queued behind one that vanished (deleted by hand, or its release was lost) would
    wait for ever: send the oldest queued run of each chrono with nothing in progress."""
    from automations.queue import enqueue_run

    stale = now - timedelta(seconds=settings.RUN_REAPER_GRACE_S)
    chrono_ids = (ChronoRun.objects.filter(status=Status.PENDING, attempt=0, next_attempt_at__isnull=True,
                                           created_at__lt=stale)
                  .order_by().values_list("chrono_id", flat=True).distinct()[:BATCH])
    released = 0
    for chrono_id in chrono_ids:
        run = ChronoRun.objects.queued(chrono_id).first()  # the oldest: events keep their order
        if run is None or execution.in_progress(chrono_id).exists():
            continue
        if ChronoRun.objects.filter(pk=run.pk, next_attempt_at__isnull=True).update(next_attempt_at=now):
            enqueue_run(run)
            released += 1
    return released
