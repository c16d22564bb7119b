"""What the whatsapp app announces; other apps listen (automations logs events and starts triggers).

whatsapp imports nothing from automations: it sends these, and ``automations.events.receivers``
connects to them.
"""

from django.dispatch import Signal

# An inbound message was stored (sent once per processed WAHA "message" event; a redelivery
# sends it again with the same Message). Arguments: message (whatsapp.Message).
message_stored = Signal()

# Someone answered a chat from the business's own phone (a message ChronoFlow did not send),
# sent once when it is recorded. Arguments: message (the outbound whatsapp.Message, no run).
# The assistants pause in that chat: a person took over.
operator_replied = Signal()

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

# A ban signal (WAHA's 463 reachout lock, or too many failed sends in a row) paused sends to
# new contacts on a channel; sent once per pause. Arguments: channel, reason (str).
outreach_paused = Signal()
