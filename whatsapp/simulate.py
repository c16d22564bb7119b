"""Simulated inbound messages for development channels (not WhatsApp).

``simulate_inbound(channel, sender, text)`` builds the ``message`` event WAHA would post,
stores it as a WebhookEvent and queues its processing after commit through
whatsapp.webhooks.receive, the path of a real webhook, so message triggers fire and the event log records it.
Used by the channel admin's "Simulate an inbound message" form and ``manage.py
simulate_message``. Only development channels take it: on a WAHA channel a made-up message
would start real replies to a real person.
"""

from __future__ import annotations

import secrets
import time

from whatsapp import recipients, webhooks
from whatsapp.devclient import DEV_ME
from whatsapp.models import Channel, WebhookEvent

MAX_TEXT = 4096


class NotSimulable(ValueError):
    """The message cannot be simulated; ``field`` names the input at fault ('' for the channel)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def simulate_inbound(channel: Channel, sender: str, text: str) -> WebhookEvent:
    """Store and queue the event of ``sender`` writing ``text`` to the channel; the stored event."""
    if not channel.is_dev:
        raise NotSimulable("", f"{channel.name} is a WAHA channel: inbound messages can be simulated "
                               "only on a development channel.")
    chat_id = _chat_id(sender)
    if not text.strip() or len(text) > MAX_TEXT:
        raise NotSimulable("text", f"Write the message's text (1 to {MAX_TEXT} characters).")
    envelope = message_envelope(channel, chat_id, text)
    event, _ = webhooks.receive(channel, envelope["id"], envelope)
    return event


def message_envelope(channel: Channel, chat_id: str, text: str) -> dict:
    """A ``message`` event shaped like WAHA's (envelope and payload), marked as simulated."""
    now = time.time()
    return {
        "id": f"evt_dev_{secrets.token_hex(12)}",
        "timestamp": int(now * 1000),
        "event": "message",
        "session": channel.session_name,
        "engine": "DEV",
        "me": dict(DEV_ME),
        "simulated": True,
        "payload": {
            "id": f"false_{chat_id}_DEV{secrets.token_hex(8).upper()}",
            "timestamp": int(now),
            "from": chat_id,
            "fromMe": False,
            "to": DEV_ME["id"],
            "body": text,
            "hasMedia": False,
        },
    }


def _chat_id(sender: str) -> str:
    try:
        chat_id = recipients.normalise(sender)
    except recipients.InvalidRecipient as exc:
        raise NotSimulable("sender", str(exc)) from None
    if chat_id.endswith("@g.us"):
        raise NotSimulable("sender", "Give the sender's phone number; group messages are not simulated.")
    return chat_id
