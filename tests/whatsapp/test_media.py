"""Inbound media: fetched from our WAHA while the webhook is processed, stored, shown to staff,
handed to runs as a signed link (issue 13, item 21)."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.utils import timezone

from automations.models import ChronoRun, MessageTrigger
from tests.whatsapp.conftest import PUBLIC_URL
from whatsapp import media
from whatsapp.models import Message

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"  # bytes of every value: no text decoding


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def channel(make_channel, waha, media_root):
    waha.add_session("front", "WORKING")
    return make_channel()


@pytest.fixture
def receive(channel, post_event, celery_eager, django_capture_on_commit_callbacks):
    """Post a WAHA message event announcing media at ``url``; the stored Message."""

    def receive(url: str | None, mimetype: str = "image/jpeg", filename: str | None = "foto.jpg", **fields) -> Message:
        payload = {"id": "false_5511999999999@c.us_MEDIA1", "timestamp": 1767000000, "from": "5511999999999@c.us",
                   "fromMe": False, "source": "app", "to": "5511888888888@c.us", "participant": None,
                   "body": "olha", "hasMedia": True, "ack": 1, "ackName": "SERVER",
                   "media": {"url": url, "mimetype": mimetype, "filename": filename, "error": None}, **fields}
        with django_capture_on_commit_callbacks(execute=True):
            assert post_event(channel, "message", payload).status_code == 200
        return Message.objects.get(waha_message_id=payload["id"])

    return receive


@pytest.fixture
def any_message_chrono(channel, make_message_chrono):
    chrono = make_message_chrono(channel, name="Recebido", recipients=["{{ input.from }}"],
                                 message_template="Recebemos!")
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="regex", pattern=".")
    return chrono


def stored_bytes(message: Message) -> bytes:
    with message.media_file.open("rb") as f:
        return f.read()


# --- Download and storage ------------------------------------------------------------------------


def test_an_inbound_image_is_stored_with_the_bytes_waha_served(receive, waha, media_root):
    message = receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))

    assert stored_bytes(message) == JPEG
    assert message.media_file.name == f"whatsapp/media/{message.channel_id}/{message.pk}-foto.jpg"
    assert (media_root / message.media_file.name).is_file()
    assert (message.media["stored"], message.media["size"], message.media["download_error"]) == (True, len(JPEG), "")


def test_the_download_carries_the_api_key(receive, waha):
    receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))

    assert waha.calls("GET", "/api/files/front/ABC.jpeg") == [None]  # the fake answers 401 without the key
    assert Message.objects.get().media_file


def test_media_bigger_than_the_cap_is_not_stored_and_the_message_still_triggers(receive, waha, settings,
                                                                                any_message_chrono):
    settings.WHATSAPP_MEDIA_MAX_BYTES = 1024
    message = receive(waha.add_file("front", "BIG.jpeg", JPEG, "image/jpeg"))

    assert not message.media_file
    assert message.media["stored"] is False
    assert "larger than 1024 bytes" in message.media["download_error"]
    run = ChronoRun.objects.get(chrono=any_message_chrono)
    assert run.input["media"]["url"] is None
    assert "larger than 1024 bytes" in run.input["media"]["download_error"]


def test_an_expired_waha_file_records_the_error_and_keeps_the_message(receive, waha, any_message_chrono):
    message = receive("http://localhost:3000/api/files/front/GONE.jpeg")  # WAHA answers 404: lifetime passed

    assert message.text == "olha" and not message.media_file
    assert "answered 404" in message.media["download_error"]
    assert ChronoRun.objects.filter(chrono=any_message_chrono).count() == 1


def test_a_media_url_on_a_foreign_host_is_fetched_from_waha_base_url_only(receive, waha):
    waha.add_file("front", "X.jpeg", JPEG, "image/jpeg")
    message = receive("http://attacker.example:9999/api/files/front/X.jpeg")  # responses refuses other hosts

    assert stored_bytes(message) == JPEG
    assert waha.calls("GET", "/api/files/front/X.jpeg") == [None]


@pytest.mark.parametrize("url", ["http://localhost:3000/api/server/environment",
                                 "http://localhost:3000/api/files/../server/environment",
                                 "http://localhost:3000/api/files/%2e%2e/server/environment"])
def test_a_media_url_outside_waha_files_is_not_fetched(receive, waha, url):
    message = receive(url)

    assert not message.media_file
    assert "not a WAHA file" in message.media["download_error"]
    assert not [path for _, path, _ in waha.requests if "environment" in path]


def test_media_without_a_url_records_why(receive):
    message = receive(None)

    assert message.media["download_error"] == "WAHA gave no media URL."


def test_a_redelivered_message_does_not_download_its_file_again(receive, waha):
    url = waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg")
    receive(url)
    receive(url)  # a new envelope, the same WhatsApp message

    assert len(waha.calls("GET", "/api/files/front/ABC.jpeg")) == 1


def test_an_unsafe_filename_is_stored_under_a_safe_name(receive, waha):
    message = receive(waha.add_file("front", "E.bin", b"%PDF-1", "application/pdf"), mimetype="application/pdf",
                      filename="../../etc/pass wd.pdf")

    assert message.media_file.name.endswith(f"/{message.pk}-pass_wd.pdf")


def test_a_configured_whatsapp_media_storage_is_the_one_used(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "whatsapp_media": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "elsewhere")}}}

    assert media.media_storage().location == str(tmp_path / "elsewhere")


# --- Staff in the admin ----------------------------------------------------------------------------


def test_staff_see_the_stored_media_through_the_admin(receive, waha, admin_client):
    message = receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))

    page = admin_client.get(f"/admin/whatsapp/message/{message.pk}/change/")
    response = admin_client.get(f"/admin/whatsapp/message/{message.pk}/media/")

    assert f"/admin/whatsapp/message/{message.pk}/media/" in page.content.decode()
    assert response.status_code == 200
    assert (response["Content-Type"], b"".join(response.streaming_content)) == ("image/jpeg", JPEG)


def test_anonymous_visitors_are_sent_to_the_admin_login(receive, waha, client):
    message = receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))

    response = client.get(f"/admin/whatsapp/message/{message.pk}/media/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_file_that_could_run_script_is_served_as_a_sandboxed_download(receive, waha, admin_client):
    message = receive(waha.add_file("front", "P.html", b"<script>alert(1)</script>", "text/html"),
                      mimetype="text/html", filename="page.html")

    response = admin_client.get(f"/admin/whatsapp/message/{message.pk}/media/")

    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]


# --- Functions get a signed link ---------------------------------------------------------------------


def test_the_run_input_links_to_the_stored_file_and_the_link_serves_it(receive, waha, client, any_message_chrono):
    receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))
    shown = ChronoRun.objects.get(chrono=any_message_chrono).input["media"]

    response = client.get(urlsplit(shown["url"]).path)

    assert shown["url"].startswith(PUBLIC_URL + "/whatsapp/media/")
    assert (shown["mimetype"], shown["size"]) == ("image/jpeg", len(JPEG))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == JPEG


def test_a_tampered_media_link_is_refused(receive, waha, client):
    message = receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))
    path = urlsplit(message.media_for_input()["url"]).path

    response = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))

    assert response.status_code == 404
    assert response.json() == {"detail": "No such media link."}


def test_an_expired_media_link_is_refused(receive, waha, client, settings):
    message = receive(waha.add_file("front", "ABC.jpeg", JPEG, "image/jpeg"))
    path = urlsplit(message.media_for_input()["url"]).path

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.WHATSAPP_MEDIA_LINK_MAX_AGE_S + 5)):
        response = client.get(path)

    assert response.status_code == 403
    assert "expired" in response.json()["detail"]
