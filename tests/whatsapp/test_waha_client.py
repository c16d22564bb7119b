"""whatsapp/waha.py against the fake WAHA, which checks every request against WAHA's spec."""

from pathlib import Path

import pytest
import requests

from tests.whatsapp.conftest import WAHA_URL
from tests.whatsapp.fake_waha import API_KEY, QR_PNG, SPEC_PATH, FakeWaha, spec_violation
from whatsapp.waha import WahaClient, WahaError

WEBHOOK = {"url": "http://chronoflow.test:8000/whatsapp/webhooks/t", "events": ["session.status", "message"],
           "hmac": {"key": "k"}, "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10}}
IMAGE = {"mimetype": "image/jpeg", "url": "https://example.org/a.jpg", "filename": "a.jpg"}
VOICE = {"mimetype": "audio/ogg; codecs=opus", "url": "https://example.org/a.opus"}


@pytest.fixture
def client(waha):
    return WahaClient(WAHA_URL, API_KEY, timeout=2)


def test_every_endpoint_sends_a_request_the_spec_allows_with_the_api_key(client, waha):
    client.server_version()
    client.create_session("shop", {"webhooks": [WEBHOOK]}, start=False)
    client.update_session("shop", {"webhooks": [WEBHOOK]})
    client.start_session("shop")
    client.get_session("shop")
    client.list_sessions(all=True)
    client.get_me("shop")
    waha.sessions["shop"]["status"] = "SCAN_QR_CODE"
    client.get_qr_image("shop")
    client.get_qr_value("shop")
    client.request_code("shop", "5511999999999")
    waha.sessions["shop"]["status"] = "WORKING"
    client.send_text("shop", "5511999999999@c.us", "hi")
    client.send_image("shop", "5511999999999@c.us", IMAGE, caption="look")
    client.send_file("shop", "5511999999999@c.us", IMAGE)
    client.send_voice("shop", "5511999999999@c.us", VOICE)
    client.send_video("shop", "5511999999999@c.us", {"mimetype": "video/mp4", "url": "https://example.org/v.mp4",
                                                     "filename": "v.mp4"})
    client.check_exists("shop", "5511999999999")
    client.restart_session("shop")
    client.stop_session("shop")
    client.logout_session("shop")
    client.delete_session("shop")

    routes = {(method, path) for method, path, _ in waha.requests}
    assert len(routes) == 19  # every endpoint the client has (the QR one twice: image and raw)
    assert waha.violations == []


def test_the_spec_check_refuses_a_send_without_chat_id_and_a_call_without_api_key():
    no_chat = requests.Request("POST", f"{WAHA_URL}/api/sendText", headers={"X-Api-Key": "k"},
                               json={"session": "shop", "text": "hi"}).prepare()
    no_key = requests.Request("POST", f"{WAHA_URL}/api/sessions", json={"name": "shop"}).prepare()

    assert "chatId" in spec_violation(no_chat)
    assert "Security" in spec_violation(no_key)


def test_the_fake_records_a_violation_for_a_keyless_call_even_where_the_spec_admits_oauth2():
    fake = FakeWaha()

    answer = fake.handle(requests.Request("GET", f"{WAHA_URL}/api/sessions").prepare())

    assert answer.status == 400
    assert "no X-Api-Key" in fake.violations[0]


def test_the_qr_comes_back_as_png_bytes(client, waha):
    waha.add_session("shop", status="SCAN_QR_CODE")

    assert client.get_qr_image("shop") == QR_PNG


def test_a_pairing_code_is_returned(client, waha):
    waha.add_session("shop", status="SCAN_QR_CODE")

    assert client.request_code("shop", "5511999999999") == {"code": "ABCD-EFGH"}


def test_a_wrong_api_key_is_a_permanent_401(waha):
    with pytest.raises(WahaError) as error:
        WahaClient(WAHA_URL, "wrong", timeout=2).list_sessions()

    assert (error.value.status, error.value.permanent) == (401, True)


def test_an_unknown_session_is_a_permanent_404(client):
    with pytest.raises(WahaError) as error:
        client.start_session("nope")

    assert (error.value.status, error.value.permanent) == (404, True)


def test_a_session_in_the_wrong_status_is_a_permanent_422_naming_the_statuses(client, waha):
    waha.add_session("shop", status="STARTING")

    with pytest.raises(WahaError) as error:
        client.send_text("shop", "5511999999999@c.us", "hi")

    assert (error.value.status, error.value.permanent) == (422, True)
    assert "session is STARTING, expected WORKING" in str(error.value)


def test_a_server_error_can_be_retried(client, waha):
    waha.fail("GET", "/api/sessions", status=503)

    with pytest.raises(WahaError) as error:
        client.list_sessions()

    assert (error.value.status, error.value.permanent, error.value.delivery_unknown) == (503, False, False)


def test_an_unexpected_waha_error_shows_waha_s_exception_message(client, waha):
    waha.add_session("shop")
    # WAHA's shape for an unexpected error (WhatsApp's 463 on a send arrives like this).
    waha.fail("POST", "/api/sendText", status=500, body={
        "statusCode": 500, "timestamp": "2026-12-01T11:00:00.000Z",
        "exception": {"message": "Failed to send message: 463", "name": "Error", "stack": "Error: at send (x.js:1)"},
        "request": {"path": "/api/sendText", "method": "POST", "body": {"text": "hi"}},
        "version": {"version": "2026.7.1", "engine": "NOWEB"}})

    with pytest.raises(WahaError) as error:
        client.send_text("shop", "5511999999999@c.us", "hi")

    assert str(error.value) == "WAHA POST /api/sendText answered 500: Failed to send message: 463"


def test_a_timeout_can_be_retried_but_may_have_been_carried_out(client, waha):
    waha.add_session("shop")
    waha.fail("POST", "/api/sendText", exception=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(WahaError) as error:
        client.send_text("shop", "5511999999999@c.us", "hi")

    assert (error.value.status, error.value.permanent, error.value.delivery_unknown) == (None, False, True)


def test_a_refused_connection_can_be_retried_and_was_never_carried_out(settings):
    from tests.localserver import closed_port

    settings.HTTP_MAX_RETRIES = 0
    client = WahaClient(f"http://127.0.0.1:{closed_port()}", API_KEY, timeout=2)

    with pytest.raises(WahaError) as error:
        client.send_text("shop", "5511999999999@c.us", "hi")

    assert (error.value.permanent, error.value.delivery_unknown) == (False, False)


def test_errors_never_carry_the_api_key(waha):
    with pytest.raises(WahaError) as error:
        WahaClient(WAHA_URL, "secret-key-123", timeout=2).list_sessions()

    assert "secret-key-123" not in str(error.value)


def test_the_spec_lives_in_the_repository_and_admits_a_voice_note_with_a_string_mimetype():
    repo = Path(__file__).resolve().parents[2]
    voice = requests.Request("POST", f"{WAHA_URL}/api/sendVoice", headers={"X-Api-Key": "k"}, json={
        "session": "shop", "chatId": "5511999999999@c.us",
        "file": {"mimetype": "audio/ogg; codecs=opus", "url": "https://example.org/v.ogg"}, "convert": False}).prepare()

    assert SPEC_PATH.resolve().is_relative_to(repo)
    assert spec_violation(voice) is None
