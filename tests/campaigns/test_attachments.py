"""A campaign carrying one attachment (issue 16 item 5): checked like a MESSAGE chrono's, sent to each
recipient with the matching WAHA call (the fake WAHA records media sends), the message its caption."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import sending
from campaigns.models import Campaign, CampaignRecipient

PDF = b"%PDF-1.4 tabela de precos"


@pytest.fixture
def media_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_campaign_with_an_image_url_sends_each_recipient_one_send_image_with_its_caption(
        waha, channel, make_contacts, make_campaign, celery_eager, django_capture_on_commit_callbacks, fast_outbox):
    make_contacts(3)
    campaign = make_campaign(message="Oi {{ contact.first_name }}, veja a promoção!", attachment_kind="image",
                             attachment_url="https://cdn.example.org/promo.jpg")
    with django_capture_on_commit_callbacks(execute=True):
        sending.start(campaign)

    assert sorted(s["route"] for s in waha.media_sent) == ["sendImage"] * 3
    assert {s["caption"] for s in waha.media_sent} == {"Oi Pessoa, veja a promoção!"}
    assert waha.media_sent[0]["file"]["url"] == "https://cdn.example.org/promo.jpg"
    assert waha.sent == []  # no separate text
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {"sent"}


def test_a_document_uploaded_through_the_api_reaches_waha_inline_with_send_file(
        api, waha, channel, make_contacts, celery_eager, django_capture_on_commit_callbacks, fast_outbox, media_dir):
    make_contacts(2, tag="atacado")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/campaigns/", {
            "name": "Tabela", "channel": channel.pk, "message": "Nossa tabela nova", "tags": ["atacado"],
            "attachment_kind": "document", "attachment_filename": "tabela.pdf", "start": "true",
            "attachment_file": SimpleUploadedFile("precos.pdf", PDF, content_type="application/pdf")},
            format="multipart")

    assert response.status_code == 201, response.json()
    assert response.json()["attachment_file"].endswith("/precos.pdf")
    assert len(waha.media_sent) == 2
    sent = waha.media_sent[0]
    assert (sent["route"], sent["caption"], sent["file"]["filename"], sent["file"]["mimetype"]) == (
        "sendFile", "Nossa tabela nova", "tabela.pdf", "application/pdf")
    assert base64.b64decode(sent["file"]["data"]) == PDF


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"attachment_kind": "image", "attachment_url": "https://x.org/relatorio.pdf"}, "attachment_mimetype",
     "as a document"),
    ({"attachment_kind": "image"}, "attachment_url", "one of the two"),
    ({"attachment_kind": "audio", "attachment_url": "https://x.org/a.ogg"}, "message", "no caption"),
    ({"attachment_kind": "sticker", "attachment_url": "https://x.org/a.webp"}, "attachment_kind", ""),
    ({"message": ""}, "message", "Write the message"),
])
def test_a_wrong_attachment_is_a_400_naming_the_field_and_nothing_is_saved(api, channel, body, field, words):
    response = api.post("/api/campaigns/", {"name": "X", "channel": channel.pk, "message": "Ouça!", **body},
                        format="json")

    assert response.status_code == 400
    assert field in response.json() and words in " ".join(response.json()[field])
    assert not Campaign.objects.exists()


def test_a_voice_note_campaign_has_no_text_and_goes_as_send_voice(
        waha, channel, make_contacts, make_campaign, celery_eager, django_capture_on_commit_callbacks, fast_outbox):
    make_contacts(1)
    campaign = make_campaign(message="", attachment_kind="audio", attachment_url="https://cdn.example.org/oi.ogg",
                             attachment_mimetype="audio/ogg; codecs=opus")
    campaign.full_clean()
    with django_capture_on_commit_callbacks(execute=True):
        sending.start(campaign)

    assert [s["route"] for s in waha.media_sent] == ["sendVoice"]
