"""Phone numbers as contacts are keyed by: E.164 digits, one form per Brazilian mobile.

Pure functions, no Django. ``canonical("+55 (11) 8888-7777")`` → ``"5511988887777"``.

Brazil added a ninth digit (a leading 9) to every mobile number in 2012-2016, but
WhatsApp accounts registered before that are often still addressed without it, so the
same person arrives as ``5511988887777`` from an import and as ``551188887777@c.us``
from WhatsApp (WAHA README, users' complaint 12). Both resolve to the form *with* the
ninth digit; the chat id to send to comes from WAHA's check-exists, not from here.
"""

import re

MIN_DIGITS, MAX_DIGITS = 8, 15  # E.164 allows 15 digits; fewer than 8 is no international number
BRAZIL = "55"
# 55, a two-digit area code (DDD, no zeros), then the subscriber number.
_BR_OLD_MOBILE = re.compile(r"^55([1-9]{2})([6-9]\d{7})$")  # 8 digits starting 6-9: a mobile of before 2012
_BR_MOBILE = re.compile(r"^55([1-9]{2})(9\d{8})$")
_BR_NATIONAL = re.compile(r"^[1-9]{2}(9\d{8}|[2-9]\d{7})$")  # DDD + subscriber, as Brazilians write it
_WRITTEN = re.compile(r"^\+?[\d\s().\-/]+$")
CHAT_SERVERS = ("c.us", "s.whatsapp.net")


class InvalidPhone(ValueError):
    """Text that is not a phone number; the message says why, for the operator."""


def canonical(text: str, default_country: str = "") -> str:
    """The contact key for a number as people write it: E.164 digits, no '+'.

    ``default_country`` (e.g. "55") is prefixed to a number written without '+' or '00'
    that has the shape of a national Brazilian number ("(11) 98888-7777").
    """
    raw = str(text or "").strip()
    if not raw or not _WRITTEN.match(raw):
        raise InvalidPhone(f"{raw!r} is not a phone number: use digits, optionally with +, spaces, brackets and dashes.")
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith("+") or digits.startswith("00")
    digits = digits[2:] if digits.startswith("00") else digits
    if not international:
        digits = _national(digits.lstrip("0") if digits.startswith("0") else digits, default_country)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidPhone(f"{raw!r} has {len(digits)} digits; a number with its country code has "
                           f"{MIN_DIGITS} to {MAX_DIGITS}.")
    return with_ninth_digit(digits)


def _national(digits: str, default_country: str) -> str:
    if default_country == BRAZIL and _BR_NATIONAL.match(digits):
        return BRAZIL + digits
    return digits


def with_ninth_digit(digits: str) -> str:
    """A Brazilian mobile of 8 subscriber digits gains its leading 9; anything else is kept."""
    old = _BR_OLD_MOBILE.match(digits)
    return f"55{old[1]}9{old[2]}" if old else digits


def whatsapp_forms(phone: str) -> list[str]:
    """The digits WhatsApp may know this canonical number by: a Brazilian mobile also without its 9."""
    mobile = _BR_MOBILE.match(phone)
    return [phone, f"55{mobile[1]}{mobile[2][1:]}"] if mobile else [phone]


def from_chat_id(chat_id: str) -> tuple[str, str]:
    """``(phone, lid)`` from a 1:1 chat id: ``("5511988887777", "")`` or ``("", "123@lid")``.

    Groups, channels and anything unreadable give ``("", "")``.
    """
    user, _, server = str(chat_id or "").strip().lower().partition("@")
    if not user.isdigit():
        return "", ""
    if server == "lid":
        return "", f"{user}@lid"
    if server in CHAT_SERVERS and MIN_DIGITS <= len(user) <= MAX_DIGITS:
        return with_ninth_digit(user), ""
    return "", ""
