"""Celery tasks of the automations app: thin wrappers around automations.execution."""

from datetime import datetime

from celery import shared_task
from django.db import transaction

from automations import execution


@shared_task(name="automations.tasks.run_chrono", acks_late=True, ignore_result=True)
def run_chrono(
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
    """
    return execution.execute(chrono_id, _parse(scheduled_for), _parse(sent_at), run_id, attempt)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def enqueue_run(run, attempt: int = 0, countdown: float = 0) -> None:
    """Send a run to the workers once the surrounding transaction has committed."""
    kwargs = {"chrono_id": run.chrono_id, "run_id": run.pk, "attempt": attempt}
    transaction.on_commit(lambda: run_chrono.apply_async(kwargs=kwargs, countdown=countdown or None))
