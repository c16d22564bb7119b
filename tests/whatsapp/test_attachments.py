"""Outbound attachments (whatsapp/attachments.py): checks, WAHA's requests, the send door, the outbox."""

import base64
import json
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
import responses
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.whatsapp.conftest import WAHA_URL
from tests.whatsapp.fake_waha import API_KEY, spec_violation
from whatsapp import attachments, outbox
from whatsapp.attachments import Attachment, InvalidAttachment
from whatsapp.models import SendFailed
from whatsapp.waha import WahaClient, WahaError

CHAT = "5511911111111@c.us"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg"
PHOTO = Attachment("image", url="https://cdn.example.org/promo.jpg", caption="Promoção!")


@pytest.fixture
def media_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored(name: str, content: bytes) -> str:
    return attachments.storage().save(attachments.upload_to(None, name), ContentFile(content))


# --- checks ------------------------------------------------------------------------------------


def test_a_url_attachment_with_a_type_its_name_tells_passes():
    assert PHOTO.problems() == {}
    assert PHOTO.type == "image/jpeg" and PHOTO.name == "promo.jpg"


@pytest.mark.parametrize(("attachment", "field", "words"), [
    (Attachment("sticker", url="https://x.org/a.webp"), "kind", "image, document, audio or video"),
    (Attachment("image", url="ftp://x.org/a.jpg"), "url", "http://"),
    (Attachment("image"), "url", "one of the two"),
    (Attachment("image", url="https://x.org/a.jpg", file="a.jpg"), "url", "one of the two"),
    (Attachment("image", url="https://x.org/report.pdf"), "mimetype", "send other files as a document"),
    (Attachment("video", url="https://x.org/clip", mimetype="bogus"), "mimetype", "not a mimetype"),
    (Attachment("document", url="https://x.org/download"), "mimetype", "Give the file's mimetype"),
    (Attachment("image", url="https://x.org/a.jpg", caption="x" * 1025), "caption", "at most 1024"),
    (Attachment("audio", url="https://x.org/a.ogg", caption="ouça"), "caption", "no caption"),
])
def test_each_wrong_field_is_named(attachment, field, words):
    problems = attachment.problems()

    assert field in problems and words in problems[field]


def test_a_document_may_be_any_type():
    assert Attachment("document", url="https://x.org/price-list.xlsx").problems() == {}


def test_an_upload_over_the_size_limit_is_refused_on_the_file_field(settings, media_dir):
    settings.WHATSAPP_ATTACHMENT_MAX_BYTES = 1024
    name = stored("big.pdf", b"x" * 2048)

    with pytest.raises(InvalidAttachment) as refused:
        Attachment("document", file=name).check()

    assert "2048 bytes" in refused.value.problems["file"]


def test_a_stored_file_goes_to_waha_as_base64_with_its_name(media_dir):
    name = stored("menu.jpg", JPEG)

    file = Attachment("image", file=name).waha_file()

    assert file == {"mimetype": "image/jpeg", "filename": "menu.jpg", "data": base64.b64encode(JPEG).decode()}


# --- the WAHA client's requests (responses), each checked against the spec -----------------------


@pytest.mark.parametrize(("kind", "route", "mimetype"), [
    ("image", "sendImage", "image/jpeg"), ("document", "sendFile", "application/pdf"),
    ("audio", "sendVoice", "audio/ogg; codecs=opus"), ("video", "sendVideo", "video/mp4"),
])
def test_each_kind_makes_its_own_waha_call_that_the_spec_allows(kind, route, mimetype):
    attachment = Attachment(kind, url=f"https://x.org/file-{kind}", mimetype=mimetype,
                            caption="" if kind == "audio" else "Veja")
    with responses.RequestsMock() as rsps:
        rsps.post(f"{WAHA_URL}/api/{route}", json={"key": {"id": "3EB0AA"}}, status=201)
        attachment.send(WahaClient(WAHA_URL, API_KEY), "front", CHAT)
        request = rsps.calls[0].request

    body = json.loads(request.body)
    assert spec_violation(request) is None
    assert body["file"] == {"mimetype": mimetype, "filename": f"file-{kind}", "url": f"https://x.org/file-{kind}"}
    assert body.get("caption") == (None if kind == "audio" else "Veja")
    assert body.get("convert") == (True if kind in ("audio", "video") else None)


# --- the send door against the fake WAHA ------------------------------------------------------------


@pytest.fixture
def channel(make_channel, waha):
    waha.add_session("front", status="WORKING")
    return make_channel(status="WORKING")


def test_send_and_record_sends_the_image_with_the_caption_and_keeps_it_on_the_row(channel, waha):
    message = channel.send_and_record(CHAT, "Promoção de hoje", attachment=PHOTO)

    sent = waha.media_sent[0]
    assert (sent["route"], sent["chatId"], sent["caption"]) == ("sendImage", CHAT, "Promoção de hoje")
    assert (message.status, message.text, message.waha_message_id) == ("sent", "Promoção de hoje", sent["id"])
    assert message.attachment == {"kind": "image", "url": PHOTO.url, "file": "", "filename": "", "mimetype": ""}
    assert waha.sent == []  # no separate text


def test_without_text_the_attachment_s_own_caption_is_sent(channel, waha):
    channel.send_and_record(CHAT, "", attachment=PHOTO)

    assert waha.media_sent[0]["caption"] == "Promoção!"


def test_an_uploaded_document_reaches_waha_inline(channel, waha, media_dir):
    name = stored("boleto.pdf", b"%PDF-1.4 boleto")

    channel.send_and_record(CHAT, "Seu boleto", attachment=Attachment("document", file=name))

    file = waha.media_sent[0]["file"]
    assert (waha.media_sent[0]["route"], file["mimetype"], file["filename"]) == ("sendFile", "application/pdf",
                                                                                  "boleto.pdf")
    assert base64.b64decode(file["data"]) == b"%PDF-1.4 boleto"


def test_a_refused_media_send_is_failed_on_the_row(channel, waha):
    waha.fail("POST", "/api/sendImage", status=400, body={"message": "file too big"})

    with pytest.raises(SendFailed):
        channel.send_and_record(CHAT, "Oi", attachment=PHOTO)

    row = channel.messages.get()
    assert row.status == "failed" and "file too big" in row.error


def test_a_queued_attachment_goes_out_from_the_outbox_as_media(make_channel, waha):
    waha.add_session("front", status="WORKING")
    with time_machine.travel(datetime(2026, 3, 4, 15, 0, tzinfo=dt_timezone.utc), tick=False) as clock:
        channel = make_channel(send_profile="fast", send_limits={"window_start": ""})
        message = channel.send_and_record(CHAT, "Vídeo novo", attachment=Attachment("video", url="https://x.org/v.mp4"))
        assert message.status == "queued" and waha.media_sent == []
        for _ in range(20):
            wake = outbox.drain(channel, timezone.now())
            if wake is None:
                break
            clock.move_to(wake)

    message.refresh_from_db()
    assert message.status == "sent"
    assert [(m["route"], m["caption"]) for m in waha.media_sent] == [("sendVideo", "Vídeo novo")]


def test_the_dev_channel_sends_an_attachment_and_records_it(make_channel, caplog):
    channel = make_channel(provider="DEV", session_name="dev")

    message = channel.send_and_record(CHAT, "Cardápio", attachment=Attachment("document",
                                                                              url="https://x.org/cardapio.pdf"))

    assert message.status == "sent" and message.waha_message_id.startswith(f"true_{CHAT}_DEV")
    assert message.attachment["kind"] == "document"
    assert "would send file" in caplog.text


def test_the_fake_waha_refuses_a_file_whose_data_is_not_base64(channel, waha):
    client = channel.client()

    with pytest.raises(WahaError) as refused:
        client.send_image("front", CHAT, {"mimetype": "image/jpeg", "data": "not base64!"})

    assert refused.value.status == 400 and waha.media_sent == []
