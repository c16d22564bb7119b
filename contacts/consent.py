"""Stop and start words: an inbound message that is only ``SAIR`` opts its sender out.

The whole message is compared after folding case, accents, spaces and the punctuation
around it ("  Sair. " ≡ "SAIR"), against CONSENT_STOP_WORDS and CONSENT_START_WORDS. A
change sends one confirmation (CONSENT_STOP_REPLY / CONSENT_START_REPLY) straight through
the channel: it is the one message an opted-out contact still gets. A message WAHA
delivers twice is acted on once, because the audit row is keyed on the message.
"""

import logging
import string
import unicodedata

from django.conf import settings
from django.db import IntegrityError

from contacts.models import ConsentChange, Contact
from whatsapp.models import Message
from whatsapp.waha import WahaError

log = logging.getLogger(__name__)
STOP, START = "stop", "start"


def fold(text: str) -> str:
    """Upper case, no accents, single spaces, no punctuation at either end."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.upper().split()).strip(string.punctuation + " ")


def classify(text: str) -> str | None:
    """STOP, START or None for a message's whole text."""
    folded = fold(text)
    if not folded:
        return None
    if folded in {fold(word) for word in settings.CONSENT_STOP_WORDS}:
        return STOP
    if folded in {fold(word) for word in settings.CONSENT_START_WORDS}:
        return START
    return None


def apply_inbound(contact: Contact, message: Message) -> ConsentChange | None:
    """Opt the contact out or in if the message says so; confirm it once. The change, or None."""
    word = classify(message.text)
    if word is None or ConsentChange.objects.filter(message=message).exists():
        return None
    how = ConsentChange.How.STOP_WORD if word == STOP else ConsentChange.How.START_WORD
    try:
        change = contact.set_consent(word == STOP, how, detail=message.text.strip()[:200], message=message)
    except IntegrityError:  # a concurrent delivery of the same message recorded it first
        return None
    if change is not None:
        confirm(change, message)
    return change


def confirm(change: ConsentChange, message: Message) -> None:
    """Send the confirmation to the chat the word came from; keep the outcome on the change."""
    text = settings.CONSENT_STOP_REPLY if change.opted_out else settings.CONSENT_START_REPLY
    if not text:
        return
    try:
        change.confirmation_id = message.channel.send_text(message.chat_id, text) or "sent"
    except WahaError as exc:
        # Not retried: the change holds regardless, and a second confirmation is worse than none.
        change.confirmation_error = str(exc)[:2000]
        log.warning("Consent confirmation to %s failed: %s", message.chat_id, exc)
    change.save(update_fields=["confirmation_id", "confirmation_error"])
