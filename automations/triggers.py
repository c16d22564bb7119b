"""WhatsApp message triggers: which chronos an inbound message starts, and with what input.

Text is compared after folding case and accents away ("Cardápio" ≡ "cardapio") and
collapsing whitespace, in the three ways ``MessageTrigger.Match`` offers. Regular
expressions come from operators but run over text anyone can send, so they run with
the ``regex`` module's timeout: a pattern that backtracks for ever just fails to match.

The message becomes the run's input (see ``message_input``): a MESSAGE chrono whose
recipients are ``["{{ input.from }}"]`` answers whoever wrote.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import regex
from django.db import transaction
from django.utils import timezone

from automations.models import Chrono, ChronoRun, MessageTrigger

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


def matches(trigger: MessageTrigger, text: str) -> bool:
    """Whether the message text satisfies the trigger (case and accents ignored)."""
    folded = fold(text[:MAX_MATCHED_CHARS])
    if trigger.match == MessageTrigger.Match.EXACT:
        return folded == fold(trigger.pattern)
    if trigger.match == MessageTrigger.Match.CONTAINS:
        return fold(trigger.pattern) in folded
    try:
        return regex.search(fold_pattern(trigger.pattern), folded, regex.IGNORECASE, timeout=REGEX_TIMEOUT_S) is not None
    except (regex.error, TimeoutError):
        return False


def normalise_senders(senders: object) -> list[str]:
    """The sender list as chat ids; ValueError naming the entry that is not a number or chat id."""
    from whatsapp import recipients

    if senders in (None, ""):
        return []
    if not isinstance(senders, list):
        raise ValueError("Senders must be a list of phone numbers or chat ids (empty: anyone).")
    try:
        return list(dict.fromkeys(recipients.normalise(sender) for sender in senders))
    except recipients.InvalidRecipient as exc:
        raise ValueError(str(exc)) from None


def accepts_sender(trigger: MessageTrigger, sender: str) -> bool:
    if not trigger.senders:
        return True
    return _digits(sender) in {_digits(s) for s in trigger.senders} or sender in trigger.senders


def _digits(chat_id: str) -> str:
    user = str(chat_id).split("@", 1)[0]
    return user if user.isdigit() else str(chat_id)


def message_input(message) -> dict:
    """What a run started by ``message`` (a whatsapp.Message) gets as its input."""
    channel = message.channel
    return {
        "from": message.sender or message.chat_id,
        "chat": message.chat_id,
        "text": message.text,
        "media": message.media,
        "is_group": message.is_group,
        "message_id": message.waha_message_id,
        "timestamp": message.timestamp.isoformat() if message.timestamp else None,
        "channel": {"id": channel.pk, "name": channel.name, "session": channel.session_name},
    }


def fire(message) -> tuple[list[dict], list[str]]:
    """Start every active chrono whose trigger matches the message.

    Returns (triggered, notes): ``{"chrono", "name", "run"}`` per run started, and one
    line per trigger that matched but was held back by its rate limit.
    """
    candidates = (MessageTrigger.objects.select_related("chrono")
                  .filter(channel_id=message.channel_id, chrono__is_active=True).order_by("pk"))
    triggered, notes = [], []
    payload = message_input(message)
    for trigger in candidates:
        if not (accepts_sender(trigger, payload["from"]) and matches(trigger, message.text)):
            continue
        run = _start(trigger, payload)
        if run is None:
            notes.append(f"{trigger.chrono.name}: rate limit ({trigger.max_runs} per {trigger.per_seconds}s "
                         f"per contact) reached for {payload['from']}; not run.")
        else:
            triggered.append({"chrono": trigger.chrono_id, "name": trigger.chrono.name, "run": run.pk})
    return triggered, notes


def _start(trigger: MessageTrigger, payload: dict) -> ChronoRun | None:
    """Create the run unless the contact used up its budget; counted under the chrono's lock."""
    since = timezone.now() - timedelta(seconds=trigger.per_seconds)
    with transaction.atomic():
        # Two workers handling two messages of one contact must not both see room for one more.
        chrono = Chrono.objects.select_for_update().get(pk=trigger.chrono_id)
        recent = ChronoRun.objects.filter(chrono=chrono, trigger=ChronoRun.Trigger.MESSAGE,
                                          created_at__gte=since, input__from=payload["from"]).count()
        if recent >= trigger.max_runs:
            return None
        return chrono.trigger(trigger=ChronoRun.Trigger.MESSAGE, input=payload)
