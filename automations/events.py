"""The event log: every inbound event, with what it triggered, for audit.

Integrator webhooks are logged by automations/hooks.py. WhatsApp events arrive through
``record_whatsapp_event``, which the whatsapp app calls once it has processed a stored
WAHA event: session status changes are logged, and messages are logged and matched
against the message triggers (automations/triggers.py).

A message is logged, and can start runs, once: its key is the WhatsApp message id, so
WAHA redelivering it (even under a new envelope id) finds the key taken.
Retention follows the runs': entries older than RUN_RETENTION_DAYS are pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automations import triggers
from automations.models import Event

SUMMARY_CHARS = 300


def record_whatsapp_event(webhook_event) -> Event | None:
    """Log a processed WAHA event (a whatsapp.WebhookEvent); run the triggers of a message."""
    payload = webhook_event.payload.get("payload")
    if not isinstance(payload, dict):
        return None
    if webhook_event.event == "session.status":
        return _log(Event.Source.SESSION_STATUS, Event.Outcome.RECORDED, channel=webhook_event.channel,
                    summary=str(payload.get("status") or ""), payload=payload,
                    key=f"status:{webhook_event.channel_id}:{webhook_event.event_id}")
    if webhook_event.event == "message":
        message = _stored_message(webhook_event.channel, payload)
        return record_message(message) if message is not None else None
    return None


def record_message(message) -> Event | None:
    """Log an inbound whatsapp.Message and start the chronos it triggers; once per message."""
    key = f"message:{message.channel_id}:{message.waha_message_id or message.pk}"
    try:
        with transaction.atomic():
            event = Event.objects.create(
                source=Event.Source.MESSAGE, outcome=Event.Outcome.NO_MATCH, channel=message.channel,
                contact=message.sender or message.chat_id, summary=message.text[:SUMMARY_CHARS],
                payload=triggers.message_input(message), key=key,
            )
            triggered, notes = triggers.fire(message)
            event.triggered, event.detail = triggered, "\n".join(notes)
            event.outcome = _outcome(triggered, notes)
            event.save(update_fields=["triggered", "detail", "outcome"])
    except IntegrityError:  # logged (and triggered) by an earlier delivery of the same message
        return None
    return event


def record_hook(chrono, outcome: str, *, payload=None, run=None, detail: str = "") -> Event:
    """Log one integrator webhook request for ``chrono`` (accepted or refused)."""
    triggered = [{"chrono": chrono.pk, "name": chrono.name, "run": run.pk}] if run is not None else []
    return Event.objects.create(source=Event.Source.HOOK, outcome=outcome, chrono=chrono, payload=payload,
                                triggered=triggered, detail=detail, summary=detail[:SUMMARY_CHARS])


def prune(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Delete (or count) log entries older than RUN_RETENTION_DAYS; 0 keeps them all."""
    if not settings.RUN_RETENTION_DAYS:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=settings.RUN_RETENTION_DAYS)
    old = Event.objects.filter(received_at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[: settings.RUN_PRUNE_BATCH]):
        deleted += Event.objects.filter(pk__in=ids).delete()[0]  # short transactions, as for runs
    return deleted


def _outcome(triggered: list, notes: list) -> str:
    if triggered:
        return Event.Outcome.TRIGGERED
    return Event.Outcome.LIMITED if notes else Event.Outcome.NO_MATCH


def _stored_message(channel, payload: dict):
    """The Message the whatsapp app stored for this payload (None for our own, fromMe, messages)."""
    from whatsapp.models import Message

    inbound = Message.objects.select_related("channel").filter(channel=channel, direction=Message.Direction.IN)
    waha_id = str(payload.get("id") or "")[:255]
    if waha_id:
        return inbound.filter(waha_message_id=waha_id).first()
    if payload.get("fromMe") or not payload.get("from"):
        return None
    # No id to go by: the newest message of that chat with that text is the one just stored.
    return inbound.filter(chat_id=str(payload["from"])[:128], text=str(payload.get("body") or "")).first()


def _log(source: str, outcome: str, **fields) -> Event | None:
    try:
        with transaction.atomic():
            return Event.objects.create(source=source, outcome=outcome, **fields)
    except IntegrityError:  # the same event, logged by an earlier delivery
        return None
