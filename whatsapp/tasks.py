"""Celery tasks of the whatsapp app: thin wrappers around model methods and the monitor."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from whatsapp import monitor, outbox
from whatsapp.models import Channel, Message, WebhookEvent, kick_pump


@shared_task(name="whatsapp.tasks.process_webhook_event", acks_late=True, ignore_result=True)
def process_webhook_event(event_id: int) -> None:
    """Apply one stored WAHA event (a redelivered task finds it processed and does nothing)."""
    event = WebhookEvent.objects.select_related("channel").filter(pk=event_id).first()
    if event is not None:
        event.process()


@shared_task(name="whatsapp.tasks.check_sessions", ignore_result=True)
def check_sessions() -> int:
    """The periodic session health check (WAHA_MONITOR_INTERVAL_S); returns how many actions it took.

    It also notes sent messages that never got a delivery ack (Message.flag_unacknowledged)."""
    Message.flag_unacknowledged()
    return len(monitor.check_sessions())


@shared_task(name="whatsapp.tasks.pump_sends", acks_late=True, ignore_result=True)
def pump_sends(channel_id: int | None = None) -> int:
    """Take the due steps of one channel's outbox (or, periodically, of every governed one).

    Each channel then asks to be looked at again when its next step is due, once per due
    time (``send_pump_due``), so neither the periodic run nor repeated kicks pile up tasks.
    Returns how many channels were looked at.
    """
    channels = Channel.objects.exclude(send_profile="")
    if channel_id is not None:
        channels = Channel.objects.filter(pk=channel_id)
    count = 0
    for channel in channels:
        now = timezone.now()
        wake = outbox.drain(channel, now)
        count += 1
        if wake is not None and (wake - now).total_seconds() < settings.WAHA_SEND_PUMP_S:
            if Channel.objects.filter(pk=channel.pk).exclude(send_pump_due=wake).update(send_pump_due=wake):
                kick_pump(channel.pk, countdown=max((wake - now).total_seconds(), 0.0))
    return count
