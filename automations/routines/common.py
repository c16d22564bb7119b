"""What the routines share: options with defaults, rendering over a contact, the send, the outcome."""

from __future__ import annotations

from django.template import Context, Template, TemplateSyntaxError

from automations.targets import Outcome
import logging

from contacts import directory, phones
from contacts.models import Contact
from whatsapp.models import Message, SendFailed
from whatsapp.waha import WahaError

log = logging.getLogger(__name__)

Status = Message.Status


def option(chrono, name: str, default: str) -> str:
    value = (chrono.extras or {}).get(name)
    return value if isinstance(value, str) and value.strip() else default


def template_errors(chrono, defaults: dict[str, str]) -> dict[str, list[str]]:
    """A text option that is no valid Django template, named under ``extras``."""
    problems = []
    for name, default in defaults.items():
        try:
            Template(option(chrono, name, default))
        except TemplateSyntaxError as exc:
            problems.append(f"{name}: {exc}")
    return {"extras": problems} if problems else {}


def first_name(contact: Contact | None) -> str:
    return (contact.name or "").split(" ")[0] if contact is not None and contact.name else ""


def render(text: str, contact: Contact | None, **extra) -> str:
    """``text`` as a Django template over the contact: {{ contact.name }}, {{ first_name }}, and ``extra``."""
    values = {"contact": contact, "first_name": first_name(contact), **extra}
    return Template(text).render(Context(values, autoescape=False)).strip()


def contact_for_phone(phone: object) -> Contact:
    """The contact of a number as a booking system writes it, created when unknown; InvalidPhone if none."""
    canonical = phones.canonical(str(phone or ""), default_country=phones.BRAZIL)
    contact, _ = Contact.objects.get_or_create(phone=canonical)
    return contact


def chat_for(chrono, contact: Contact) -> str:
    """Where to message the contact: on a first send WAHA's check-exists settles it (cached on the
    contact); a number not on WhatsApp is marked so, and the send door then suppresses it."""
    if contact.opted_out:
        return contact.send_to  # suppressed by the send door anyway: WAHA need not be asked
    try:
        return directory.resolve_chat_id(contact, chrono.channel) or contact.send_to
    except WahaError as exc:  # WAHA cannot tell now: the number as we know it; checked on a later send
        log.info("check-exists for contact %s failed: %s", contact.pk, exc)
        return contact.send_to


def send(chrono, run, chat_id: str, text: str) -> Message:
    """One message of the routine's run to ``chat_id``: its row (sent, queued, suppressed or failed)."""
    try:
        return chrono.channel.send_and_record(chat_id, text, recipient=chat_id, run=run, resume=True,
                                              zone=chrono.timezone)
    except SendFailed as exc:
        return exc.row


def went(message: Message) -> bool:
    """Accepted: gone, or waiting in the governed outbox."""
    return message.status in Message.ACCEPTED


def outcome(messages: list[Message], **result) -> Outcome:
    failed = [m for m in messages if m.status in (Status.FAILED,)]
    summary = {"sent": sum(m.status in Message.DONE for m in messages),
               "queued": sum(m.status == Status.QUEUED for m in messages),
               "suppressed": sum(m.status == Status.SUPPRESSED for m in messages),
               "not_sent": len(failed), **result,
               "messages": [{"chat_id": m.chat_id, "status": m.status, "error": m.error} for m in messages]}
    if failed:
        reasons = "; ".join(f"{m.chat_id}: {m.error}" for m in failed)
        return Outcome(ok=False, error=f"{len(failed)} of {len(messages)} not sent. {reasons}", result=summary)
    return Outcome(ok=True, result=summary)
