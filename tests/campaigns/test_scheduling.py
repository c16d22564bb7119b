"""Campaigns at a time: now, a one-shot ``send_at`` (started by the housekeeping pass), or a schedule
through a CAMPAIGN chrono, each occurrence of which sends a copy of the campaign, once per run."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from automations.models import Chrono
from campaigns import sending
from campaigns.models import Campaign


def test_a_campaign_with_a_later_send_at_waits_scheduled_and_is_sent_by_the_reaper_when_due(
        waha, channel, make_contacts, make_campaign, celery_eager, django_capture_on_commit_callbacks, fast_outbox):
    make_contacts(3)
    at = timezone.now() + timedelta(hours=2)
    campaign = make_campaign(send_at=at)
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.start(campaign) == 0
        sending.reap(now=at - timedelta(minutes=1))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients.count(), waha.sent) == ("scheduled", 0, [])

    with django_capture_on_commit_callbacks(execute=True):
        sending.reap(now=at)
    campaign.refresh_from_db()
    assert campaign.status == "running" and len(waha.sent) == 3


@pytest.fixture
def campaign_chrono(make_chrono, make_campaign, make_contacts):
    make_contacts(2, tag="clientes")
    template = make_campaign(name="Ofertas da semana", attachment_kind="image",
                             attachment_url="https://cdn.example.org/ofertas.jpg")
    template.tags.set(Campaign.tags.field.related_model.objects.filter(name="clientes"))
    return make_chrono(name="Toda segunda", schedule="0 9 * * 1", target_type="CAMPAIGN",
                       extras={"campaign": template.pk}), template


def test_each_occurrence_of_a_campaign_chrono_sends_a_copy_and_a_redelivered_run_sends_nothing_more(
        waha, channel, campaign_chrono, celery_eager, django_capture_on_commit_callbacks, fast_outbox):
    chrono, template = campaign_chrono
    with django_capture_on_commit_callbacks(execute=True):
        first = chrono.trigger()
    first.refresh_from_db()
    assert first.status == "success", first.error_message
    copy = Campaign.objects.get(copied_from=template)
    assert first.result["campaign"] == copy.pk and copy.name.startswith("Ofertas da semana · ")
    assert (copy.status, copy.recipients.count(), len(waha.media_sent)) == ("running", 2, 2)
    template.refresh_from_db()
    assert template.status == "draft"  # the template is never sent itself

    assert sending.start_copy(template, occurrence=f"chrono-run:{first.pk}")[0] == copy  # the run again
    assert Campaign.objects.filter(copied_from=template).count() == 1 and len(waha.media_sent) == 2

    with django_capture_on_commit_callbacks(execute=True):
        chrono.trigger()  # the next occurrence: a new copy, a new ledger
    assert Campaign.objects.filter(copied_from=template).count() == 2
    assert Counter(s["chatId"] for s in waha.media_sent) == {chat: 2 for chat in {s["chatId"] for s in waha.media_sent}}


def test_a_campaign_chrono_without_its_campaign_is_refused_on_extras(db):
    chrono = Chrono(name="Sem campanha", schedule="0 9 * * 1", timezone="UTC", target_type="CAMPAIGN",
                    extras={"campaign": 999})
    with pytest.raises(ValidationError) as refused:
        chrono.full_clean()
    assert "campaign" in " ".join(refused.value.message_dict["extras"])


def test_a_campaign_chrono_is_made_through_the_api_and_a_wrong_campaign_is_a_400_on_extras(api, make_campaign):
    template = make_campaign()
    body = {"name": "Toda segunda", "schedule": "0 9 * * 1", "timezone": "America/Sao_Paulo",
            "target_type": "CAMPAIGN"}

    made = api.post("/api/chronos/", {**body, "extras": {"campaign": template.pk}}, format="json")
    refused = api.post("/api/chronos/", {**body, "extras": {"campaign": "Natal"}}, format="json")

    assert made.status_code == 201, made.json()
    assert refused.status_code == 400 and "extras" in refused.json()
    assert Chrono.objects.count() == 1
