"""Celery entry points of the automations app: thin wrappers around runs/ and the event log.

Imported by the worker only (enqueue with automations.queue.enqueue_run, which names the task)."""

import logging
import random
from datetime import datetime

from celery import shared_task
from django.db import connections

from automations.events import log as event_log
from automations.runs import execution, reaper, retention

log = logging.getLogger(__name__)
DB_RETRY_CAP_S = 30.0


@shared_task(bind=True, name="automations.tasks.run_chrono", acks_late=True, ignore_result=True, max_retries=None)
def run_chrono(
    self,
    chrono_id: int,
    scheduled_for: str | None = None,
    sent_at: str | None = None,
    run_id: int | None = None,
    attempt: int = 0,
) -> str:
    """Execute one occurrence of a chrono.

    Beat sends ``chrono_id`` (and ``scheduled_for`` or ``sent_at``); manual, webhook and
    retry deliveries name the ``run_id``. ``attempt`` is the attempt count the sender saw,
    so a second delivery of the same message finds the run already claimed and does nothing.

    While the database is unreachable the message is sent again with a growing delay
    (capped at 30 s) instead of failing: an acknowledged failure would lose the occurrence.
    """
    try:
        return execution.execute(chrono_id, _parse(scheduled_for), _parse(sent_at), run_id, attempt)
    except execution.UNREACHABLE as exc:
        connections.close_all()  # never hand a broken connection to the next task
        countdown = min(2 ** self.request.retries, DB_RETRY_CAP_S) * random.uniform(1, 1.5)
        log.warning("run_chrono(chrono %s): database unavailable (%s); retrying in %.1fs", chrono_id, exc, countdown)
        raise self.retry(countdown=countdown, exc=exc) from None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@shared_task(name="automations.tasks.reap_runs", ignore_result=True)
def reap_runs() -> dict:
    """Periodic (RUN_REAPER_INTERVAL_S): recover lost attempts, re-send overdue runs."""
    counts = reaper.reap()
    if any(counts.values()):
        log.warning("reaper: %(recovered)d lost attempt(s) retried, %(timed_out)d run(s) timed out, "
                    "%(resent)d pending run(s) re-sent, %(skipped)d skipped by their misfire policy", counts)
    return counts


@shared_task(name="automations.tasks.prune_runs", ignore_result=True)
def prune_runs() -> int:
    """Periodic (RUN_PRUNE_INTERVAL_S): delete runs past RUN_RETENTION_DAYS / _PER_CHRONO."""
    deleted = retention.prune()
    pruned_events = event_log.prune()  # the event log (automations/events/log.py) follows RUN_RETENTION_DAYS
    log.info("retention: %d run(s) pruned, %d event(s) pruned", deleted, pruned_events)
    return deleted
