"""A MESSAGE chrono that carries an attachment: its checks (admin form, API), and the run that sends it."""

import base64

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from automations.models import Chrono
from automations.runs.execution import execute
from tests.automations.test_admin import ADD, page_form_data

CUSTOMER = "5511999999999@c.us"
PDF = b"%PDF-1.4 tabela de precos"


@pytest.fixture(autouse=True)
def media_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def channel(make_channel, waha):
    waha.add_session("front", status="WORKING")
    return make_channel(status="WORKING")


def run_once(run):
    execute(run.chrono_id, None, None, run.pk, run.attempt)
    run.refresh_from_db()
    return run


def test_the_run_sends_the_image_to_each_recipient_with_the_rendered_caption(channel, make_message_chrono, make_run,
                                                                             waha):
    chrono = make_message_chrono(channel, message_template="Olá {{ input.name }}, veja a promoção",
                                 attachment_kind="image", attachment_url="https://cdn.example.org/promo.jpg",
                                 recipients=["+55 11 99999-9999", "+55 21 98888-7777"])

    run = run_once(make_run(chrono, input={"name": "Ana"}))

    assert run.status == "success" and run.result["sent"] == 2
    assert [(m["route"], m["chatId"], m["caption"], m["file"]["url"]) for m in waha.media_sent] == [
        ("sendImage", CUSTOMER, "Olá Ana, veja a promoção", "https://cdn.example.org/promo.jpg"),
        ("sendImage", "5521988887777@c.us", "Olá Ana, veja a promoção", "https://cdn.example.org/promo.jpg")]
    assert waha.sent == []


def test_a_voice_note_goes_without_a_template(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, message_template="", attachment_kind="audio",
                                 attachment_url="https://cdn.example.org/recado.ogg",
                                 attachment_mimetype="audio/ogg; codecs=opus")

    assert run_once(make_run(chrono)).status == "success"
    assert [(m["route"], "caption" in m, m["convert"]) for m in waha.media_sent] == [("sendVoice", False, True)]


def test_a_rendered_caption_past_the_limit_fails_the_run_naming_the_template(channel, make_message_chrono, make_run,
                                                                             waha):
    chrono = make_message_chrono(channel, message_template="{{ input.text }}", attachment_kind="image",
                                 attachment_url="https://cdn.example.org/a.jpg")

    run = run_once(make_run(chrono, input={"text": "x" * 2000}))

    assert run.status == "failed" and "message_template" in run.error_message
    assert waha.media_sent == []


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"attachment_url": "https://x.org/a.jpg"}, "attachment_kind", "Choose the attachment's kind"),
    ({"attachment_kind": "image"}, "attachment_url", "one of the two"),
    ({"attachment_kind": "image", "attachment_url": "ftp://x.org/a.jpg"}, "attachment_url", "http"),
    ({"attachment_kind": "video", "attachment_url": "https://x.org/a.jpg"}, "attachment_mimetype", "video/"),
    ({"attachment_kind": "audio", "attachment_url": "https://x.org/a.ogg"}, "message_template", "no caption"),
])
def test_the_model_names_the_attachment_field_that_is_wrong(channel, fields, field, words):
    chrono = Chrono(name="Promo", schedule="0 8 * * *", target_type="MESSAGE", channel=channel,
                    message_template="Oi", recipients=["5511999999999"], **fields)

    with pytest.raises(ValidationError) as refused:
        chrono.full_clean()

    assert words in " ".join(refused.value.message_dict[field])


# --- admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def message_form(admin_client, channel) -> dict:
    data = page_form_data(admin_client.get(ADD))
    return {**data, "name": "Tabela", "schedule": "todo dia às 08:00", "timezone": "America/Sao_Paulo",
            "target_type": "MESSAGE", "channel": channel.pk, "message_template": "Nossa tabela",
            "recipients": "+55 11 99999-9999", "method": "POST"}  # one per line


def test_the_admin_uploads_a_document_that_the_run_sends_inline(admin_client, message_form, make_run, waha):
    upload = SimpleUploadedFile("tabela.pdf", PDF, content_type="application/pdf")

    response = admin_client.post(ADD, {**message_form, "attachment_kind": "document", "attachment_file": upload})

    assert response.status_code == 302, response.context["adminform"].form.errors
    chrono = Chrono.objects.get(name="Tabela")
    assert run_once(make_run(chrono)).status == "success"
    sent = waha.media_sent[0]
    assert (sent["route"], sent["file"]["filename"], sent["caption"]) == ("sendFile", "tabela.pdf", "Nossa tabela")
    assert base64.b64decode(sent["file"]["data"]) == PDF


def test_the_admin_shows_an_oversized_upload_on_the_file_field(admin_client, message_form, settings):
    settings.WHATSAPP_ATTACHMENT_MAX_BYTES = 1024
    upload = SimpleUploadedFile("grande.pdf", b"x" * 4096, content_type="application/pdf")

    response = admin_client.post(ADD, {**message_form, "attachment_kind": "document", "attachment_file": upload})

    assert response.status_code == 200
    assert "WHATSAPP_ATTACHMENT_MAX_BYTES" in response.context["adminform"].form.errors["attachment_file"][0]
    assert not Chrono.objects.filter(name="Tabela").exists()


def test_the_admin_shows_a_kind_without_a_file_on_the_url_field(admin_client, message_form):
    response = admin_client.post(ADD, {**message_form, "attachment_kind": "image"})

    assert "one of the two" in response.context["adminform"].form.errors["attachment_url"][0]


# --- API ----------------------------------------------------------------------------------------------------

BODY = {"name": "Promo", "schedule": "0 8 * * *", "target_type": "MESSAGE", "message_template": "Promoção",
        "recipients": ["+55 11 99999-9999"]}


def test_the_api_takes_an_attachment_by_url(api, channel):
    response = api.post("/api/chronos/", {**BODY, "channel": channel.pk, "attachmentKind": "video",
                                          "attachmentUrl": "https://cdn.example.org/v.mp4"}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["attachment_kind"], response.json()["attachment_url"]) == (
        "video", "https://cdn.example.org/v.mp4")


def test_the_api_answers_400_naming_the_attachment_field(api, channel):
    response = api.post("/api/chronos/", {**BODY, "channel": channel.pk, "attachment_kind": "image",
                                          "attachment_url": "https://cdn.example.org/tabela.pdf"}, format="json")

    assert response.status_code == 400
    assert "send other files as a document" in response.json()["attachment_mimetype"][0]


def test_the_api_takes_an_uploaded_file_as_multipart(api, channel):
    upload = SimpleUploadedFile("menu.jpg", b"\xff\xd8\xff", content_type="image/jpeg")

    response = api.post("/api/chronos/", {**BODY, "recipients": '["+55 11 99999-9999"]', "channel": channel.pk,
                                          "attachment_kind": "image", "attachment_file": upload}, format="multipart")

    assert response.status_code == 201, response.json()
    chrono = Chrono.objects.get(pk=response.json()["id"])
    assert chrono.attachment().check().type == "image/jpeg"
    assert response.json()["attachment_file"] == chrono.attachment_file.name  # a name, not a MEDIA_URL link


def test_the_change_page_names_the_stored_file_without_a_media_link(admin_client, message_form):
    upload = SimpleUploadedFile("tabela.pdf", PDF, content_type="application/pdf")
    admin_client.post(ADD, {**message_form, "attachment_kind": "document", "attachment_file": upload})
    chrono = Chrono.objects.get(name="Tabela")

    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()

    assert chrono.attachment_file.name in page and 'href="/media/' not in page
    assert 'name="attachment_file-clear"' in page


def test_clearing_the_file_in_the_change_form_removes_the_attachment_file(admin_client, message_form):
    upload = SimpleUploadedFile("tabela.pdf", PDF, content_type="application/pdf")
    admin_client.post(ADD, {**message_form, "attachment_kind": "document", "attachment_file": upload})
    chrono = Chrono.objects.get(name="Tabela")
    url = f"/admin/automations/chrono/{chrono.pk}/change/"
    data = page_form_data(admin_client.get(url))

    response = admin_client.post(url, {**data, "attachment_kind": "document",
                                       "attachment_url": "https://cdn.example.org/tabela.pdf",
                                       "attachment_file-clear": "on"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    chrono.refresh_from_db()
    assert not chrono.attachment_file and chrono.attachment_url.endswith("tabela.pdf")
