"""The MESSAGE target: render the chrono's template and send it to each recipient.

Each recipient is sent to through ``Channel.send_and_record`` with ``resume``: the run
keeps one outbound Message row per chat, and that row is the guard against duplicates,
so a retry of the run sends only to recipients whose row says the message was not sent.
A send WAHA may have carried out without answering (a timeout, a crash mid-call) is
marked ``unconfirmed`` and never repeated.

A chrono with an attachment (``attachment_kind`` and a URL or an uploaded file) sends that
file to each recipient, the rendered template being its caption (whatsapp/attachments.py).
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from automations.targets import Outcome
from whatsapp import recipients
from whatsapp.attachments import AUDIO, Attachment
from whatsapp.models import Channel, Message, SendFailed

Status = Message.Status
# Where each of an attachment's problems shows on the chrono (the caption is the template).
ATTACHMENT_FIELDS = {"kind": "attachment_kind", "url": "attachment_url", "file": "attachment_file",
                     "filename": "attachment_filename", "mimetype": "attachment_mimetype",
                     "caption": "message_template"}


def deadline_s(chrono) -> float:
    return settings.WAHA_TIMEOUT_MS / 1000 * max(len(chrono.recipients or []), 1)


def config_errors(chrono) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not chrono.channel_id:
        errors["channel"] = [_("A MESSAGE chrono needs a channel.")]
    attachment = chrono.attachment(caption=chrono.message_template)
    if not chrono.message_template.strip() and attachment is None:
        errors["message_template"] = [_("A MESSAGE chrono needs a message template.")]
    if attachment is not None:
        for name, problem in attachment.problems(size=_upload_size(chrono)).items():
            if name == "caption" and chrono.attachment_kind != AUDIO and "{" in chrono.message_template:
                continue  # a template's length is the rendered text's business: checked per run
            errors.setdefault(ATTACHMENT_FIELDS[name], []).append(problem)
    if not isinstance(chrono.recipients, list) or not chrono.recipients:
        errors["recipients"] = [_("A MESSAGE chrono needs a list of recipients.")]
    else:
        problems = []
        for recipient in chrono.recipients:
            if isinstance(recipient, str) and "{{" in recipient:
                continue  # rendered per run ({{ input.from }}), checked then
            try:
                recipients.normalise(recipient)
            except recipients.InvalidRecipient as exc:
                problems.append(str(exc))
        if problems:
            errors["recipients"] = problems
    return errors


def _upload_size(chrono) -> int | None:
    """The uploaded file's size (a new upload's, or the stored file's); None when unknown."""
    if not chrono.attachment_file:
        return None
    try:
        return chrono.attachment_file.size
    except (OSError, ValueError):
        return None  # missing from the storage: Attachment.problems says so


def channel_not_ready(chrono, run) -> Outcome | None:
    """The outcome for a chrono whose channel cannot send now, or None when it is WORKING.

    A reconnecting channel must not burn the run's attempts in seconds: the run waits for it,
    up to MESSAGE_CHANNEL_WAIT_S after the run was created.
    """
    channel = chrono.channel
    if channel is None:
        return Outcome(ok=False, error=f"This {chrono.target_type} chrono has no channel.", retryable=False)
    if channel.is_working:
        return None
    error = f"Channel '{channel.name}' is {channel.status}, not WORKING: nothing was sent."
    if (timezone.now() - run.created_at).total_seconds() < settings.MESSAGE_CHANNEL_WAIT_S:
        return Outcome(ok=False, error=f"{error} Waiting for it (MESSAGE_CHANNEL_WAIT_S).",
                       wait_s=settings.MESSAGE_CHANNEL_CHECK_S)
    return Outcome(ok=False, error=error)


def run(chrono, run, context: dict) -> Outcome:
    """Send the chrono's message through its channel; fails (retryable) unless it is WORKING."""
    not_ready = channel_not_ready(chrono, run)
    if not_ready is not None:
        return not_ready
    channel = chrono.channel
    try:
        text = render(chrono, run, context)
    except TemplateSyntaxError as exc:
        return Outcome(ok=False, error=f"The message template has an error: {exc}", retryable=False)
    attachment = chrono.attachment(caption=text)
    if not text.strip() and attachment is None:
        return Outcome(ok=False, error="The message template rendered to empty text: nothing was sent.", retryable=False)
    if attachment is not None and attachment.problems():
        problems = "; ".join(f"{ATTACHMENT_FIELDS[k]}: {v}" for k, v in attachment.problems().items())
        return Outcome(ok=False, error=f"The attachment cannot be sent: {problems}", retryable=False)
    try:
        rendered = _unique(render_recipients(chrono, run, context))
    except TemplateSyntaxError as exc:
        return Outcome(ok=False, error=f"A recipient template has an error: {exc}", retryable=False)
    return _outcome([_deliver(channel, run, recipient, text, chrono.timezone, attachment) for recipient in rendered])


def render(chrono, run, context: dict) -> str:
    """The message text: Django template language over chrono, run, now (chrono's zone), input."""
    zone = ZoneInfo(chrono.timezone)
    now = (context.get("now") or timezone.now()).astimezone(zone)
    # The chrono's zone must be the active one too, or {{ now|date }} converts back to UTC.
    with timezone.override(zone):
        values = {"chrono": chrono, "run": run, "now": now, "input": run.input if run.input is not None else {}}
        return Template(chrono.message_template).render(Context(values, autoescape=False))


def render_recipients(chrono, run, context: dict) -> list:
    """The recipients, each one containing ``{{`` rendered like the message: ``{{ input.from }}``."""
    values = Context({"chrono": chrono, "run": run, "input": run.input if run.input is not None else {}},
                     autoescape=False)
    return [Template(r).render(values).strip() if isinstance(r, str) and "{{" in r else r
            for r in chrono.recipients or []]


def _unique(items: list) -> list:
    """Each recipient once by the chat it names: '+55 11 99999-9999' and '5511999999999@s.whatsapp.net' are one."""
    seen, unique = set(), []
    for item in items:
        key = _chat_or_text(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _chat_or_text(recipient) -> str:
    try:
        return recipients.normalise(recipient)
    except recipients.InvalidRecipient:
        return str(recipient)  # fails in _deliver, with its reason


def _deliver(channel: Channel, run, recipient, text: str, zone: str,
             attachment: Attachment | None = None) -> tuple[Message, bool]:
    """Send to one recipient unless an earlier attempt did; (row, worth retrying).

    On a governed channel the row comes back ``queued`` (the outbox sends it, in the send
    window of ``zone``): that counts as done for the run, which ends successful at once;
    the row's own status then tells whether and when it went.
    """
    try:
        chat_id = recipients.normalise(recipient)
    except recipients.InvalidRecipient as exc:
        return _refused(channel, run, recipient, text, str(exc)), False
    try:
        # resume: a retry of the run sends only to those its earlier attempts did not reach.
        return channel.send_and_record(chat_id, text, recipient=str(recipient), run=run, resume=True,
                                       zone=zone, attachment=attachment), False
    except SendFailed as exc:
        # 422 on a send means "session not WORKING (yet)": worth another attempt later.
        return exc.row, not exc.delivery_unknown and (not exc.permanent or exc.status == 422)


def _refused(channel: Channel, run, recipient, text: str, error: str) -> Message:
    """The row of a recipient that is no phone number or chat id: failed, never sent."""
    message, _ = Message.objects.get_or_create(
        run=run, chat_id=str(recipient)[:128],
        defaults={"channel": channel, "direction": Message.Direction.OUT, "recipient": str(recipient)[:128],
                  "text": text},
    )
    message.mark(Status.FAILED, error)
    return message


def _outcome(results: list[tuple[Message, bool]]) -> Outcome:
    messages = [m for m, _ in results]
    suppressed = [m for m in messages if m.status == Status.SUPPRESSED]  # opted out: skipped, not a failure
    unsent = [m for m in messages if m.status not in Message.ACCEPTED and m not in suppressed]
    result = {
        "sent": sum(m.status in Message.DONE for m in messages),
        "queued": sum(m.status == Status.QUEUED for m in messages),
        "not_sent": len(unsent),
        "suppressed": len(suppressed),
        "messages": [{"recipient": m.recipient, "chat_id": m.chat_id, "status": m.status,
                      "waha_message_id": m.waha_message_id, "error": m.error} for m in messages],
    }
    if not messages:
        return Outcome(ok=False, error="This MESSAGE chrono has no recipients.", retryable=False, result=result)
    if not unsent:
        return Outcome(ok=True, result=result)
    reasons = "; ".join(f"{m.recipient or m.chat_id}: {m.error}" for m in unsent)
    return Outcome(ok=False, error=f"{len(unsent)} of {len(messages)} recipients not sent. {reasons}",
                   retryable=any(retry for _, retry in results), result=result)
