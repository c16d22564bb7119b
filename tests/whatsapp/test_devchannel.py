"""The development channel (WHATSAPP_PROVIDER=dev, the default without WAHA_BASE_URL): not
WhatsApp, talks to nothing, yet channels, MESSAGE chronos, message triggers and the
ready-made automations work end to end."""

import logging

import pytest
import responses
from django.core.management import CommandError, call_command

from automations.models import Event
from automations.runs.execution import execute
from tests.localserver import closed_port
from whatsapp.checks import waha_can_reach_us
from whatsapp.models import Channel, Message, WebhookEvent, current_provider
from whatsapp.waha import WahaClient, WahaError

CUSTOMER = "5521988887777@c.us"


@pytest.fixture
def dev(settings):
    """No WAHA_BASE_URL in the environment, and no HTTP at all: any request would fail the test."""
    settings.WAHA_BASE_URL, settings.WHATSAPP_PROVIDER = "", ""
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield settings


@pytest.fixture
def dev_channel(admin_client, dev) -> Channel:
    response = admin_client.post("/api/channels/", {"name": "Loja", "session_name": "loja"},
                                 content_type="application/json")
    assert response.status_code == 201, response.content
    return Channel.objects.get(session_name="loja")


def sent(channel: Channel) -> list[tuple[str, str, str]]:
    return list(channel.messages.filter(direction="out").values_list("chat_id", "text", "status"))


# --- Which provider ---------------------------------------------------------------------------


def test_without_waha_base_url_the_provider_is_the_development_channel(dev):
    assert current_provider() == Channel.Provider.DEV


def test_the_provider_is_waha_whenever_waha_base_url_is_set(settings):
    settings.WAHA_BASE_URL, settings.WHATSAPP_PROVIDER = "http://waha:3000", ""
    assert current_provider() == Channel.Provider.WAHA


def test_whatsapp_provider_dev_is_honoured_even_with_waha_base_url_set(settings):
    settings.WAHA_BASE_URL, settings.WHATSAPP_PROVIDER = "http://waha:3000", "dev"
    assert current_provider() == Channel.Provider.DEV


def test_the_webhook_address_check_is_silent_for_the_development_channel(dev):
    dev.PUBLIC_BASE_URL = "http://localhost:8000"
    assert waha_can_reach_us(None) == []


# --- Channels -----------------------------------------------------------------------------


def test_a_development_channel_is_created_without_any_server_and_works_at_once(dev_channel):
    assert (dev_channel.provider, dev_channel.status, dev_channel.should_run) == ("DEV", "WORKING", True)


def test_the_api_labels_a_development_channel_as_not_whatsapp(admin_client, dev_channel):
    body = admin_client.get(f"/api/channels/{dev_channel.pk}/").json()
    assert (body["provider"], body["provider_label"]) == ("DEV", "Development — not WhatsApp")


def test_the_admin_add_form_says_the_channel_will_not_be_whatsapp(admin_client, dev):
    page = admin_client.get("/admin/whatsapp/channel/add/").content.decode()
    assert "development channel — not WhatsApp" in page and "WAHA_BASE_URL" in page


def test_the_admin_add_form_creates_a_development_channel(admin_client, dev):
    response = admin_client.post("/admin/whatsapp/channel/add/",
                                 {"name": "Loja", "session_name": "loja", "should_run": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Channel.objects.get(session_name="loja").provider == Channel.Provider.DEV


def test_the_channel_list_shows_the_development_badge(admin_client, dev_channel):
    page = admin_client.get("/admin/whatsapp/channel/").content.decode()
    assert "cf-dev-badge" in page and "Development channel — not WhatsApp" in page


def test_a_logged_out_development_channel_shows_a_fake_qr_labelled_as_not_whatsapp(admin_client, dev_channel):
    dev_channel.logout()
    page = admin_client.get(f"/admin/whatsapp/channel/{dev_channel.pk}/qr/").content.decode()
    assert dev_channel.status == "SCAN_QR_CODE"
    assert "data:image/png;base64," in page and "Development channel — not WhatsApp: a fake QR." in page


def test_starting_a_logged_out_development_channel_is_its_scan(dev_channel):
    dev_channel.logout()
    dev_channel.start()
    assert dev_channel.status == "WORKING"


def test_the_monitor_finds_nothing_to_repair_on_a_development_channel(dev_channel):
    from whatsapp.monitor import check_sessions

    assert check_sessions() == []


# --- Sending ------------------------------------------------------------------------------


def test_a_message_chrono_run_records_the_message_as_sent(dev_channel, make_message_chrono, make_run):
    run = make_run(make_message_chrono(dev_channel, message_template="Bom dia!", recipients=["+55 21 98888-7777"]))
    execute(run.chrono_id, None, None, run.pk, run.attempt)
    run.refresh_from_db()
    assert run.status == "success", run.error_message
    assert sent(dev_channel) == [(CUSTOMER, "Bom dia!", "sent")]


def test_a_send_is_written_to_the_log_as_not_whatsapp(dev_channel, caplog):
    with caplog.at_level(logging.INFO, logger="whatsapp.devclient"):
        dev_channel.send_and_record(CUSTOMER, "Olá!")
    assert "not WhatsApp" in caplog.text and CUSTOMER in caplog.text and "Olá!" in caplog.text


# --- Simulated inbound messages -------------------------------------------------------------


@pytest.fixture
def keyword_reply(dev_channel):
    call_command("install_template", "keyword-auto-reply", channel="loja", keyword="menu", reply="Nosso cardápio: pizza",
                 stdout=open("/dev/null", "w"))


def test_a_simulated_menu_from_the_admin_gets_the_keyword_auto_reply_recorded_as_sent(
        admin_client, dev_channel, keyword_reply, celery_eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/whatsapp/channel/{dev_channel.pk}/simulate/",
                                     {"sender": "+55 21 98888-7777", "text": "menu"})
    assert response.status_code == 302
    assert sent(dev_channel) == [(CUSTOMER, "Nosso cardápio: pizza", "sent")]


def test_a_simulated_message_goes_through_the_webhook_event_and_the_event_log(
        admin_client, dev_channel, keyword_reply, celery_eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/whatsapp/channel/{dev_channel.pk}/simulate/",
                          {"sender": "+55 21 98888-7777", "text": "menu"})
    [event] = WebhookEvent.objects.filter(channel=dev_channel, event="message")
    assert event.processed_at is not None and event.payload["simulated"] is True
    assert Event.objects.get(source="message").outcome == "triggered"


def test_the_simulate_page_lists_the_reply(admin_client, dev_channel, keyword_reply, celery_eager,
                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/whatsapp/channel/{dev_channel.pk}/simulate/", {"sender": "+5521988887777", "text": "menu"})
    page = admin_client.get(f"/admin/whatsapp/channel/{dev_channel.pk}/simulate/").content.decode()
    assert "Nosso cardápio: pizza" in page and "Sent" in page


def test_a_bad_sender_is_a_form_error_naming_the_field(admin_client, dev_channel):
    response = admin_client.post(f"/admin/whatsapp/channel/{dev_channel.pk}/simulate/", {"sender": "abc", "text": "menu"})
    assert response.status_code == 200
    assert "sender" in response.context["form"].errors
    assert not WebhookEvent.objects.exists()


def test_simulating_on_a_waha_channel_is_not_offered(admin_client, make_channel):
    channel = make_channel()  # a WAHA channel
    assert admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/simulate/").status_code == 404


def test_manage_py_simulate_message_gets_the_reply_recorded_as_sent(dev_channel, keyword_reply, celery_eager,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("simulate_message", "loja", "+55 21 98888-7777", "menu", stdout=open("/dev/null", "w"))
    assert sent(dev_channel) == [(CUSTOMER, "Nosso cardápio: pizza", "sent")]


def test_manage_py_simulate_message_refuses_a_waha_channel(make_channel):
    make_channel(session_name="front")
    with pytest.raises(CommandError, match="development channel"):
        call_command("simulate_message", "front", "+55 21 98888-7777", "menu")


# --- WAHA errors name WAHA_BASE_URL ---------------------------------------------------------


def test_a_refused_connection_names_waha_base_url(settings):
    settings.HTTP_MAX_RETRIES = 0
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(WahaError) as error:
        WahaClient(url, "key", timeout=2).create_session("shop", {})
    assert str(error.value).startswith(f"Could not reach WAHA at {url} (WAHA_BASE_URL): Connection refused")


def test_a_waha_channel_that_cannot_reach_waha_is_refused_naming_waha_base_url(admin_client, settings):
    settings.HTTP_MAX_RETRIES = 0
    settings.WAHA_BASE_URL, settings.WHATSAPP_PROVIDER = f"http://127.0.0.1:{closed_port()}", ""
    response = admin_client.post("/api/channels/", {"name": "Loja", "session_name": "loja"},
                                 content_type="application/json")
    assert response.status_code >= 400 and "WAHA_BASE_URL" in response.content.decode()
    assert not Message.objects.exists() and not Channel.objects.exists()


def test_the_health_check_says_a_channel_is_a_development_channel(client, dev_channel):
    [channel] = client.get("/health/whatsapp").json()["checks"]["whatsapp"]["channels"]
    assert channel["provider"] == "DEV"
