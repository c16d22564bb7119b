"""Channels: creating one creates its WAHA session with the webhook configured; session actions."""

import pytest

from tests.whatsapp.conftest import PUBLIC_URL
from whatsapp.models import Channel, ChannelStatusChange


@pytest.fixture
def created(admin_client, waha):
    """POST /api/channels/ for session 'shop'; the response."""
    return admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop"}, content_type="application/json")


def test_creating_a_channel_through_the_api_creates_and_starts_the_waha_session(created, waha):
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "STARTING"
    assert waha.sessions["shop"]["status"] == "STARTING"


def test_the_new_session_posts_session_message_and_ack_events_for_contacts_and_groups_to_the_secret_url(created, waha):
    channel = Channel.objects.get(session_name="shop")
    [hook] = waha.sessions["shop"]["config"]["webhooks"]

    assert hook["url"] == f"{PUBLIC_URL}/whatsapp/webhooks/{channel.webhook_token}"
    assert hook["events"] == ["session.status", "message", "message.any", "message.ack", "message.ack.group"]


def test_the_new_session_signs_its_webhooks_with_the_channels_key_and_retries_explicitly(created, waha):
    channel = Channel.objects.get(session_name="shop")
    [hook] = waha.sessions["shop"]["config"]["webhooks"]

    assert hook["hmac"] == {"key": channel.hmac_key}
    assert hook["retries"] == {"policy": "exponential", "delaySeconds": 2, "attempts": 10}


def test_a_deployment_wide_hmac_key_is_used_when_set(admin_client, waha, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = "one-key-for-all"

    admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop"}, content_type="application/json")

    assert waha.sessions["shop"]["config"]["webhooks"][0]["hmac"] == {"key": "one-key-for-all"}


def test_the_api_never_shows_the_webhook_token_or_hmac_key(created):
    channel = Channel.objects.get(session_name="shop")

    assert channel.webhook_token not in created.content.decode()
    assert channel.hmac_key not in created.content.decode()


def test_a_new_channel_starts_its_status_history(created):
    channel = Channel.objects.get(session_name="shop")

    assert list(channel.status_changes.values_list("previous_status", "status", "source")) == [
        ("", "STARTING", "create")
    ]


def test_when_waha_refuses_the_api_answers_502_with_the_reason_and_saves_nothing(admin_client, waha):
    waha.fail("POST", "/api/sessions", status=500, body={"statusCode": 500, "message": "disk full"})

    response = admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop"},
                                 content_type="application/json")

    assert response.status_code == 502
    assert "disk full" in response.json()["detail"]
    assert not Channel.objects.exists()
    assert not ChannelStatusChange.objects.exists()


def test_a_bad_session_name_is_refused_naming_the_field_before_waha_is_called(admin_client, waha):
    response = admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop front"},
                                 content_type="application/json")

    assert response.status_code == 400
    assert "session_name" in response.json()
    assert waha.requests == []


def test_an_existing_waha_session_of_that_name_is_adopted_with_our_webhook(admin_client, waha):
    waha.add_session("shop", status="STOPPED", config={"webhooks": [{"url": "http://old", "events": ["message"]}]})

    response = admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop"},
                                 content_type="application/json")

    assert response.status_code == 201
    channel = Channel.objects.get(session_name="shop")
    assert waha.sessions["shop"]["config"]["webhooks"][0]["url"].endswith(channel.webhook_token)
    assert waha.sessions["shop"]["status"] == "STARTING"


def test_a_channel_created_with_start_false_stays_stopped_and_is_not_restarted(admin_client, waha):
    response = admin_client.post("/api/channels/", {"name": "Shop", "session_name": "shop", "start": False},
                                 content_type="application/json")

    assert response.json()["status"] == "STOPPED"
    assert response.json()["should_run"] is False


def test_the_session_name_cannot_be_changed_later(admin_client, make_channel, waha):
    channel = make_channel()

    response = admin_client.patch(f"/api/channels/{channel.pk}/", {"session_name": "other"},
                                  content_type="application/json")

    assert response.status_code == 400
    assert "session_name" in response.json()


def test_deleting_a_channel_deletes_its_waha_session(admin_client, make_channel, waha):
    channel = make_channel()
    waha.add_session("front")

    response = admin_client.delete(f"/api/channels/{channel.pk}/")

    assert response.status_code == 204
    assert "front" not in waha.sessions
    assert not Channel.objects.exists()


# --- Admin -----------------------------------------------------------------------------------


def test_adding_a_channel_in_the_admin_creates_the_waha_session(admin_client, waha):
    response = admin_client.post("/admin/whatsapp/channel/add/",
                                 {"name": "Shop", "session_name": "shop", "should_run": "on", "_save": "Save"})

    assert response.status_code == 302
    channel = Channel.objects.get(session_name="shop")
    assert channel.status == "STARTING"
    assert waha.sessions["shop"]["config"]["webhooks"][0]["url"].endswith(channel.webhook_token)
    assert channel.status_changes.count() == 1


def test_when_waha_refuses_the_admin_form_shows_the_reason_and_saves_nothing(admin_client, waha):
    waha.fail("POST", "/api/sessions", status=401, body={"message": "Unauthorized", "statusCode": 401})

    response = admin_client.post("/admin/whatsapp/channel/add/",
                                 {"name": "Shop", "session_name": "shop", "should_run": "on", "_save": "Save"})

    assert response.status_code == 200
    assert "WAHA did not create the session" in response.content.decode()
    assert "Unauthorized" in response.content.decode()
    assert not Channel.objects.exists()


def test_a_duplicate_session_name_in_the_admin_is_a_form_error_and_waha_is_not_touched(admin_client, make_channel, waha):
    make_channel(session_name="shop")

    response = admin_client.post("/admin/whatsapp/channel/add/",
                                 {"name": "Shop 2", "session_name": "shop", "should_run": "on", "_save": "Save"})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert waha.requests == []


def test_deleting_a_channel_in_the_admin_deletes_its_waha_session(admin_client, make_channel, waha):
    channel = make_channel()
    waha.add_session("front")

    admin_client.post(f"/admin/whatsapp/channel/{channel.pk}/delete/", {"post": "yes"})

    assert not Channel.objects.exists()
    assert "front" not in waha.sessions


def test_bulk_deleting_channels_in_the_admin_deletes_their_waha_sessions(admin_client, make_channel, waha):
    channels = [make_channel(session_name="a"), make_channel(session_name="b")]
    waha.add_session("a")
    waha.add_session("b")

    admin_client.post("/admin/whatsapp/channel/", {"action": "delete_selected", "post": "yes",
                                                  "_selected_action": [c.pk for c in channels]})

    assert not Channel.objects.exists()
    assert waha.sessions == {}


@pytest.mark.parametrize("action, waha_status, should_run", [
    ("stop_sessions", "STOPPED", False),
    ("start_sessions", "STARTING", True),
    ("restart_sessions", "STARTING", True),
    ("logout_sessions", "STARTING", True),
])
def test_admin_session_actions_reach_waha_and_record_the_new_status(admin_client, make_channel, waha, action,
                                                                    waha_status, should_run):
    channel = make_channel(status="WORKING")
    waha.add_session("front", status="WORKING")

    response = admin_client.post("/admin/whatsapp/channel/", {"action": action, "_selected_action": [channel.pk]},
                                 follow=True)

    channel.refresh_from_db()
    assert response.status_code == 200
    assert waha.sessions["front"]["status"] == waha_status
    assert (channel.status, channel.should_run) == (waha_status, should_run)
    assert channel.status_changes.first().source == "admin"


def test_logging_out_forgets_the_account(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING")
    waha.add_session("front", status="WORKING")

    admin_client.post("/admin/whatsapp/channel/", {"action": "logout_sessions", "_selected_action": [channel.pk]})

    channel.refresh_from_db()
    assert channel.me is None


def test_refreshing_the_status_takes_waha_s_status_and_account(admin_client, make_channel, waha):
    channel = make_channel(status="STARTING", me=None)
    waha.add_session("front", status="WORKING", me={"id": "5511777777777@c.us", "pushName": "Loja Centro"})

    admin_client.post("/admin/whatsapp/channel/", {"action": "refresh_statuses", "_selected_action": [channel.pk]})

    channel.refresh_from_db()
    assert channel.status == "WORKING"
    assert channel.connected_as == "Loja Centro (+5511777777777)"


def test_a_failing_admin_action_shows_waha_s_reason_and_keeps_it_on_the_channel(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING")

    response = admin_client.post("/admin/whatsapp/channel/", {"action": "start_sessions",
                                                             "_selected_action": [channel.pk]}, follow=True)

    channel.refresh_from_db()
    assert "not found" in response.content.decode()
    assert "404" in channel.last_error


def test_api_session_actions_answer_the_channel_with_its_new_status(admin_client, make_channel, waha):
    channel = make_channel(status="WORKING")
    waha.add_session("front", status="WORKING")

    response = admin_client.post(f"/api/channels/{channel.pk}/stop/")

    assert response.status_code == 200
    assert response.json()["status"] == "STOPPED"
    assert channel.status_changes.first().source == "api"


# --- Status history --------------------------------------------------------------------------


def test_a_status_change_is_kept_in_the_history(make_channel):
    channel = make_channel(status="STARTING")

    assert channel.set_status("SCAN_QR_CODE", source="webhook")

    change = channel.status_changes.get()
    assert (change.previous_status, change.status, change.source) == ("STARTING", "SCAN_QR_CODE", "webhook")


def test_the_same_status_again_is_not_a_change(make_channel):
    channel = make_channel(status="WORKING")

    assert not channel.set_status("WORKING")
    assert not channel.status_changes.exists()


def test_a_report_older_than_the_stored_change_is_ignored(make_channel):
    from datetime import timedelta

    from django.utils import timezone

    channel = make_channel(status="STARTING")
    now = timezone.now()
    channel.set_status("WORKING", at=now)

    assert not channel.set_status("SCAN_QR_CODE", at=now - timedelta(seconds=5))
    channel.refresh_from_db()
    assert channel.status == "WORKING"


def test_if_saving_fails_after_waha_created_the_session_the_session_is_deleted_again(waha, db, monkeypatch):
    def broken_save(*args, **kwargs):
        raise RuntimeError("database went away")

    channel = Channel(name="Shop", session_name="shop")
    monkeypatch.setattr(channel, "save", broken_save)

    with pytest.raises(RuntimeError):
        channel.provision()

    assert "shop" not in waha.sessions
    assert not Channel.objects.exists()


def test_the_channel_page_shows_its_status_history(admin_client, make_channel):
    channel = make_channel(status="STARTING")
    channel.set_status("SCAN_QR_CODE", source="webhook")

    page = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/change/").content.decode()

    assert "Status history" in page and "SCAN_QR_CODE" in page
    assert channel.webhook_token not in page and channel.hmac_key not in page


@pytest.mark.parametrize("model", ["channel", "message", "webhookevent", "monitoraction"])
def test_each_whatsapp_admin_list_opens(admin_client, make_channel, model):
    make_channel()

    assert admin_client.get(f"/admin/whatsapp/{model}/").status_code == 200


@pytest.mark.parametrize("status", ["STOPPED", "FAILED", "SCAN_QR_CODE"])
def test_the_api_shows_no_account_for_a_channel_that_is_not_working(admin_client, make_channel, status):
    channel = make_channel(status=status)  # `me` is still the account last logged in

    shown = admin_client.get(f"/api/channels/{channel.pk}/").json()

    assert shown["connected_as"] == ""


def test_the_api_shows_the_account_of_a_working_channel(admin_client, make_channel):
    channel = make_channel(status="WORKING")

    assert admin_client.get(f"/api/channels/{channel.pk}/").json()["connected_as"] == "Loja (+5511888888888)"
