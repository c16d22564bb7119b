"""What the whatsapp app announces; other apps listen (automations logs events and starts triggers).

whatsapp imports nothing from automations: it sends these, and ``automations.events.receivers``
connects to them.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.dispatch import Signal

# An inbound message was stored (sent once per processed WAHA "message" event; a redelivery
# sends it again with the same Message). Arguments: message (whatsapp.Message).
message_stored = Signal()

# Someone answered a chat from the business's own phone (a message ChronoFlow did not send),
# sent once when it is recorded. Arguments: message (the outbound whatsapp.Message, no run).
# The assistants pause in that chat: a person took over.
operator_replied = Signal()

# An ack moved outbound messages on (delivered, read, or failed). Arguments: channel,
# waha_message_ids (the forms of the acked id). The campaigns ledger follows it.
outbound_acked = Signal()

# WAHA reported a session status (a "session.status" event). Arguments: channel, status (str),
# payload (the event's payload object), event_id (the envelope's id, for deduplication).
session_status_changed = Signal()

# A message is about to be sent to ``chat_id`` through ``channel``. Arguments: channel,
# chat_id. A receiver returns a reason (str) to suppress the send, or None to let it go.
# whatsapp knows nothing of contacts or consent: the contacts app answers this.
before_send = Signal()


def suppression_reason(channel, chat_id: str) -> str | None:
    """Why the send to ``chat_id`` must not happen (the first receiver's reason), or None."""
    for _receiver, reason in before_send.send(sender=type(channel), channel=channel, chat_id=chat_id):
        if reason:
            return str(reason)
    return None

# A governed send to ``chat_id`` is being queued: in which time zone does its recipient live
# (quiet hours are theirs)? Arguments: channel, chat_id. A receiver returns an IANA zone name,
# or None when it does not know; the contacts app answers with the contact's time zone.
recipient_timezone = Signal()


def recipient_zone(channel, chat_id: str) -> str | None:
    """The recipient's time zone (the first receiver's valid answer), or None: the caller's default applies."""
    for _receiver, zone in recipient_timezone.send(sender=type(channel), channel=channel, chat_id=chat_id):
        if zone and _known_zone(str(zone)):
            return str(zone)
    return None


def _known_zone(name: str) -> bool:
    # A zone the pump cannot load would stop the whole outbox: an unknown name is ignored.
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True

# A ban signal (WAHA's 463 reachout lock, or too many failed sends in a row) paused sends to
# new contacts on a channel; sent once per pause. Arguments: channel, reason (str).
outreach_paused = Signal()
