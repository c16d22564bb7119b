"""The outbox of a governed channel: queued Message rows, sent one step at a time.

``Channel.send_and_record`` on a channel with a send profile leaves a ``queued`` row; the
workers call ``drain(channel, now)`` (tasks.pump_sends: after each enqueue, at the next
wake-up, and periodically). A step is short and never sleeps, so a wait holds no worker:

1. pick the best queued row (replies first) whose slot has come (whatsapp/governor.py:
   rates, gaps, warm-up, the recipient's send window, the outreach pause);
2. ``sendSeen`` when it answers unread messages, ``startTyping``, and note on the row
   until when it "types" (``typing_until``): the row is the state, not the worker;
3. once that time has passed: ``stopTyping``, move the row ``queued`` -> ``sending`` with
   a conditional update (only one worker can), send, record ``sent`` or the refusal.

A worker killed anywhere loses nothing: a row still ``queued`` is picked up again, and one
left ``sending`` (killed mid-call, WAHA may have sent it) becomes ``unconfirmed``, never
sent twice. Ban signals (WAHA's 463, N refusals in a row) pause outreach on the channel.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from whatsapp import governor, signals
from whatsapp.models import Channel, Message
from whatsapp.waha import WahaError, is_reachout_lock

log = logging.getLogger(__name__)
Status = Message.Status
DAY = timedelta(hours=24)
CANDIDATES = 20  # rows of the best priority weighed per step (their windows may differ)
MAX_STEPS = 50


def queued(channel: Channel):
    return Message.objects.filter(channel=channel, direction=Message.Direction.OUT, status=Status.QUEUED,
                                  not_before__isnull=False)


def drain(channel: Channel, now: datetime) -> datetime | None:
    """Take every step that is due at ``now``; when to look again (None: nothing queued)."""
    wake = None
    for _ in range(MAX_STEPS):
        channel.refresh_from_db()
        wake = step(channel, now)
        if wake is None or wake > now:
            return wake
    return wake


def step(channel: Channel, now: datetime) -> datetime | None:
    """One step of the channel's outbox at ``now``; when the next step is due."""
    limits = channel.limits or governor.Limits()  # a profile removed: drain what waits, unpaced
    _lose_stuck_sends(channel, now)
    _end_cool_down(channel, now)
    typing = queued(channel).filter(typing_until__isnull=False).order_by("typing_until").first()
    if typing is not None:
        if typing.typing_until > now:
            return typing.typing_until
        send(channel, typing, now)
        return now
    choice = _best(channel, limits, now)
    if choice is None:
        return None
    message, slot = choice
    if slot > now:
        Message.objects.filter(pk=message.pk).update(not_before=slot)
        return slot
    start_typing(channel, message, limits, now)
    return now


def slot_for(channel: Channel, message: Message, limits: governor.Limits, now: datetime) -> datetime | None:
    """When ``message`` may go: the governor's answer over the channel's sends of the last 24 h."""
    sent = (Message.objects.filter(channel=channel, direction=Message.Direction.OUT, timestamp__gt=now - DAY)
            .exclude(status=Status.QUEUED).values_list("timestamp", "first_contact"))
    history = [governor.Sent(at, new) for at, new in sent]
    age_days = (now - channel.created_at).total_seconds() / 86400
    jitter = random.Random(message.pk).random()  # drawn once per message: the same answer each step
    return governor.next_slot(limits, history, max(now, message.not_before), message.first_contact, jitter,
                              message.send_zone or "UTC", age_days=age_days, paused=channel.outreach_paused,
                              paused_until=channel.outreach_resume_at)


def _best(channel: Channel, limits: governor.Limits, now: datetime) -> tuple[Message, datetime] | None:
    """The row to send next and its slot: the best priority first, then the earliest slot."""
    rows = queued(channel).order_by("priority", "pk")
    if channel.outreach_paused and channel.outreach_resume_at is None:
        rows = rows.filter(first_contact=False)  # only an operator lets these go
    if not channel.outreach_paused and governor.unpaced(limits):
        # Nothing to weigh: each row's slot is its own not_before. Asking the governor would read
        # the channel's day of sends once per candidate, every step (a campaign's 10,000 rows).
        due = rows.filter(not_before__lte=now).first() or rows.order_by("priority", "not_before", "pk").first()
        return (due, max(now, due.not_before)) if due else None
    slots = [(m, slot_for(channel, m, limits, now)) for m in rows[:CANDIDATES]]
    slots = [(m, s) for m, s in slots if s is not None]
    if not slots:
        return None
    return min(slots, key=lambda pair: (pair[0].priority, pair[1], pair[0].pk))


# --- the two halves of a send --------------------------------------------------------------------


def start_typing(channel: Channel, message: Message, limits: governor.Limits, now: datetime) -> None:
    """Seen (when answering), then typing; the row remembers until when. Cosmetic calls may fail."""
    if _suppressed_meanwhile(channel, message, now):
        return
    until = now + timedelta(seconds=governor.typing_seconds(limits, message.text))
    if not queued(channel).filter(pk=message.pk, typing_until__isnull=True).update(typing_until=until):
        return  # another worker took this step
    client = channel.client()
    unread = _unread_ids(message)
    try:
        if unread is not None:
            client.send_seen(channel.session_name, message.chat_id, unread)
        if until > now:
            _typing(client, channel.session_name, message.chat_id)
    except WahaError as exc:
        log.info("seen/typing before a send on %s failed (sending anyway): %s", channel.session_name, exc)


def _suppressed_meanwhile(channel: Channel, message: Message, now: datetime) -> bool:
    """A contact who said stop while the send waited in the queue never gets it (nor sees us typing)."""
    reason = signals.suppression_reason(channel, message.chat_id)
    if reason:
        queued(channel).filter(pk=message.pk).update(status=Status.SUPPRESSED, error=reason, typing_until=None,
                                                     updated_at=now)
    return bool(reason)


def _typing(client, session: str, chat_id: str) -> None:
    try:
        client.start_typing(session, chat_id)
    except WahaError as exc:
        if exc.status not in (404, 422, 501):  # the engine lacks it: presence says the same
            raise
        client.set_presence(session, "typing", chat_id)


def _unread_ids(message: Message) -> list[str] | None:
    """The ids of inbound messages in the chat since our last message there; None when there are none."""
    ours = (Message.objects.filter(channel_id=message.channel_id, chat_id=message.chat_id,
                                   direction=Message.Direction.OUT, status__in=Message.DONE)
            .order_by("-created_at").values_list("created_at", flat=True).first())
    inbound = Message.objects.filter(channel_id=message.channel_id, chat_id=message.chat_id,
                                     direction=Message.Direction.IN, created_at__gte=message.created_at - DAY)
    if ours is not None:
        inbound = inbound.filter(created_at__gt=ours)
    ids = list(inbound.order_by("created_at").values_list("waha_message_id", flat=True))
    return [i for i in ids if i] if ids else None


def send(channel: Channel, message: Message, now: datetime) -> None:
    """Stop typing, claim the row (``queued`` -> ``sending``, once), send, record the outcome."""
    client = channel.client()
    try:
        client.stop_typing(channel.session_name, message.chat_id)
    except WahaError as exc:
        log.info("stopTyping on %s failed (sending anyway): %s", channel.session_name, exc)
    if _suppressed_meanwhile(channel, message, now):
        return
    if not queued(channel).filter(pk=message.pk).update(status=Status.SENDING, typing_until=None, updated_at=now):
        return  # another worker sent it
    message.refresh_from_db()
    try:
        waha_id = channel.send_content(message.chat_id, message.text, message.outbound_attachment)
    except WahaError as exc:
        refused(channel, message, exc, now)
        return
    message.timestamp = now
    message.save(update_fields=["timestamp"])
    message.mark(Status.SENT, waha_message_id=waha_id)
    Channel.objects.filter(pk=channel.pk).update(send_failures_in_row=0)
    if not queued(channel).filter(not_before__lte=now + timedelta(minutes=1)).exists():
        _go_offline(client, channel)


def _go_offline(client, channel: Channel) -> None:
    # While the session shows online the phone gets no notifications (README §5.6).
    try:
        client.set_presence(channel.session_name, "offline")
    except WahaError as exc:
        log.info("presence offline on %s failed: %s", channel.session_name, exc)


def refused(channel: Channel, message: Message, exc: WahaError, now: datetime) -> None:
    """A refused send: a ban signal pauses outreach; a first contact refused by the lock waits for it."""
    if is_reachout_lock(exc):
        channel.pause_outreach(f"WhatsApp's reachout time lock (error 463) on a send to {message.chat_id} "
                               f"at {now:%Y-%m-%d %H:%M} UTC: {exc.message[:300]}", now)
        if message.first_contact:  # not sent: it goes when outreach resumes
            Message.objects.filter(pk=message.pk).update(status=Status.QUEUED, error=str(exc)[:2000], not_before=now)
            return
    message.timestamp = now
    message.save(update_fields=["timestamp"])
    message.record_refusal(exc)
    Channel.objects.filter(pk=channel.pk).update(send_failures_in_row=F("send_failures_in_row") + 1)
    channel.refresh_from_db(fields=["send_failures_in_row"])
    limits = channel.limits
    if limits and limits.pause_after_failures and channel.send_failures_in_row >= limits.pause_after_failures:
        channel.pause_outreach(f"{channel.send_failures_in_row} sends failed in a row; the last: {exc.message[:300]}",
                               now)


def _lose_stuck_sends(channel: Channel, now: datetime) -> None:
    """Rows a dead worker left ``sending``: WAHA may have sent them, so never again (``unconfirmed``)."""
    lost_before = now - timedelta(seconds=settings.WAHA_SEND_LOST_AFTER_S)
    Message.objects.filter(channel=channel, direction=Message.Direction.OUT, status=Status.SENDING,
                           not_before__isnull=False, updated_at__lt=lost_before).update(
        status=Status.UNCONFIRMED, error="The worker stopped mid-send; not sent again so nobody gets it twice.")


def _end_cool_down(channel: Channel, now: datetime) -> None:
    if channel.outreach_paused and channel.outreach_resume_at and channel.outreach_resume_at <= now:
        channel.resume_outreach()


# --- what the admin and the API show ---------------------------------------------------------------


def status(channel: Channel, now: datetime | None = None) -> dict:
    """Today's sends and budget left, the queue, the next send time, why outreach is paused."""
    now = now or timezone.now()
    limits = channel.limits
    waiting = queued(channel)
    sent = Message.objects.filter(channel=channel, direction=Message.Direction.OUT, timestamp__gt=now - DAY,
                                  status__in=[*Message.DONE, Status.UNCONFIRMED])
    state = {"profile": channel.send_profile, "governed": limits is not None, "sent_24h": sent.count(),
             "new_contacts_24h": sent.filter(first_contact=True).count(), "queued": waiting.count(),
             "next_send_at": waiting.order_by("not_before").values_list("not_before", flat=True).first(),
             "paused_because": channel.outreach_paused_reason if channel.outreach_paused else "",
             "paused_since": channel.outreach_paused_at, "resumes_at": channel.outreach_resume_at}
    if limits is not None:
        age = (now - channel.created_at).total_seconds() / 86400
        day_cap = governor.daily_cap(limits.per_day, age, limits.warmup_days)
        new_cap = governor.daily_cap(limits.new_per_day, age, limits.warmup_days)
        state["budget_left_24h"] = max(day_cap - state["sent_24h"], 0) if day_cap else None
        state["new_contact_budget_left_24h"] = max(new_cap - state["new_contacts_24h"], 0) if new_cap else None
    return state
