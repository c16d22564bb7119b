"""The event log: every inbound event, with what it triggered, for audit.

Integrator webhooks are logged by automations/events/hooks.py. WhatsApp events arrive through
the whatsapp app's signals (automations/events/receivers.py): session status events are
logged, and stored inbound messages are logged and matched against the message triggers
(automations/events/triggers.py).

A message is logged, and can start runs, once: its key is the WhatsApp message id, so
WAHA redelivering it (even under a new envelope id) finds the key taken.
Retention follows the runs': entries older than RUN_RETENTION_DAYS are pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automations.events import triggers
from automations.models import Event

SUMMARY_CHARS = 300


def record_session_status(channel, status: str, payload: dict, event_id: str) -> Event | None:
    """Log a WAHA session status event, once per delivered event."""
    return _log(Event.Source.SESSION_STATUS, Event.Outcome.RECORDED, channel=channel, summary=status,
                payload=payload, key=f"status:{channel.pk}:{event_id}")


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


def _log(source: str, outcome: str, **fields) -> Event | None:
    try:
        with transaction.atomic():
            return Event.objects.create(source=source, outcome=outcome, **fields)
    except IntegrityError:  # the same event, logged by an earlier delivery
        return None
