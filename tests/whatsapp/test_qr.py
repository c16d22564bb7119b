"""Logging a channel in: the admin QR page, its polled state, pairing codes, and the API's QR."""

import base64

import pytest

from tests.whatsapp.fake_waha import QR_PNG

QR_DATA_URI = "data:image/png;base64," + base64.b64encode(QR_PNG).decode()


@pytest.fixture
def scanning(make_channel, waha):
    waha.add_session("front", status="SCAN_QR_CODE")
    return make_channel(status="SCAN_QR_CODE", me=None)


def test_the_admin_qr_page_shows_the_qr_while_the_session_waits_for_a_scan(admin_client, scanning):
    response = admin_client.get(f"/admin/whatsapp/channel/{scanning.pk}/qr/")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'src="{QR_DATA_URI}"' in page
    assert "Waiting for QR scan" in page


def test_the_qr_page_polls_its_state_to_follow_rotating_codes(admin_client, scanning):
    page = admin_client.get(f"/admin/whatsapp/channel/{scanning.pk}/qr/").content.decode()

    assert f"/admin/whatsapp/channel/{scanning.pk}/qr/state/" in page
    assert "setTimeout(poll" in page
    assert 'http-equiv="refresh"' in page  # without JavaScript, the page reloads itself


def test_the_polled_state_carries_the_current_qr(admin_client, scanning):
    state = admin_client.get(f"/admin/whatsapp/channel/{scanning.pk}/qr/state/").json()

    assert (state["status"], state["qr"], state["connected_as"]) == ("SCAN_QR_CODE", QR_DATA_URI, "")


def test_once_working_the_page_says_who_is_connected_and_shows_no_qr(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING", me={"id": "5511888888888@c.us", "pushName": "Loja"})

    page = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/qr/").content.decode()

    assert "Connected as" in page and "Loja (+5511888888888)" in page
    assert "data:image/png" not in page
    assert waha.requests == []


def test_a_working_channel_without_account_info_asks_waha_who_it_is(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING", me=None)
    waha.add_session("front", status="WORKING", me={"id": "5511777777777@c.us", "pushName": "Loja Centro"})

    state = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/qr/state/").json()

    assert state["connected_as"] == "Loja Centro (+5511777777777)"


def test_a_qr_waha_will_not_give_shows_waha_s_reason(admin_client, make_channel, waha):
    channel = make_channel(status="SCAN_QR_CODE", me=None)
    waha.add_session("front", status="WORKING")  # our status is behind WAHA's

    state = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/qr/state/").json()

    assert state["qr"] is None
    assert "expected SCAN_QR_CODE" in state["error"]


def test_the_pairing_code_form_shows_the_code_to_type(admin_client, scanning, waha):
    response = admin_client.post(f"/admin/whatsapp/channel/{scanning.pk}/qr/", {"phone_number": "+55 11 99999-9999"})

    assert "ABCD-EFGH" in response.content.decode()
    assert waha.calls("POST", "/api/front/auth/request-code") == [{"phoneNumber": "5511999999999"}]


def test_the_pairing_code_form_refuses_a_number_without_country_code(admin_client, scanning, waha):
    response = admin_client.post(f"/admin/whatsapp/channel/{scanning.pk}/qr/", {"phone_number": "9999"})

    assert "country code" in response.content.decode()
    assert waha.calls("POST", "/api/front/auth/request-code") == []


def test_the_qr_page_needs_an_admin_login(client, scanning):
    response = client.get(f"/admin/whatsapp/channel/{scanning.pk}/qr/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_channel_list_links_each_channel_to_its_qr_page(admin_client, scanning):
    page = admin_client.get("/admin/whatsapp/channel/").content.decode()

    assert f"/admin/whatsapp/channel/{scanning.pk}/qr/" in page


# --- API ---------------------------------------------------------------------------------------


def test_the_api_gives_the_qr_as_png(admin_client, scanning):
    response = admin_client.get(f"/api/channels/{scanning.pk}/qr/", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == QR_PNG


def test_the_api_gives_png_by_default(admin_client, scanning):
    response = admin_client.get(f"/api/channels/{scanning.pk}/qr/")

    assert response["Content-Type"] == "image/png"


def test_the_api_gives_the_qr_as_json_when_asked(admin_client, scanning):
    response = admin_client.get(f"/api/channels/{scanning.pk}/qr/", HTTP_ACCEPT="application/json")

    assert response.json() == {"mimetype": "image/png", "data": base64.b64encode(QR_PNG).decode(),
                               "status": "SCAN_QR_CODE"}


def test_the_api_answers_409_in_json_when_there_is_no_qr_to_scan(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING")

    response = admin_client.get(f"/api/channels/{channel.pk}/qr/", HTTP_ACCEPT="image/png")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert "no QR to scan" in response.json()["detail"]


def test_the_api_gives_a_pairing_code(admin_client, scanning):
    response = admin_client.post(f"/api/channels/{scanning.pk}/pairing-code/", {"phone_number": "+55 11 99999-9999"},
                                 content_type="application/json")

    assert response.json() == {"code": "ABCD-EFGH"}


def test_the_api_refuses_a_pairing_code_for_a_bad_number_naming_the_field(admin_client, scanning):
    response = admin_client.post(f"/api/channels/{scanning.pk}/pairing-code/", {"phone_number": "abc"},
                                 content_type="application/json")

    assert response.status_code == 400
    assert "phone_number" in response.json()
