"""Pure text matching for message triggers: no database, no Django.

Text is compared after folding case and accents away ("Cardápio" ≡ "cardapio") and
collapsing whitespace, in the three ways ``MessageTrigger.Match`` offers. Regular
expressions come from operators but run over text anyone can send, so they run with
the ``regex`` module's timeout: a pattern that backtracks for ever just fails to match.
"""

import unicodedata

import regex

from whatsapp import recipients

EXACT, CONTAINS, REGEX = "exact", "contains", "regex"  # MessageTrigger.Match's values
FALLBACK = "fallback"  # matches nothing itself: the trigger runs when no other trigger on the channel matched
ROUTINE = "routine"  # the chrono's ready-made routine decides (automations/routines/: a survey awaiting an answer)
REGEX_TIMEOUT_S = 0.05
MAX_MATCHED_CHARS = 4096  # longer messages are matched on their start


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: the form both sides are compared in."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def regex_problem(pattern: str) -> str:
    """Why ``pattern`` is not a usable regular expression, or '' when it is."""
    try:
        regex.compile(fold_pattern(pattern))
    except regex.error as exc:
        return f"Not a valid regular expression: {exc}."
    return ""


def fold_pattern(pattern: str) -> str:
    # Accents only, not case or spaces: "\S" must stay "\S" and "a  b" the operator's business.
    decomposed = unicodedata.normalize("NFKD", pattern)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def matches(match: str, pattern: str, text: str) -> bool:
    """Whether ``text`` satisfies ``pattern`` the ``match`` way (EXACT, CONTAINS, REGEX); case and accents ignored."""
    if match in (FALLBACK, ROUTINE):
        return False  # automations/events/triggers.py:fire tries fallbacks only once nothing else matched
    folded = fold(text[:MAX_MATCHED_CHARS])
    if match == EXACT:
        return folded == fold(pattern)
    if match == CONTAINS:
        return fold(pattern) in folded
    try:
        return regex.search(fold_pattern(pattern), folded, regex.IGNORECASE, timeout=REGEX_TIMEOUT_S) is not None
    except (regex.error, TimeoutError):
        return False


def normalise_senders(senders: object) -> list[str]:
    """The sender list as chat ids; ValueError naming the entry that is not a number or chat id."""
    if senders in (None, ""):
        return []
    if not isinstance(senders, list):
        raise ValueError("Senders must be a list of phone numbers or chat ids (empty: anyone).")
    try:
        return list(dict.fromkeys(recipients.normalise(sender) for sender in senders))
    except recipients.InvalidRecipient as exc:
        raise ValueError(str(exc)) from None


def accepts_sender(senders: list[str], sender: str) -> bool:
    """Whether ``sender`` is on the list (an empty list accepts anyone)."""
    if not senders:
        return True
    return _digits(sender) in {_digits(s) for s in senders} or sender in senders


def _digits(chat_id: str) -> str:
    user = str(chat_id).split("@", 1)[0]
    return user if user.isdigit() else str(chat_id)
