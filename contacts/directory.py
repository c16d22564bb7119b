"""Finding the contact behind a WhatsApp chat, creating it on first contact, merging lid and phone.

A conversation may switch from ``…@c.us`` to ``…@lid`` midway (WAHA README, complaint 8).
The first message from an unknown ``@lid`` asks WAHA for the phone behind it
(``GET /api/{session}/lids/{lid}``, often ``pn: null``); when one comes back, the lid is
attached to that phone's contact, merging two contacts if both existed.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts import phones
from contacts.models import Contact
from whatsapp.models import Channel, Message
from whatsapp.waha import WahaError

log = logging.getLogger(__name__)


def seen_inbound(message: Message) -> Contact | None:
    """The sender's contact with its first-contact and last-message times moved to this message."""
    phone, lid = phones.from_chat_id(message.chat_id)
    if not phone and not lid:
        return None
    at = message.timestamp or message.created_at or timezone.now()
    contact = Contact.objects.for_chat(message.chat_id)
    if contact is None:
        contact = _first_contact(message.channel, phone, lid, message.chat_id, at)
    return touch(contact, at, chat_id=message.chat_id if phone else "")


def _first_contact(channel: Channel, phone: str, lid: str, chat_id: str, at) -> Contact:
    if lid:
        known = phone_of_lid(channel, lid)
        if known:
            return link(lid, known)
    try:
        with transaction.atomic():
            return Contact.objects.create(phone=phone or None, lid=lid or None, first_contact_at=at,
                                          chat_id=chat_id if phone else "")
    except IntegrityError:  # a concurrent message from the same person created it
        return Contact.objects.for_chat(chat_id)


def touch(contact: Contact, at, chat_id: str = "") -> Contact:
    """Move the contact's message times to ``at`` (never back); keep the chat id WhatsApp used."""
    fields = {"first_contact_at": contact.first_contact_at or at,
              "last_message_at": max(at, contact.last_message_at) if contact.last_message_at else at}
    if chat_id and chat_id != contact.chat_id:
        fields["chat_id"] = chat_id  # the form (with or without the 9th digit) WhatsApp itself uses
    Contact.objects.filter(pk=contact.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(contact, name, value)
    return contact


def phone_of_lid(channel: Channel, lid: str) -> str:
    """The canonical phone WAHA maps ``lid`` to, or '' when it does not know (or cannot be asked)."""
    try:
        answer = channel.client().find_phone_by_lid(channel.session_name, lid) or {}
    except WahaError as exc:
        log.info("WAHA could not map %s to a phone: %s", lid, exc)
        return ""
    phone, _ = phones.from_chat_id(str(answer.get("pn") or ""))
    return phone


def link(lid: str, phone: str) -> Contact:
    """One contact with both ids: the phone's contact gains the lid, a lid-only contact is merged in."""
    with transaction.atomic():
        by_phone = Contact.objects.filter(phone=phone).first()
        by_lid = Contact.objects.filter(lid=lid).first()
        if by_phone and by_lid and by_phone.pk != by_lid.pk:
            return by_lid.merge_into(by_phone)
        contact = by_phone or by_lid or Contact(phone=phone)
        contact.phone, contact.lid = phone, lid
        contact.save()
        return contact


def resolve_chat_id(contact: Contact, channel: Channel) -> str | None:
    """The chat id to send to, from WAHA's check-exists on the first send (then cached on the contact).

    None when WAHA says the number is not on WhatsApp: the contact is marked, and
    ``suppression_reason`` skips it from then on. WahaError propagates (nothing is cached).
    """
    if contact.on_whatsapp is False:
        return None
    if contact.checked_at or not contact.phone:
        return contact.send_to  # checked before, or known only by its lid, which WhatsApp accepts as is
    answer = channel.client().check_exists(channel.session_name, contact.phone) or {}
    found = str(answer.get("chatId") or "") if answer.get("numberExists") else ""
    fields = {"on_whatsapp": bool(found), "checked_at": timezone.now(), "chat_id": found or contact.chat_id}
    Contact.objects.filter(pk=contact.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(contact, name, value)
    return found or None
