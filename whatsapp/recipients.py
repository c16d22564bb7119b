"""Recipients as operators write them, turned into the WhatsApp chat ids WAHA sends to.

``+55 (11) 99999-9999`` → ``5511999999999@c.us``; group (``…@g.us``) and hidden-user
(``…@lid``) ids are kept; ``…@s.whatsapp.net`` (an engine-internal form) becomes
``…@c.us``. Anything else raises ``InvalidRecipient`` with a reason an operator can act on.
"""

import re
from django.utils.translation import gettext as _

# E.164 allows at most 15 digits; fewer than 8 is no real international number.
MIN_DIGITS, MAX_DIGITS = 8, 15
PHONE_CHARS = re.compile(r"^\+?[\d\s().\-]+$")
CHAT_ID = re.compile(r"^(?P<user>[\d\-]+)@(?P<server>c\.us|g\.us|lid|s\.whatsapp\.net)$")


class InvalidRecipient(ValueError):
    """A recipient that is neither a phone number nor a WhatsApp chat id."""


def normalise(recipient: object) -> str:
    """The chat id for one recipient; raises InvalidRecipient saying why it is not one."""
    text = str(recipient).strip() if isinstance(recipient, (str, int)) and not isinstance(recipient, bool) else ""
    if not text:
        raise InvalidRecipient(_("%(value)r is not a phone number or WhatsApp chat id.") % {"value": recipient})
    if "@" in text:
        return _chat_id(text)
    if not PHONE_CHARS.match(text):
        raise InvalidRecipient(
            _("%(value)r is not a phone number (digits, optionally +, spaces, brackets and dashes) "
              "or a chat id ending in @c.us, @g.us or @lid.") % {"value": text}
        )
    digits = re.sub(r"\D", "", text)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidRecipient(
            _("%(value)r has %(count)d digits; an international number with country code has %(min)d to %(max)d.")
            % {"value": text, "count": len(digits), "min": MIN_DIGITS, "max": MAX_DIGITS}
        )
    return f"{digits}@c.us"


def _chat_id(text: str) -> str:
    match = CHAT_ID.match(text.lower())
    if not match:
        raise InvalidRecipient(_("%(value)r is not a WhatsApp chat id: use digits followed by @c.us, @g.us or @lid.") % {"value": text})
    user, server = match["user"], match["server"]
    if server in ("c.us", "s.whatsapp.net", "lid") and not user.isdigit():
        raise InvalidRecipient(_("%(value)r is not a WhatsApp chat id: the part before @ must be digits.") % {"value": text})
    return f"{user}@c.us" if server == "s.whatsapp.net" else f"{user}@{server}"
