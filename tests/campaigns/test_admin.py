"""Campaigns in the admin: the changelist and the change page show progress (counts and a bar)."""

import pytest

from automations.models import Chrono
from campaigns.models import CampaignRecipient
from campaigns.preview import preview
from tests.automations.test_admin import page_form_data


@pytest.fixture
def half_sent(make_contacts, make_campaign):
    contacts = make_contacts(4)
    campaign = make_campaign(status="running")
    CampaignRecipient.objects.bulk_create([CampaignRecipient(campaign=campaign, contact=c, state=state)
                                           for c, state in zip(contacts, ["sent", "sent", "failed", "queued"])])
    return campaign


def test_the_changelist_shows_each_campaign_s_bar_and_counts(admin_client, half_sent):
    response = admin_client.get("/admin/campaigns/campaign/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "width:50.0%" in html and "width:25.0%" in html  # sent and failed parts of the bar
    assert "75.0%" in html  # finished: all but the queued one
    assert "sent: 2" in html and "failed: 1" in html


def test_the_change_page_shows_progress_and_links_the_ledger(admin_client, half_sent):
    response = admin_client.get(f"/admin/campaigns/campaign/{half_sent.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "75.0%" in html and f"campaign__id__exact={half_sent.pk}" in html
    assert 'name="attachment_kind"' in html and "Copy of" in html


def test_the_ledger_page_lists_the_rows(admin_client, half_sent):
    response = admin_client.get(f"/admin/campaigns/campaignrecipient/?campaign__id__exact={half_sent.pk}")

    assert response.status_code == 200 and response.content.decode().count("Pessoa") >= 4


def test_the_start_action_on_a_cancelled_campaign_warns_instead_of_failing(admin_client, make_campaign):
    campaign = make_campaign(status="cancelled")

    response = admin_client.post("/admin/campaigns/campaign/", {"action": "start", "_selected_action": [campaign.pk]},
                                 follow=True)

    assert response.status_code == 200 and "The campaign is cancelled" in response.content.decode()


def test_the_preview_action_names_the_attachment_each_message_carries(admin_client, make_contacts, make_campaign):
    make_contacts(2)
    campaign = make_campaign(message="Promoção de {{ contact.first_name }}", attachment_kind="image",
                             attachment_url="https://cdn.example.org/fotos/promo.jpg?v=2")

    response = admin_client.post("/admin/campaigns/campaign/", {"action": "show_preview",
                                                                "_selected_action": [campaign.pk]}, follow=True)

    html = response.content.decode()
    assert "2 recipients, 2 would be sent" in html
    assert "Attachment: Image “promo.jpg”, the text as its caption." in html and "Promoção de Pessoa" in html


def test_the_preview_of_a_text_campaign_has_no_attachment(make_contacts, make_campaign):
    make_contacts(1)
    assert preview(make_campaign())["attachment"] is None
    shown = preview(make_campaign(attachment_kind="document", attachment_url="https://x.example/a/tabela.pdf",
                                  attachment_filename="Tabela de preços.pdf", message=""))
    # The name as WAHA is given it (attachments.Attachment.name).
    assert shown["attachment"] == {"kind": "document", "kind_display": "Document", "filename": "Tabela_de_preços.pdf"}


def test_repeat_on_a_schedule_opens_a_campaign_chrono_form_naming_the_draft(admin_client, make_contacts, make_campaign):
    make_contacts(1)
    campaign = make_campaign(name="Promoção da semana")

    response = admin_client.post("/admin/campaigns/campaign/", {"action": "repeat_on_schedule",
                                                                "_selected_action": [campaign.pk]}, follow=True)

    form = response.context["adminform"].form
    assert response.redirect_chain[-1][0].startswith("/admin/automations/chrono/add/?")
    assert (form.initial["target_type"], form.initial["name"]) == ("CAMPAIGN", "Promoção da semana")
    assert form.initial["extras"] == {"campaign": campaign.pk} and "campaign" not in form.initial
    assert f"&quot;campaign&quot;: {campaign.pk}" in response.content.decode()  # the Extras box, as JSON

    saved = admin_client.post("/admin/automations/chrono/add/", {**page_form_data(response), "schedule": "0 9 * * 1",
                                                                          "timezone": "America/Sao_Paulo"})
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    chrono = Chrono.objects.get(name="Promoção da semana")
    assert (chrono.target_type, chrono.extras, chrono.schedule) == ("CAMPAIGN", {"campaign": campaign.pk}, "0 9 * * 1")


def test_only_a_draft_can_be_repeated_on_a_schedule(admin_client, make_campaign):
    campaign = make_campaign(status="done")

    response = admin_client.post("/admin/campaigns/campaign/", {"action": "repeat_on_schedule",
                                                                "_selected_action": [campaign.pk]}, follow=True)

    assert response.redirect_chain[-1][0] == "/admin/campaigns/campaign/"
    assert "Only a draft can be repeated" in response.content.decode()
