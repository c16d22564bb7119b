"""ctx.message.send's way out: the recipient policy, and the one call into the WhatsApp app.

Each send goes through ``Channel.send_and_record``: an outbound ``whatsapp.Message`` row
tied to the run, marked ``sending`` before WAHA is called, then ``sent`` / ``failed`` /
``unconfirmed`` — the same record and the same no-message-twice rule as the MESSAGE
target, so operators find every message in one place.
"""

from __future__ import annotations

import re

from whatsapp import recipients
from whatsapp.attachments import Attachment
from whatsapp.models import AlreadyMessaged, Channel, Message, SendFailed


class MessageFailed(Exception):
    """The message was not (or not surely) sent; the text says why."""


def recipient_allowed(recipient: object, allowlist: list[str]) -> str | None:
    """The chat id of `recipient` when an allowlist entry allows it; else None.

    An entry without ``@`` is a phone-number prefix, compared by its digits (``+55 11``
    allows ``5511…``), and allows phone numbers only: a group (``…@g.us``) or a lid
    (``…@lid``) whose id starts with the same digits is not a number there. Groups and
    lids are allowed by an entry naming their chat id in full. ``*`` allows everyone; an
    empty allowlist allows no one. A recipient that is not a phone number or chat id
    raises recipients.InvalidRecipient.
    """
    chat_id = recipients.normalise(recipient)
    number, _, server = chat_id.partition("@")
    for entry in allowlist:
        entry = entry.strip()
        if entry == "*":
            return chat_id
        if "@" in entry:
            if entry.lower() == chat_id.lower() or _normalised(entry) == chat_id:
                return chat_id
            continue
        digits = re.sub(r"\D", "", entry)
        if digits and server == "c.us" and number.startswith(digits):
            return chat_id
    return None


def _normalised(entry: str) -> str | None:
    try:
        return recipients.normalise(entry)
    except recipients.InvalidRecipient:
        return None


def send_message(channel: Channel, chat_id: str, recipient: str, text: str, run=None, zone: str = "",
                 attachment: Attachment | None = None) -> Message:
    """Send `text` (or `attachment`, `text` its caption) to `chat_id` through `channel`, recorded as an
    outbound Message of `run`.

    On a governed channel the Message comes back ``queued`` (its outbox sends it, in the
    send window of `zone`); the function sees that status and goes on.
    """
    if not channel.is_working:
        raise MessageFailed(f"Channel '{channel.name}' is {channel.status}, not WORKING: nothing was sent.")
    try:
        return channel.send_and_record(chat_id, text, recipient=recipient, run=run, zone=zone, attachment=attachment)
    except AlreadyMessaged as exc:
        raise MessageFailed(str(exc)) from None
    except SendFailed as exc:
        if exc.delivery_unknown:
            raise MessageFailed(f"WAHA did not answer; the message to {chat_id} may or may not have been sent.") from None
        raise MessageFailed(f"WAHA refused the message to {chat_id}: {exc}") from None
