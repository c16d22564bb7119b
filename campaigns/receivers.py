"""campaigns listens to whatsapp; whatsapp never imports campaigns.

- ``post_save`` of a Message: the outbox sent it (or WAHA refused it): its ledger row follows.
- ``outbound_acked``: delivered / read acks move ledger rows on.
- ``message_stored``: a message from a contact after a campaign's send marks that row ``replied``.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from campaigns import ledger
from campaigns.models import CampaignRecipient
from contacts.models import Contact
from whatsapp import signals
from whatsapp.models import Message


@receiver(post_save, sender=Message, dispatch_uid="campaigns_message_saved")
def message_saved(sender, instance: Message, created: bool, **kwargs) -> None:
    if created or instance.direction != Message.Direction.OUT:
        return
    row = CampaignRecipient.objects.filter(message_id=instance.pk).first()
    if row is not None:
        ledger.follow_one(row, instance)


@receiver(signals.outbound_acked, dispatch_uid="campaigns_outbound_acked")
def outbound_acked(sender, channel, waha_message_ids, **kwargs) -> None:
    ledger.follow(CampaignRecipient.objects.filter(message__channel=channel,
                                                   message__waha_message_id__in=waha_message_ids))


@receiver(signals.message_stored, dispatch_uid="campaigns_message_stored")
def message_stored(sender, message: Message, **kwargs) -> None:
    if message.is_group or message.direction != Message.Direction.IN:
        return
    contact = Contact.objects.for_chat(message.chat_id)
    if contact is not None:
        ledger.mark_replied(contact.pk, message.channel_id, message.timestamp or message.created_at or timezone.now())
