"""The ASSISTANT target: an assistant answers the inbound WhatsApp message that started the run.

The run's input is the message (automations/events/triggers.py:message_input). The turn
itself (chat, model, tools) is assistants/conversation.py; here: the pause and retry
guards, sending the answer, and the Outcome. The answer's outbound Message row (one per
run and chat) is what a retry reads: an answer that was produced but not sent is sent
again without asking the model twice, and one already sent is never repeated.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from assistants import conversation
from assistants.models import Assistant
from automations import owner_tools
from automations.events import alerts
from automations.targets import Outcome
from chronoflow import secrets
from contacts import consent
from contacts.models import Contact
from whatsapp.models import Channel, Message, SendFailed

Status = Message.Status


def deadline_s(chrono) -> float:
    assistant = chrono.assistant
    if assistant is None:
        return settings.WAHA_TIMEOUT_MS / 1000
    tool_ms = max((t.function.timeout_ms for t in assistant.assistant_tools.select_related("function")), default=0)
    start_ms = getattr(settings, "FUNCTION_START_TIMEOUT_MS", 10_000)
    per_round_ms = assistant.timeout_ms + (tool_ms + start_ms if tool_ms else 0)
    return ((assistant.max_tool_rounds + 1) * per_round_ms + settings.WAHA_TIMEOUT_MS) / 1000


def config_errors(chrono) -> dict[str, list[str]]:
    if chrono.assistant_id:
        return {}
    return {"assistant": [_("An ASSISTANT chrono needs an assistant.")]}


def run(chrono, run, context: dict) -> Outcome:
    """Answer the message in run.input through the chrono's channel (or the one it came in on)."""
    inbound = run.input if isinstance(run.input, dict) else {}
    if chrono.assistant is None:
        return Outcome(ok=False, error="This ASSISTANT chrono has no assistant.", retryable=False)
    # An owner's message goes to the owner assistant, with read-only tools over ChronoFlow.
    assistant, owner = chrono.assistant.for_sender(str(inbound.get("from") or ""))
    chat_id = str(inbound.get("chat") or "")
    channel = chrono.channel or Channel.objects.filter(pk=(inbound.get("channel") or {}).get("id")).first()
    if not chat_id or channel is None:
        return Outcome(ok=False, error="The run's input is not a WhatsApp message (no chat or channel): "
                                       "start ASSISTANT chronos from a message trigger.", retryable=False)
    if not channel.is_working:
        return Outcome(ok=False, error=f"Channel '{channel.name}' is {channel.status}, not WORKING: nothing was asked.")
    earlier = Message.objects.filter(run=run, chat_id=chat_id).first()
    if earlier is not None:
        return _after_earlier_attempt(channel, earlier, run)
    contact = None if inbound.get("is_group") else Contact.objects.for_chat(chat_id)
    pause = assistant.pause_for(channel.pk, chat_id) or _stopped(assistant, channel, chat_id, inbound, contact, run)
    if pause is not None:
        return Outcome(ok=True, result={"paused_until": pause.until.isoformat(), "reason": pause.reason,
                                        "reply": ""})
    turn = conversation.reply(assistant, channel.pk, {**inbound, **known_of(contact, inbound), "chat": chat_id},
                              chrono=chrono, run=run, builtins=owner_tools.TOOLS if owner else None)
    return _finish(chrono, run, channel, chat_id, turn, assistant)


def operator_replied(message: Message) -> int:
    """A person answered the chat from the business's phone: every assistant answering there pauses in it.

    Those of the ASSISTANT chronos that send through the message's channel or are triggered
    by its messages; each for its own pause_minutes. Returns how many were paused.
    """
    answering = (Assistant.objects.filter(chronos__target_type="ASSISTANT")
                 .filter(Q(chronos__channel_id=message.channel_id)
                         | Q(chronos__message_trigger__channel_id=message.channel_id)).distinct())
    for assistant in answering:
        assistant.pause_chat(message.channel_id, message.chat_id, "A person answered from the business's phone.")
    return len(answering)


def known_of(contact: Contact | None, inbound: dict) -> dict:
    """The contact's name and custom fields for the model; what the run's input says wins."""
    if contact is None:
        return {}
    given = inbound.get("fields") if isinstance(inbound.get("fields"), dict) else {}
    return {"name": inbound.get("name") or contact.name, "fields": {**(contact.custom_fields or {}), **given}}


def _stopped(assistant: Assistant, channel: Channel, chat_id: str, inbound: dict, contact: Contact | None, run):
    """A stop word hands the chat over: pause the assistant there; the opt-out's confirmation is the only reply.

    The contacts app opts the contact out as the message is stored (before this run); the
    word itself is checked too, for a chat whose contact is not (yet) known.
    """
    if inbound.get("is_group"):  # a group's "SAIR" opts no one out (contacts/receivers.py)
        return None
    said_stop = consent.classify(str(inbound.get("text") or "")) == consent.STOP
    if not said_stop and not (contact is not None and contact.opted_out):
        return None
    return assistant.pause_chat(channel.pk, chat_id, "The contact opted out (stop word): a person takes over.",
                                run_id=getattr(run, "pk", None))


def _finish(chrono, run, channel: Channel, chat_id: str, turn: conversation.Turn, assistant: Assistant) -> Outcome:
    result = {**_scrubbed(turn.as_result(), assistant), "assistant": assistant.name}
    if not turn.ok:
        # The contact gets nothing: provider errors stay on the run.
        return Outcome(ok=False, error=_scrubbed(turn.error, assistant), retryable=turn.retryable,
                       timed_out=turn.timed_out, result=result)
    reply = _scrubbed(turn.reply, assistant)  # not even a model that echoes the key sends it on
    message, retry = send_reply(channel, run, chat_id, reply)
    if turn.escalation:
        transaction.on_commit(lambda: alerts.escalated(chrono, run, chat_id, turn.escalation))
    result["sent"] = {"status": message.status, "waha_message_id": message.waha_message_id, "error": message.error}
    if message.status in Message.ACCEPTED:  # queued: a governed channel's outbox sends it
        return Outcome(ok=True, result=result, response_snippet=reply[:1000])
    return Outcome(ok=False, error=f"The reply was not sent: {message.error}", retryable=retry, result=result)


def _after_earlier_attempt(channel: Channel, message: Message, run) -> Outcome:
    """An earlier attempt produced this answer: send it if it was not sent, never twice."""
    retry = False
    if message.status == Status.SENDING:  # that attempt died mid-send: it may have gone out
        message.mark(Status.UNCONFIRMED, "An earlier attempt stopped mid-send; not sent again so nobody gets it twice.")
    elif message.status not in Message.ACCEPTED and message.status != Status.UNCONFIRMED:
        message, retry = send_reply(channel, run, message.chat_id, message.text)
    result = {"reply": message.text, "sent": {"status": message.status, "waha_message_id": message.waha_message_id,
                                              "error": message.error}, "resent_from_earlier_attempt": True}
    if message.status in Message.ACCEPTED:
        return Outcome(ok=True, result=result)
    return Outcome(ok=False, error=f"The reply was not sent: {message.error or message.status}", retryable=retry,
                   result=result)


def _scrubbed(value, assistant: Assistant):
    """Nothing the provider echoed may carry the API key into the run."""
    return secrets.redact_json(value, secrets.secret_values({}, [assistant.api_key]))


def send_reply(channel: Channel, run, chat_id: str, text: str) -> tuple[Message, bool]:
    """Send the answer as the run's one outbound Message to the chat: (row, worth retrying).

    Through Channel.send_and_record, the one way ChronoFlow messages anyone (resume: a
    retry never sends an answer that went out, nor one an attempt died sending).
    """
    try:
        return channel.send_and_record(chat_id, text, recipient=chat_id, run=run, resume=True), False
    except SendFailed as exc:
        return exc.row, not exc.delivery_unknown and ((not exc.permanent) or exc.status == 422)
