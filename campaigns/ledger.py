"""The ledger of a campaign: writing its rows, following their messages, exporting it.

``materialise`` writes a row per contact of the audience in chunks (bounded memory for any
audience size); an opted-out contact's row is written ``suppressed`` with the reason. A row
being sent follows its Message (``follow``): sent, delivered, read, failed with WAHA's
reason, unconfirmed, suppressed. Acks only move a row forward; ``replied`` is never undone.
"""

import csv
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from whatsapp.models import Message

State = CampaignRecipient.State
CHUNK = 2000
MS = Message.Status
FROM_MESSAGE = {MS.SENT: State.SENT, MS.DELIVERED: State.DELIVERED, MS.READ: State.READ, MS.FAILED: State.FAILED,
                MS.UNCONFIRMED: State.UNCONFIRMED, MS.SUPPRESSED: State.SUPPRESSED}
RANK = {State.SENDING: 0, State.SENT: 1, State.DELIVERED: 2, State.READ: 3, State.REPLIED: 4}
STAMP = {State.SENT: "sent_at", State.DELIVERED: "delivered_at", State.READ: "read_at"}


def materialise(campaign: Campaign) -> int:
    """One ledger row per contact of the audience (rows already there stay as they are); how many new."""
    created = 0
    contacts = campaign.audience().only("pk", "opted_out", "opted_out_at", "opted_out_reason", "timezone",
                                        "on_whatsapp", "checked_at")
    chunk: list[CampaignRecipient] = []
    for contact in contacts.iterator(chunk_size=CHUNK):
        chunk.append(_row(campaign, contact))
        if len(chunk) >= CHUNK:
            created += _write(chunk)
            chunk = []
    return created + _write(chunk)


def _row(campaign: Campaign, contact) -> CampaignRecipient:
    row = CampaignRecipient(campaign=campaign, contact_id=contact.pk)
    if contact.opted_out:  # known now; a contact who says stop later is caught at its send
        row.state, row.reason = State.SUPPRESSED, contact.suppression_reason() or ""
    elif contact.on_whatsapp is False:
        row.state, row.reason = State.NOT_ON_WHATSAPP, contact.suppression_reason() or ""
    return row


def _write(rows: list[CampaignRecipient]) -> int:
    if not rows:
        return 0
    return len(CampaignRecipient.objects.bulk_create(rows, ignore_conflicts=True))


def follow(rows) -> int:
    """Move the ``sending``/gone rows of ``rows`` (a queryset) to what their Message says; how many moved."""
    moved = 0
    for row in rows.filter(message__isnull=False, state__in=RANK).exclude(state=State.REPLIED).select_related("message"):
        moved += follow_one(row, row.message)
    return moved


def follow_one(row: CampaignRecipient, message: Message) -> int:
    state = FROM_MESSAGE.get(message.status)
    if state is None or state == row.state:
        return 0
    if state in RANK and RANK[state] < RANK.get(row.state, 0):
        return 0  # a late ack never moves a row back
    fields = {"state": state, "updated_at": timezone.now()}
    if state in (State.FAILED, State.UNCONFIRMED, State.SUPPRESSED):
        fields["reason"] = message.error[:2000]
    for reached, stamp in STAMP.items():
        if RANK.get(state, -1) >= RANK[reached] and getattr(row, stamp) is None:
            fields[stamp] = message.timestamp if reached == State.SENT and message.timestamp else timezone.now()
    return CampaignRecipient.objects.filter(pk=row.pk, state=row.state, message=message).update(**fields)


def withdraw(campaign: Campaign) -> int:
    """Take the campaign's messages still waiting in the outbox back out; their rows go back to queued.

    Each message is taken with a conditional update (``queued`` only), so one the outbox
    already claimed is left to be sent and followed as usual.
    """
    withdrawn = 0
    waiting = campaign.recipients.filter(state=State.SENDING, message__status=MS.QUEUED).values_list("pk", "message_id")
    for pk, message_id in waiting.iterator(chunk_size=CHUNK):
        with transaction.atomic():
            if Message.objects.filter(pk=message_id, status=MS.QUEUED).update(
                    status=MS.SUPPRESSED, error=f"Withdrawn: campaign {campaign.pk} was paused or cancelled.",
                    typing_until=None, updated_at=timezone.now()):
                withdrawn += CampaignRecipient.objects.filter(pk=pk, state=State.SENDING).update(
                    state=State.QUEUED, message=None, claimed_at=None, updated_at=timezone.now())
    return withdrawn


def mark_replied(contact_id: int, channel_id: int, at) -> int:
    """Rows of this contact's campaigns on this channel, sent before ``at``, become ``replied``."""
    rows = CampaignRecipient.objects.filter(contact_id=contact_id, campaign__channel_id=channel_id,
                                            state__in=[State.SENT, State.DELIVERED, State.READ]).filter(
        Q(sent_at__lte=at) | Q(sent_at__isnull=True, claimed_at__lte=at))
    return rows.update(state=State.REPLIED, replied_at=at, updated_at=timezone.now())


CSV_COLUMNS = ["contact_id", "phone", "name", "chat_id", "state", "reason", "attempt", "text", "waha_message_id",
               "queued_at", "sent_at", "delivered_at", "read_at", "replied_at"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows) -> Iterator[str]:
    """The ledger as CSV lines (a header, then one line per row), streamed in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = rows.select_related("contact", "message").order_by("pk")
    for row in rows.iterator(chunk_size=CHUNK):
        yield writer.writerow(_csv_values(row))


def _csv_values(row: CampaignRecipient) -> Iterable:
    stamp = lambda value: value.isoformat() if value else ""  # noqa: E731
    return [row.contact_id, row.contact.phone or "", row.contact.name, row.chat_id, row.state, row.reason,
            row.attempt, row.text, row.message.waha_message_id if row.message else "", stamp(row.queued_at),
            stamp(row.sent_at), stamp(row.delivered_at), stamp(row.read_at), stamp(row.replied_at)]
