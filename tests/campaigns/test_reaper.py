"""The campaign reaper finishes what a dead worker left: a send it died in, with nothing else queued."""

from datetime import timedelta

from django.utils import timezone

from campaigns import sending
from campaigns.models import CampaignRecipient
from whatsapp.models import Message


def test_a_send_left_sending_by_a_dead_worker_ends_unconfirmed_and_the_campaign_done(
        waha, channel, make_contacts, make_campaign, celery_eager, django_capture_on_commit_callbacks):
    contact = make_contacts(1)[0]
    campaign = make_campaign(status="running", started_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):  # the worker dies before its kick
        message = channel.send_and_record(f"{contact.phone}@c.us", "Oi!", queue=True)
    row = CampaignRecipient.objects.create(campaign=campaign, contact=contact, state="sending", message=message,
                                           claimed_at=timezone.now())
    # Its worker took it out of the outbox and died mid-call, twenty minutes ago.
    Message.objects.filter(pk=message.pk).update(status="sending", updated_at=timezone.now() - timedelta(minutes=20))

    with django_capture_on_commit_callbacks(execute=True):
        sending.reap()
    with django_capture_on_commit_callbacks(execute=True):
        sending.reap()

    row.refresh_from_db()
    campaign.refresh_from_db()
    assert (row.state, campaign.status) == ("unconfirmed", "done")
    assert "not sent again" in row.reason
    assert waha.calls("POST", "/api/sendText") == []  # never sent twice


def test_a_start_that_fails_midway_leaves_the_campaign_a_draft_with_no_ledger(db, make_contacts, make_campaign,
                                                                            monkeypatch):
    # Running and the ledger commit together: a reaper looking in between would otherwise find a
    # running campaign with nothing waiting, and call it done.
    make_contacts(3)
    campaign = make_campaign()

    def broken(campaign):
        CampaignRecipient.objects.create(campaign=campaign, contact=campaign.audience().first())
        raise RuntimeError("database went away")

    monkeypatch.setattr(sending.ledger, "materialise", broken)
    try:
        sending.start(campaign)
    except RuntimeError:
        pass
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients.count()) == ("draft", 0)
