"""What a campaign would send, without sending: the first N texts and how many would not go."""

from campaigns.models import Campaign
from campaigns.render import render

MAX_PREVIEW = 50


def preview(campaign: Campaign, first: int = 5) -> dict:
    """The texts for the first ``first`` sendable recipients; counts of the audience by what would happen.

    "not_on_whatsapp" counts only what check-exists already said: unchecked numbers are
    asked at their first send, not here (a preview calls nobody).
    """
    audience = campaign.audience()
    opted_out = audience.filter(opted_out=True).count()
    not_on_whatsapp = audience.filter(opted_out=False, on_whatsapp=False).count()
    total = audience.count()
    sendable = audience.filter(opted_out=False).exclude(on_whatsapp=False)
    samples = [{"contact_id": c.pk, "phone": c.phone or "", "name": c.name, "chat_id": c.send_to,
                "text": render(campaign.message, campaign.pk or 0, c)} for c in sendable[: min(first, MAX_PREVIEW)]]
    return {"total": total, "would_send": total - opted_out - not_on_whatsapp, "suppressed": opted_out,
            "not_on_whatsapp": not_on_whatsapp, "unchecked": sendable.filter(checked_at__isnull=True).count(),
            "samples": samples, "attachment": attachment(campaign)}


def attachment(campaign: Campaign) -> dict | None:
    """The file each message carries, named as the recipient will see it; None for text only."""
    if not campaign.attachment_kind:
        return None
    return {"kind": campaign.attachment_kind, "kind_display": campaign.get_attachment_kind_display(),
            "filename": campaign.attachment().name}
