"""Running a campaign: start, pause, resume, cancel, retry the failed, and one recipient's send.

No worker holds a campaign: ``dispatch`` hands out one small task per queued row, a chunk
at a time, and each ``send_one`` takes a few milliseconds (check-exists on a contact's first
send, then two writes). The row is claimed ``queued`` -> ``sending`` in the transaction that
creates its Message (queued in the channel's outbox), so a retried or redelivered task
finds the row claimed and sends nothing; the outbox and its governor do the sending.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import ledger
from campaigns.models import Campaign, CampaignRecipient
from campaigns.render import render
from contacts import directory
from whatsapp.models import Message, kick_pump
from whatsapp.waha import WahaError

log = logging.getLogger(__name__)
State, Status = CampaignRecipient.State, Campaign.Status
DISPATCH_CHUNK = 200
SEND_TASK, DISPATCH_TASK = "campaigns.tasks.send_recipient", "campaigns.tasks.dispatch"


class NotAllowed(ValueError):
    """The action does not apply to the campaign in its status; the text says why."""


def _task(name: str):
    from chronoflow.celery import app  # by name: tasks.py imports this module

    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def enqueue_dispatch(campaign_id: int, after: int = 0) -> None:
    transaction.on_commit(lambda: _task(DISPATCH_TASK).apply_async(kwargs={"campaign_id": campaign_id,
                                                                          "after": after}))


def _set_status(campaign: Campaign, status: str, allowed: tuple[str, ...], **fields) -> None:
    if not Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(status=status, updated_at=timezone.now(),
                                                                               **fields):
        campaign.refresh_from_db(fields=["status"])
        raise NotAllowed(_("The campaign is %(status)s; this needs it %(allowed)s.") % {
            "status": Status(campaign.status).label,
            "allowed": str(_(" or ")).join(str(Status(s).label) for s in allowed)})
    campaign.refresh_from_db()


def start(campaign: Campaign, now: datetime | None = None) -> int:
    """Schedule it (``send_at`` ahead) or write its ledger and hand out its sends; how many rows were written."""
    now = now or timezone.now()
    if campaign.send_at and campaign.send_at > now:
        _set_status(campaign, Status.SCHEDULED, (Status.DRAFT,))
        return 0
    # One transaction: the reaper must never see it running before its ledger exists (it would
    # find nothing waiting and call it done).
    with transaction.atomic():
        _set_status(campaign, Status.RUNNING, (Status.DRAFT, Status.SCHEDULED), started_at=now, dispatched_at=now)
        written = ledger.materialise(campaign)
        enqueue_dispatch(campaign.pk)
    return written


def start_copy(campaign: Campaign, occurrence: str, now: datetime | None = None) -> tuple[Campaign, int]:
    """Start a copy of ``campaign`` for ``occurrence`` (a chrono run), once: a retried run finds
    the copy it made and starts nothing; (the copy, ledger rows written now)."""
    now = now or timezone.now()
    existing = Campaign.objects.filter(occurrence=occurrence).first()
    if existing is not None:
        return existing, 0
    try:
        with transaction.atomic():  # the copy and its start together: no half-made copy blocks a retry
            copy = campaign.copy_for(occurrence, f"{campaign.name} · {now:%Y-%m-%d %H:%M}")
            return copy, start(copy, now)
    except IntegrityError:  # another delivery of the same run made it meanwhile
        return Campaign.objects.get(occurrence=occurrence), 0


def start_due(now: datetime | None = None) -> int:
    """Start the scheduled campaigns whose time has come."""
    now = now or timezone.now()
    due = Campaign.objects.filter(status=Status.SCHEDULED, send_at__lte=now)
    for campaign in due:
        try:
            start(campaign, now)
        except NotAllowed:
            continue  # started by someone else meanwhile
    return len(due)


def pause(campaign: Campaign) -> int:
    """No further sends; messages still waiting in the outbox are taken back (their rows stay queued)."""
    with transaction.atomic():
        _set_status(campaign, Status.PAUSED, (Status.RUNNING, Status.SCHEDULED))
    return ledger.withdraw(campaign)


def resume(campaign: Campaign) -> None:
    with transaction.atomic():  # running and its ledger together, as in start
        _set_status(campaign, Status.RUNNING, (Status.PAUSED,), dispatched_at=timezone.now())
        if not campaign.started_at:
            start_rows = ledger.materialise(campaign)
            Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now())
            log.info("Campaign %s resumed before it had started: %s rows written", campaign.pk, start_rows)
        enqueue_dispatch(campaign.pk)


def cancel(campaign: Campaign) -> int:
    """Stop for good: what waits in the outbox is taken back, and every queued row ends ``cancelled``."""
    with transaction.atomic():
        _set_status(campaign, Status.CANCELLED, (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
                    finished_at=timezone.now())
    ledger.withdraw(campaign)
    return campaign.recipients.filter(state=State.QUEUED).update(
        state=State.CANCELLED, reason=_("The campaign was cancelled before this was sent."), updated_at=timezone.now())


def retry_failed(campaign: Campaign) -> int:
    """Queue exactly the failed rows again (a new attempt each); how many."""
    if campaign.status in (Status.DRAFT, Status.SCHEDULED, Status.CANCELLED):
        raise NotAllowed(_("The campaign is %(status)s; only a started campaign has failed sends to retry.")
                         % {"status": Status(campaign.status).label})
    with transaction.atomic():
        count = campaign.recipients.filter(state=State.FAILED).update(
            state=State.QUEUED, attempt=F("attempt") + 1, message=None, claimed_at=None, reason="",
            queued_at=timezone.now(), updated_at=timezone.now())
        if count and campaign.status == Status.DONE:
            _set_status(campaign, Status.RUNNING, (Status.DONE,), finished_at=None)
        Campaign.objects.filter(pk=campaign.pk).update(dispatched_at=timezone.now())
        campaign.refresh_from_db()
        if count and campaign.status == Status.RUNNING:
            enqueue_dispatch(campaign.pk)
    return count


def dispatch(campaign_id: int, after: int = 0) -> int:
    """Hand out one task per queued row after pk ``after``, a chunk at a time; the next chunk is its own task."""
    if not Campaign.objects.filter(pk=campaign_id, status=Status.RUNNING).exists():
        return 0
    rows = list(CampaignRecipient.objects.filter(campaign_id=campaign_id, state=State.QUEUED, pk__gt=after)
                .order_by("pk").values_list("pk", "attempt")[:DISPATCH_CHUNK])
    task = _task(SEND_TASK)
    with task.app.producer_or_acquire() as producer:  # one broker connection for the chunk, not one per task
        for pk, attempt in rows:
            task.apply_async(kwargs={"recipient_id": pk, "attempt": attempt}, producer=producer)
    if len(rows) == DISPATCH_CHUNK:
        _task(DISPATCH_TASK).apply_async(kwargs={"campaign_id": campaign_id, "after": rows[-1][0]})
    return len(rows)


# --- one recipient ----------------------------------------------------------------------------


def send_one(recipient_id: int, attempt: int) -> str:
    """Send one ledger row's message (through the outbox), once; what happened to it.

    WahaError from check-exists propagates when trying again may help (the task retries);
    the row stays queued meanwhile.
    """
    row = (CampaignRecipient.objects.select_related("campaign__channel", "contact")
           .filter(pk=recipient_id, state=State.QUEUED, attempt=attempt).first())
    if row is None:
        return "gone"  # sent, finished or re-queued as a later attempt already
    if row.campaign.status != Status.RUNNING:
        return "not running"  # paused or cancelled: resume hands it out again
    contact, channel = row.contact, row.campaign.channel
    reason = contact.suppression_reason()
    if reason:
        return _finish(row, State.NOT_ON_WHATSAPP if contact.on_whatsapp is False else State.SUPPRESSED, reason)
    try:
        chat_id = directory.resolve_chat_id(contact, channel)
    except WahaError as exc:
        if not exc.permanent:
            raise
        return _finish(row, State.FAILED, f"check-exists: {exc}")
    if chat_id is None:
        return _finish(row, State.NOT_ON_WHATSAPP, contact.suppression_reason() or _("not on WhatsApp"))
    text = render(row.campaign.message, row.campaign_id, contact)
    attachment = row.campaign.attachment(caption=text)
    problems = attachment.problems() if attachment is not None else {}
    if problems:  # e.g. this recipient's caption is too long, or the file went missing
        listed = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        return _finish(row, State.FAILED, _("The attachment cannot be sent: %(problems)s") % {"problems": listed})
    return _claim_and_queue(row, chat_id, text, attachment)


def _finish(row: CampaignRecipient, state: str, reason: str) -> str:
    CampaignRecipient.objects.filter(pk=row.pk, state=State.QUEUED, attempt=row.attempt).update(
        state=state, reason=reason[:2000], updated_at=timezone.now())
    return state


def _claim_and_queue(row: CampaignRecipient, chat_id: str, text: str, attachment=None) -> str:
    now = timezone.now()
    with transaction.atomic():
        if not _still_running(row.campaign_id):
            return "not running"
        claimed = CampaignRecipient.objects.filter(pk=row.pk, state=State.QUEUED, attempt=row.attempt).update(
            state=State.SENDING, chat_id=chat_id, text=text, claimed_at=now, reason="", updated_at=now)
        if not claimed:
            return "gone"  # another delivery of this task claimed it
        message = row.campaign.channel.send_and_record(chat_id, text, recipient=row.contact.phone or chat_id,
                                                       queue=True, zone=row.contact.timezone,
                                                       attachment=attachment)
        CampaignRecipient.objects.filter(pk=row.pk).update(message=message)
        row.state, row.message = State.SENDING, message
        ledger.follow_one(row, message)  # suppressed at the door (opted out meanwhile)
    return "queued"


def _still_running(campaign_id: int) -> bool:
    """The campaign is running, read under a share lock: pause and cancel wait for claims in flight,
    so their withdrawal sees every message a claim queued."""
    if connection.vendor != "postgresql":
        return Campaign.objects.filter(pk=campaign_id, status=Status.RUNNING).exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {Campaign._meta.db_table} WHERE id = %s FOR SHARE", [campaign_id])
        found = cursor.fetchone()
    return bool(found) and found[0] == Status.RUNNING


# --- housekeeping ------------------------------------------------------------------------------


def reap(now: datetime | None = None) -> dict[str, int]:
    """What dead workers and lost tasks left: follow rows' messages, hand out forgotten queued rows,
    kick outboxes with campaign messages waiting, mark finished campaigns done."""
    now = now or timezone.now()
    stall = timedelta(seconds=settings.CAMPAIGN_STALL_S)
    done = {"followed": 0, "redispatched": 0, "done": 0}
    for campaign in Campaign.objects.filter(status__in=[Status.RUNNING, Status.PAUSED, Status.CANCELLED,
                                                        Status.DONE], updated_at__gte=now - timedelta(days=7)):
        done["followed"] += ledger.follow(campaign.recipients.all())
        if campaign.status != Status.RUNNING:
            continue
        if _forgotten(campaign, now, stall):
            Campaign.objects.filter(pk=campaign.pk).update(dispatched_at=now)
            enqueue_dispatch(campaign.pk)
            done["redispatched"] += 1
        _kick_waiting(campaign, now, stall)
        if not campaign.recipients.filter(state__in=CampaignRecipient.WAITING).exists():
            done["done"] += Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
                status=Status.DONE, finished_at=now, updated_at=now)
    start_due(now)
    return done


def _forgotten(campaign: Campaign, now: datetime, stall: timedelta) -> bool:
    """Queued rows, and nothing claimed nor handed out for ``stall``: their tasks were lost."""
    if campaign.dispatched_at and campaign.dispatched_at > now - stall:
        return False
    if not campaign.recipients.filter(state=State.QUEUED).exists():
        return False
    last = campaign.recipients.aggregate(at=Max("claimed_at"))["at"]
    return last is None or last < now - stall


def _kick_waiting(campaign: Campaign, now: datetime, stall: timedelta) -> None:
    # An ungoverned channel's outbox is only drained when kicked; a kick lost with its worker is redone.
    # A send its worker died in (left 'sending') is only declared lost by a step of the outbox: kick for it too.
    if campaign.channel.send_profile:
        return  # the periodic pump looks at governed channels
    lost = now - timedelta(seconds=settings.WAHA_SEND_LOST_AFTER_S)
    if Message.objects.filter(campaign_row__campaign=campaign).filter(
            Q(status=Message.Status.QUEUED, not_before__lt=now - stall)
            | Q(status=Message.Status.SENDING, updated_at__lt=lost)).exists():
        kick_pump(campaign.channel_id)
