"""A contact's data for LGPD requests: everything we hold as JSON, and its erasure.

"Everything" is the contact, its tags and consent history, and the WhatsApp messages of its
1:1 chat (under any of its ids, with or without the 9th digit) and those it wrote in groups.
Erasure deletes the same. Other apps that keep copies (the event log, runs' inputs) listen to
``contacts.signals.contact_erased``, which carries the ids, so contacts need not know them.
"""

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from contacts import phones
from contacts.models import Contact
from contacts.signals import contact_erased
from whatsapp.models import Message


def chat_ids(contact: Contact) -> list[str]:
    """Every chat id this contact may appear under."""
    ids = {contact.chat_id, contact.lid or ""}
    if contact.phone:
        ids.update(f"{digits}@c.us" for digits in phones.whatsapp_forms(contact.phone))
    return sorted(ident for ident in ids if ident)


def messages(contact: Contact) -> QuerySet:
    ids = chat_ids(contact)
    return Message.objects.filter(Q(chat_id__in=ids, is_group=False) | Q(sender__in=ids, is_group=True))


def export(contact: Contact) -> dict:
    """The contact's data as JSON-ready values."""
    return {
        "exported_at": timezone.now().isoformat(),
        "contact": {field: _json(getattr(contact, field)) for field in (
            "phone", "chat_id", "lid", "name", "custom_fields", "timezone", "first_contact_at", "last_message_at",
            "opted_out", "opted_out_at", "opted_out_reason", "on_whatsapp", "checked_at", "created_at", "updated_at")},
        "tags": list(contact.tags.values_list("name", flat=True)),
        "consent_changes": [{"opted_out": c.opted_out, "at": c.at.isoformat(), "how": c.how, "detail": c.detail,
                             "by": c.actor} for c in contact.consent_changes.order_by("at", "pk")],
        "messages": [{"direction": m.direction, "chat_id": m.chat_id, "sender": m.sender, "text": m.text,
                      "media": m.media, "status": m.status, "at": _json(m.timestamp or m.created_at)}
                     for m in messages(contact).order_by("created_at", "pk").iterator()],
    }


def erase(contact: Contact) -> dict:
    """Delete the contact, its consent history and its messages; the counts deleted."""
    ids = chat_ids(contact)
    with transaction.atomic():
        deleted_messages, _ = messages(contact).delete()
        consent_changes = contact.consent_changes.count()
        contact.delete()
        contact_erased.send(sender=Contact, chat_ids=ids, phone=contact.phone or "")
    return {"messages": deleted_messages, "consent_changes": consent_changes, "contacts": 1}


def _json(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
