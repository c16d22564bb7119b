"""Celery tasks of campaigns: thin wrappers around campaigns/sending.py."""

from celery import shared_task

from campaigns import sending
from whatsapp.waha import WahaError


@shared_task(name="campaigns.tasks.dispatch", acks_late=True, ignore_result=True)
def dispatch(campaign_id: int, after: int = 0) -> int:
    """Hand out one chunk of a running campaign's queued rows (the next chunk is another task)."""
    return sending.dispatch(campaign_id, after)


@shared_task(name="campaigns.tasks.send_recipient", bind=True, acks_late=True, ignore_result=True,
             max_retries=5, default_retry_delay=30)
def send_recipient(self, recipient_id: int, attempt: int) -> str:
    """Send one ledger row (idempotent: a redelivered task finds the row claimed and does nothing)."""
    try:
        return sending.send_one(recipient_id, attempt)
    except WahaError as exc:  # check-exists could not be asked: the row stays queued, asked again later
        raise self.retry(exc=exc) from None


@shared_task(name="campaigns.tasks.reap_campaigns", ignore_result=True)
def reap_campaigns() -> dict:
    """Housekeeping: follow ledger rows, re-hand out rows whose tasks were lost, start due campaigns."""
    return sending.reap()
