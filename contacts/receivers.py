"""contacts listens to whatsapp (whatsapp/signals.py); whatsapp never imports contacts.

- ``message_stored``: the sender becomes (or updates) a contact, and a stop or start word
  changes its consent.
- ``before_send``: a send to an opted-out contact, or a number WAHA says is not on WhatsApp,
  is suppressed with the reason.
- ``recipient_timezone``: a contact's own time zone, so a governed send keeps the quiet hours
  of where the contact lives.
"""

from django.dispatch import receiver

from contacts import consent, directory
from contacts.models import Contact
from whatsapp import signals


@receiver(signals.message_stored, dispatch_uid="contacts_message_stored")
def message_stored(sender, message, **kwargs) -> None:
    if message.is_group or message.direction != message.Direction.IN:
        return  # people in groups are not contacts of the business, and a group's "SAIR" opts no one out
    contact = directory.seen_inbound(message)
    if contact is not None:
        consent.apply_inbound(contact, message)


@receiver(signals.before_send, dispatch_uid="contacts_before_send")
def before_send(sender, channel, chat_id: str, **kwargs) -> str | None:
    contact = Contact.objects.for_chat(chat_id)
    return contact.suppression_reason() if contact is not None else None


@receiver(signals.recipient_timezone, dispatch_uid="contacts_recipient_timezone")
def recipient_timezone(sender, channel, chat_id: str, **kwargs) -> str | None:
    contact = Contact.objects.for_chat(chat_id)
    return (contact.timezone or None) if contact is not None else None
