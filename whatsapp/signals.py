"""What the whatsapp app announces; other apps listen (automations logs events and starts triggers).

whatsapp imports nothing from automations: it sends these, and ``automations.events.receivers``
connects to them.
"""

from django.dispatch import Signal

# An inbound message was stored (sent once per processed WAHA "message" event; a redelivery
# sends it again with the same Message). Arguments: message (whatsapp.Message).
message_stored = Signal()

# WAHA reported a session status (a "session.status" event). Arguments: channel, status (str),
# payload (the event's payload object), event_id (the envelope's id, for deduplication).
session_status_changed = Signal()

# A ban signal (WAHA's 463 reachout lock, or too many failed sends in a row) paused sends to
# new contacts on a channel; sent once per pause. Arguments: channel, reason (str).
outreach_paused = Signal()
