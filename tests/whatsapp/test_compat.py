"""The original system's /waha/sessions routes, backed by channels."""

import pytest

from tests.whatsapp.fake_waha import QR_PNG
from whatsapp.models import Channel


def test_creating_a_session_creates_a_channel_and_its_waha_session_with_our_webhook(admin_client, waha):
    response = admin_client.post("/waha/sessions", {"name": "shop"}, content_type="application/json")

    assert response.status_code == 201
    channel = Channel.objects.get(session_name="shop")
    assert response.json()["name"] == "shop" and response.json()["id"] == channel.pk
    assert waha.sessions["shop"]["config"]["webhooks"][0]["url"].endswith(channel.webhook_token)


def test_a_bad_session_name_is_refused_under_the_name_the_caller_used(admin_client, waha):
    response = admin_client.post("/waha/sessions", {"name": "a b"}, content_type="application/json")

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Channel.objects.exists()


def test_listing_sessions_shows_each_channel_s_session(admin_client, make_channel):
    make_channel(session_name="a", name="A")
    make_channel(session_name="b", name="B", status="SCAN_QR_CODE")

    response = admin_client.get("/waha/sessions")

    assert [(s["name"], s["status"]) for s in response.json()] == [("a", "WORKING"), ("b", "SCAN_QR_CODE")]


def test_one_session_by_name(admin_client, make_channel):
    make_channel()

    assert admin_client.get("/waha/sessions/front").json()["displayName"] == "Front desk"
    assert admin_client.get("/waha/sessions/nope").status_code == 404


def test_putting_a_session_renames_it_and_pushes_our_config_to_waha_again(admin_client, make_channel, waha):
    channel = make_channel()
    waha.add_session("front", config={})

    response = admin_client.put("/waha/sessions/front", {"displayName": "Balcão"}, content_type="application/json")

    assert response.json()["displayName"] == "Balcão"
    assert waha.sessions["front"]["config"] == channel.session_config()


def test_deleting_a_session_deletes_the_channel(admin_client, make_channel, waha):
    make_channel()
    waha.add_session("front")

    response = admin_client.delete("/waha/sessions/front")

    assert response.status_code == 204
    assert not Channel.objects.exists() and "front" not in waha.sessions


@pytest.mark.parametrize("action, status", [("start", "STARTING"), ("stop", "STOPPED"), ("logout", "STARTING"),
                                            ("restart", "STARTING")])
def test_session_actions(admin_client, make_channel, waha, action, status):
    make_channel()
    waha.add_session("front")

    response = admin_client.post(f"/waha/sessions/front/{action}")

    assert response.status_code == 200
    assert response.json()["status"] == status == waha.sessions["front"]["status"]


def test_an_unknown_action_is_404(admin_client, make_channel, waha):
    make_channel()

    assert admin_client.post("/waha/sessions/front/explode").status_code == 404


def test_the_qr_route_gives_the_png(admin_client, make_channel, waha):
    make_channel(status="SCAN_QR_CODE")
    waha.add_session("front", status="SCAN_QR_CODE")

    response = admin_client.get("/waha/sessions/front/auth/qr")

    assert (response["Content-Type"], response.content) == ("image/png", QR_PNG)


def test_the_routes_need_authentication(client, make_channel):
    make_channel()

    assert client.get("/waha/sessions").status_code in (401, 403)
    assert client.post("/waha/sessions/front/stop").status_code in (401, 403)
