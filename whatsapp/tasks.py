"""Celery tasks of the whatsapp app: thin wrappers around model methods and the monitor."""

from celery import shared_task

from whatsapp import monitor
from whatsapp.models import WebhookEvent


@shared_task(name="whatsapp.tasks.process_webhook_event", acks_late=True, ignore_result=True)
def process_webhook_event(event_id: int) -> None:
    """Apply one stored WAHA event (a redelivered task finds it processed and does nothing)."""
    event = WebhookEvent.objects.select_related("channel").filter(pk=event_id).first()
    if event is not None:
        event.process()


@shared_task(name="whatsapp.tasks.check_sessions", ignore_result=True)
def check_sessions() -> int:
    """The periodic session health check (WAHA_MONITOR_INTERVAL_S); returns how many actions it took."""
    return len(monitor.check_sessions())
