"""New-lead welcome: the first message from a number nobody knew gets a welcome, once per contact.

"Unknown" means no earlier inbound message from that chat on any channel, and no contact
before this message (an imported contact is known: it is not a lead). The contacts app
creates the contact from the message itself (contacts/receivers.py); the welcome is
marked per contact (RoutineMark ``welcome``), so a redelivered message, a retry or a
second worker sends it once. Its trigger (match ``routine``) counts as the match of that
first message: the channel's default responder does not answer it as well.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from automations.routines import common
from automations.routines.models import RoutineMark
from automations.targets import Outcome
from contacts.models import Contact
from whatsapp.models import Message

WELCOME = ("Olá{% if first_name %}, {{ first_name }}{% endif %}! Obrigado por escrever. "
           "Em que podemos ajudar?")


def config_errors(chrono) -> dict[str, list[str]]:
    return common.template_errors(chrono, {"welcome": WELCOME})


def wants(chrono, message) -> bool:
    if message.is_group or message.direction != Message.Direction.IN:
        return False
    earlier = Message.objects.filter(direction=Message.Direction.IN, chat_id=message.chat_id,
                                     created_at__lt=message.created_at).exclude(pk=message.pk)
    if earlier.exists():
        return False
    contact = Contact.objects.for_chat(message.chat_id)
    # Created by this very message (the contacts app may have run first), or not yet at all.
    return contact is None or (contact.created_at >= message.created_at
                               and not RoutineMark.objects.filter(chrono=chrono, contact=contact).exists())


def run(chrono, run, context: dict) -> Outcome:
    chat_id = str((run.input or {}).get("chat") or "")
    contact = Contact.objects.for_chat(chat_id)
    if contact is None:
        return Outcome(ok=False, error=f"No contact for {chat_id or 'the message'}: nothing to welcome.",
                       retryable=False)
    try:
        with transaction.atomic():
            mark = RoutineMark.objects.create(chrono=chrono, contact=contact, key="welcome")
    except IntegrityError:
        return Outcome(ok=True, result={"sent": 0, "note": "This contact was welcomed already."})
    message = common.send(chrono, run, chat_id, common.render(common.option(chrono, "welcome", WELCOME), contact))
    if message.status == common.Status.FAILED:
        mark.delete()  # refused by WAHA: a retry of the run sends it
    else:
        RoutineMark.objects.filter(pk=mark.pk).update(message=message)
    return common.outcome([message])
