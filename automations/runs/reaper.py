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
  harmless: the claim in automations.runs.execution lets one of them through.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automations.models import ChronoRun
from automations.runs import execution

Status = ChronoRun.Status
BATCH = 500  # runs looked at per pass; the next pass takes the rest


def reap(now: datetime | None = None) -> dict[str, int]:
    """One pass: recover stale running runs, re-send overdue pending ones. Returns counts."""
    now = now or timezone.now()
    counts = {"recovered": 0, "timed_out": 0, "resent": 0}
    for run_id in _running_candidates(now):
        verdict = _recover(run_id, now)
        if verdict == Status.TIMEOUT:
            counts["timed_out"] += 1
        elif verdict is not None:
            counts["recovered"] += 1
    counts["resent"] = resend_overdue(now) + release_orphaned_queued(now)
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


def resend_overdue(now: datetime) -> int:
    """Send again the pending runs whose next attempt is overdue by the grace."""
    from automations.queue import enqueue_run

    cutoff = now - timedelta(seconds=settings.RUN_REAPER_GRACE_S)
    overdue = ChronoRun.objects.filter(status=Status.PENDING, next_attempt_at__lt=cutoff).order_by("next_attempt_at")
    sent = 0
    for run in overdue[:BATCH]:
        # Conditional, so two reapers re-send a run once; the grace starts over from now.
        if ChronoRun.objects.filter(pk=run.pk, status=Status.PENDING, attempt=run.attempt,
                                    next_attempt_at=run.next_attempt_at).update(next_attempt_at=now):
            enqueue_run(run, attempt=run.attempt)
            sent += 1
    return sent


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
