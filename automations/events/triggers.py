"""WhatsApp message triggers: which chronos an inbound message starts, and with what input.

Whether a text matches is automations/events/matching.py's business (pure functions).
The message becomes the run's input (see ``message_input``): a MESSAGE chrono whose
recipients are ``["{{ input.from }}"]`` answers whoever wrote.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automations.events.matching import accepts_sender, matches
from automations import routines
from automations.models import Chrono, ChronoRun, MessageTrigger


def message_input(message) -> dict:
    """What a run started by ``message`` (a whatsapp.Message) gets as its input."""
    channel = message.channel
    return {
        "from": message.sender or message.chat_id,
        "chat": message.chat_id,
        "text": message.text,
        "media": message.media_for_input(),  # a signed link to the stored file, not WAHA's expiring URL
        "is_group": message.is_group,
        "message_id": message.waha_message_id,
        "timestamp": message.timestamp.isoformat() if message.timestamp else None,
        "channel": {"id": channel.pk, "name": channel.name, "session": channel.session_name},
    }


def fire(message) -> tuple[list[dict], list[str]]:
    """Start every active chrono whose trigger matches the message; if none does, the fallbacks'.

    A FALLBACK trigger (the channel's default responder, e.g. an ASSISTANT chrono) runs, with
    its own per-contact rate limit, for a message no other trigger on the channel matched.

    Returns (triggered, notes): ``{"chrono", "name", "run"}`` per run started, and one
    line per trigger that matched but was held back by its rate limit.
    """
    candidates = list(MessageTrigger.objects.select_related("chrono")
                      .filter(channel_id=message.channel_id, chrono__is_active=True).order_by("pk"))
    payload = message_input(message)
    matched = [t for t in candidates if t.match != MessageTrigger.Match.FALLBACK
               and accepts_sender(t.senders, payload["from"]) and _matches(t, message)]
    if not matched:  # the channel's default responder answers what no trigger did (not one held back)
        matched = [t for t in candidates if t.match == MessageTrigger.Match.FALLBACK
                   and accepts_sender(t.senders, payload["from"])]
    triggered, notes = [], []
    for trigger in matched:
        run, note = _start(trigger, payload)
        if run is None:
            notes.append(note)
        else:
            triggered.append({"chrono": trigger.chrono_id, "name": trigger.chrono.name, "run": run.pk})
    return triggered, notes


def _matches(trigger: MessageTrigger, message) -> bool:
    if trigger.match == MessageTrigger.Match.ROUTINE:  # a ROUTINE chrono's routine decides
        return trigger.chrono.target_type == Chrono.TargetType.ROUTINE and routines.wants(trigger.chrono, message)
    return matches(trigger.match, trigger.pattern, message.text)


def _start(trigger: MessageTrigger, payload: dict) -> tuple[ChronoRun | None, str]:
    """The run, unless the contact used up its budget or the chrono's queue is full; counted under its lock."""
    since = timezone.now() - timedelta(seconds=trigger.per_seconds)
    with transaction.atomic():
        # Two workers handling two messages of one contact must not both see room for one more.
        chrono = Chrono.objects.select_for_update().get(pk=trigger.chrono_id)
        recent = ChronoRun.objects.filter(chrono=chrono, trigger=ChronoRun.Trigger.MESSAGE,
                                          created_at__gte=since, input__from=payload["from"]).count()
        if recent >= trigger.max_runs:
            return None, (f"{chrono.name}: rate limit ({trigger.max_runs} per {trigger.per_seconds}s "
                          f"per contact) reached for {payload['from']}; not run.")
        if chrono.event_queue_full():
            return None, (f"{chrono.name}: {settings.EVENT_QUEUE_MAX} runs already wait behind the one in "
                          f"progress; the message from {payload['from']} was not run.")
        return chrono.trigger(trigger=ChronoRun.Trigger.MESSAGE, input=payload), ""
