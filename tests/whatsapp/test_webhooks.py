"""POST /whatsapp/webhooks/<token>: authenticated, stored once, processed after commit."""

import json

import pytest

from tests.whatsapp.fake_waha import FakeWaha, webhook_headers
from whatsapp import signals
from whatsapp.models import Channel, ChannelStatusChange, Message, WebhookEvent


@pytest.fixture
def channel(make_channel, waha_settings):
    return make_channel(status="STARTING", me=None)


def status_payload(status: str) -> dict:
    return {"name": "front", "status": status, "statuses": [], "data": None}


def inbound(**fields) -> dict:
    return {"id": "false_5511999999999@c.us_AAAA", "timestamp": 1767000000, "from": "5511999999999@c.us",
            "fromMe": False, "source": "app", "to": "5511888888888@c.us", "participant": None,
            "body": "Oi!", "hasMedia": False, "ack": 1, "ackName": "SERVER", **fields}


def nothing_stored() -> bool:
    return not (WebhookEvent.objects.exists() or Message.objects.exists() or ChannelStatusChange.objects.exists())


def raw_post(client, url: str, body: bytes, headers: dict):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return client.post(url, data=body, content_type="application/json", **meta)


# --- Accepted events ---------------------------------------------------------------------------


def test_a_signed_session_status_event_updates_the_channel_after_commit(channel, post_event, celery_eager,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(channel, "session.status", status_payload("SCAN_QR_CODE"))

    channel.refresh_from_db()
    assert response.status_code == 200
    assert channel.status == "SCAN_QR_CODE"
    assert channel.status_changes.get().source == "webhook"


def test_the_view_only_stores_the_event_and_queues_its_work(channel, post_event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_event(channel, "session.status", status_payload("WORKING"))

    channel.refresh_from_db()
    assert response.json() == {"ok": True, "duplicate": False}
    assert channel.status == "STARTING"  # nothing applied inside the request
    assert WebhookEvent.objects.get().processed_at is None
    assert len(callbacks) == 1


def test_the_account_in_the_envelope_is_kept_with_the_working_status(channel, post_event, celery_eager,
                                                                     django_capture_on_commit_callbacks):
    envelope = FakeWaha().envelope("front", "session.status", status_payload("WORKING"),
                                   me={"id": "5511888888888@c.us", "pushName": "Loja"})
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "session.status", {}, envelope=envelope)

    channel.refresh_from_db()
    assert channel.connected_as == "Loja (+5511888888888)"


def test_a_redelivered_event_is_stored_and_applied_once(channel, post_event, celery_eager,
                                                        django_capture_on_commit_callbacks):
    envelope = FakeWaha().envelope("front", "message", inbound())
    with django_capture_on_commit_callbacks(execute=True):
        first = post_event(channel, "message", {}, envelope=envelope)
        second = post_event(channel, "message", {}, envelope=envelope)

    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert WebhookEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_a_redelivery_of_an_event_not_yet_processed_queues_it_again(channel, post_event,
                                                                    django_capture_on_commit_callbacks):
    envelope = FakeWaha().envelope("front", "session.status", status_payload("WORKING"))
    with django_capture_on_commit_callbacks(execute=False) as first:
        post_event(channel, "session.status", {}, envelope=envelope)
    with django_capture_on_commit_callbacks(execute=False) as second:
        post_event(channel, "session.status", {}, envelope=envelope)

    assert (len(first), len(second)) == (1, 1)
    assert WebhookEvent.objects.count() == 1


def test_a_redelivery_of_a_processed_event_queues_nothing(channel, post_event, celery_eager,
                                                          django_capture_on_commit_callbacks):
    envelope = FakeWaha().envelope("front", "session.status", status_payload("WORKING"))
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "session.status", {}, envelope=envelope)
    with django_capture_on_commit_callbacks(execute=False) as again:
        post_event(channel, "session.status", {}, envelope=envelope)

    assert again == []
    assert channel.status_changes.count() == 1


def test_an_event_without_an_envelope_id_is_deduplicated_on_its_signed_body(channel, client):
    body = json.dumps({"event": "message", "session": "front", "payload": inbound()}).encode()
    url = f"/whatsapp/webhooks/{channel.webhook_token}"

    raw_post(client, url, body, {**webhook_headers(body, channel.hmac_key), "X-Webhook-Request-Id": "req-1"})
    # The request id is not signed: a replay under a fresh one is still the same event.
    again = raw_post(client, url, body, {**webhook_headers(body, channel.hmac_key), "X-Webhook-Request-Id": "req-2"})

    assert again.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().event_id.startswith("sha256:")


def test_an_inbound_message_is_stored_with_chat_sender_and_time(channel, post_event, celery_eager,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message", inbound())

    message = Message.objects.get()
    assert (message.direction, message.chat_id, message.sender, message.is_group) == (
        "in", "5511999999999@c.us", "5511999999999@c.us", False)
    assert (message.text, message.status, message.waha_message_id) == ("Oi!", "received", "false_5511999999999@c.us_AAAA")
    assert message.timestamp.timestamp() == 1767000000


def test_a_group_message_records_the_member_who_wrote_it_and_its_media(channel, post_event, celery_eager, waha,
                                                                       django_capture_on_commit_callbacks):
    payload = inbound(**{"from": "120363025246125486@g.us", "participant": "123456789@lid", "hasMedia": True,
                         "body": "look", "media": {"url": "http://waha/api/files/front/a.jpg",
                                                   "mimetype": "image/jpeg", "filename": None, "error": None}})
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message", payload)

    message = Message.objects.get()
    assert (message.chat_id, message.sender, message.is_group) == ("120363025246125486@g.us", "123456789@lid", True)
    assert message.media["mimetype"] == "image/jpeg"


def from_phone(**fields) -> dict:
    """A message typed on the business's own phone, as WEBJS reports it (we are ``from``)."""
    return inbound(**{"id": "true_5511999999999@c.us_3EB0PHONE", "from": "5511888888888@c.us",
                      "to": "5511999999999@c.us", "fromMe": True, "source": "app", "body": "Oi, aqui é a Carla.",
                      **fields})


def test_a_message_sent_from_the_phone_is_kept_as_outbound_with_no_run(channel, post_event, celery_eager,
                                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message.any", from_phone())

    message = Message.objects.get()
    assert (message.direction, message.chat_id, message.text, message.run) == (
        "out", "5511999999999@c.us", "Oi, aqui é a Carla.", None)
    assert (message.status, message.waha_message_id) == ("sent", "true_5511999999999@c.us_3EB0PHONE")


def test_a_message_from_the_phone_announces_operator_replied_once(channel, post_event, celery_eager,
                                                                   django_capture_on_commit_callbacks):
    heard = []
    signals.operator_replied.connect(receiver := lambda sender, message, **kw: heard.append(message.text))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post_event(channel, "message.any", from_phone())
            post_event(channel, "message", from_phone())  # an engine delivering it on both events
    finally:
        signals.operator_replied.disconnect(receiver)

    assert heard == ["Oi, aqui é a Carla."]


def test_a_message_chronoflow_sent_is_not_taken_for_an_operator_s(channel, post_event, celery_eager,
                                                                  django_capture_on_commit_callbacks):
    Message.objects.create(channel=channel, direction="out", chat_id="5511999999999@c.us", text="Lembrete",
                           status="sent", waha_message_id="3EB0OURS")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message.any", from_phone(id="true_5511999999999@c.us_3EB0OURS", body="Lembrete",
                                                      source=None))
        post_event(channel, "message.any", from_phone(id="true_5511999999999@c.us_3EB0API", source="api"))

    assert Message.objects.count() == 1


def test_message_any_s_copy_of_an_incoming_message_is_not_processed_again(channel, post_event, celery_eager,
                                                                           django_capture_on_commit_callbacks):
    stored = []
    signals.message_stored.connect(receiver := lambda sender, message, **kw: stored.append(message.pk))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post_event(channel, "message", inbound())
            post_event(channel, "message.any", inbound())
    finally:
        signals.message_stored.disconnect(receiver)

    assert len(stored) == 1 and Message.objects.count() == 1


@pytest.fixture
def outbound(channel):
    return Message.objects.create(channel=channel, direction="out", chat_id="5511999999999@c.us", text="Bom dia!",
                                  status="sent", waha_message_id="true_5511999999999@c.us_3EB0AAA")


def ack(ack: int, message_id: str = "true_5511999999999@c.us_3EB0AAA") -> dict:
    return {"id": message_id, "from": "5511999999999@c.us", "to": "5511888888888@c.us", "participant": None,
            "fromMe": True, "ack": ack, "ackName": {-1: "ERROR", 2: "DEVICE", 3: "READ", 1: "SERVER"}[ack]}


def test_an_ack_moves_an_outbound_message_to_delivered_then_read(outbound, post_event, celery_eager,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(2))
    outbound.refresh_from_db()
    assert outbound.status == "delivered"

    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(3))
    outbound.refresh_from_db()
    assert outbound.status == "read"


def test_a_late_ack_never_moves_a_message_backwards(outbound, post_event, celery_eager,
                                                    django_capture_on_commit_callbacks):
    outbound.mark("read")

    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(2))
        post_event(outbound.channel, "message.ack", ack(1))

    outbound.refresh_from_db()
    assert outbound.status == "read"


def test_an_ack_matches_a_message_whose_send_answered_only_the_bare_id(outbound, post_event, celery_eager,
                                                                       django_capture_on_commit_callbacks):
    Message.objects.filter(pk=outbound.pk).update(waha_message_id="3EB0AAA")

    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(2))

    outbound.refresh_from_db()
    assert outbound.status == "delivered"


def test_an_error_ack_marks_the_sent_message_failed(outbound, post_event, celery_eager,
                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(-1))

    outbound.refresh_from_db()
    assert outbound.status == "failed"
    assert "ERROR" in outbound.error


def test_an_error_ack_never_undoes_a_delivered_message(outbound, post_event, celery_eager,
                                                       django_capture_on_commit_callbacks):
    outbound.mark("delivered")

    with django_capture_on_commit_callbacks(execute=True):
        post_event(outbound.channel, "message.ack", ack(-1))

    outbound.refresh_from_db()
    assert outbound.status == "delivered"


def test_a_group_ack_moves_the_group_message_forward(channel, post_event, celery_eager,
                                                     django_capture_on_commit_callbacks):
    group = "120363025246125486@g.us"
    sent = Message.objects.create(channel=channel, direction="out", chat_id=group, is_group=True, status="sent",
                                  waha_message_id=f"true_{group}_3EB0GGG")
    # A member's ack names the member after the id: true_<group>_<id>_<participant>.
    payload = {**ack(2, f"true_{group}_3EB0GGG_5511977777777@c.us"), "from": group,
               "participant": "5511977777777@c.us"}

    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message.ack.group", payload)

    sent.refresh_from_db()
    assert sent.status == "delivered"
    assert WebhookEvent.objects.get(event="message.ack.group").error == ""


# --- Refused requests: 4xx, nothing stored ---------------------------------------------------------


def test_a_post_without_a_token_is_refused(channel, client):
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, "/whatsapp/webhooks/", body, webhook_headers(body, channel.hmac_key))

    assert response.status_code == 401
    assert nothing_stored()


def test_a_post_with_a_wrong_token_is_refused(channel, client):
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, "/whatsapp/webhooks/not-the-token", body, webhook_headers(body, channel.hmac_key))

    assert response.status_code == 401
    assert nothing_stored()


def test_a_post_signed_with_the_wrong_key_is_refused(channel, post_event):
    response = post_event(channel, "session.status", status_payload("WORKING"), key="wrong-key")

    channel.refresh_from_db()
    assert response.status_code == 401
    assert channel.status == "STARTING"
    assert nothing_stored()


def test_a_body_changed_after_signing_is_refused(channel, client):
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()
    headers = webhook_headers(body, channel.hmac_key)

    response = raw_post(client, f"/whatsapp/webhooks/{channel.webhook_token}", body.replace(b"WORKING", b"FAILED"),
                        headers)

    assert response.status_code == 401
    assert nothing_stored()


def test_an_unsigned_post_is_refused_when_a_deployment_hmac_key_is_set(channel, post_event, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = "deployment-key"

    response = post_event(channel, "session.status", status_payload("WORKING"), key="")

    assert response.status_code == 401
    assert nothing_stored()


def test_an_unsigned_post_with_the_right_token_is_refused_even_without_a_deployment_key(channel, post_event):
    response = post_event(channel, "session.status", status_payload("WORKING"), key="")

    channel.refresh_from_db()
    assert response.status_code == 401
    assert channel.status == "STARTING"
    assert nothing_stored()


def test_an_unsigned_message_with_the_right_token_starts_no_run(channel, post_event, make_message_chrono,
                                                                celery_eager, django_capture_on_commit_callbacks):
    chrono = make_message_chrono(channel)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(channel, "message", inbound(body="pedido"), key="")

    assert response.status_code == 401
    assert not chrono.runs.exists()
    assert nothing_stored()


def test_malformed_json_is_refused(channel, client):
    body = b'{"event": "session.status", '

    response = raw_post(client, f"/whatsapp/webhooks/{channel.webhook_token}", body,
                        webhook_headers(body, channel.hmac_key))

    assert response.status_code == 400
    assert nothing_stored()


def test_json_that_is_not_a_waha_event_is_refused(channel, client):
    body = b'["session.status"]'

    response = raw_post(client, f"/whatsapp/webhooks/{channel.webhook_token}", body,
                        webhook_headers(body, channel.hmac_key))

    assert response.status_code == 400
    assert nothing_stored()


def test_an_event_for_another_session_is_refused(channel, post_event):
    envelope = FakeWaha().envelope("someone-else", "session.status", status_payload("WORKING"))

    response = post_event(channel, "session.status", {}, envelope=envelope)

    assert response.status_code == 400
    assert nothing_stored()


def test_a_token_of_a_deleted_channel_is_refused(channel, post_event):
    Channel.objects.filter(pk=channel.pk).delete()

    response = post_event(channel, "session.status", status_payload("WORKING"))

    assert response.status_code == 401
    assert nothing_stored()


def test_a_get_is_not_allowed(channel, client):
    response = client.get(f"/whatsapp/webhooks/{channel.webhook_token}")

    assert response.status_code == 405


# --- The original system's route ---------------------------------------------------------------------


def test_the_compat_route_accepts_an_event_signed_with_the_deployment_key(channel, client, settings, celery_eager,
                                                                          django_capture_on_commit_callbacks):
    settings.WAHA_WEBHOOK_HMAC_KEY = "deployment-key"
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = raw_post(client, "/waha/webhooks/sessions/status", body, webhook_headers(body, "deployment-key"))

    channel.refresh_from_db()
    assert response.status_code == 200
    assert channel.status == "WORKING"


def test_the_compat_route_accepts_the_channel_token_in_the_query(channel, client):
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, f"/waha/webhooks/sessions/status?token={channel.webhook_token}", body,
                        webhook_headers(body, channel.hmac_key))

    assert response.status_code == 200


def test_the_compat_route_refuses_an_unsigned_event_even_with_the_channel_token(channel, client):
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, f"/waha/webhooks/sessions/status?token={channel.webhook_token}", body,
                        webhook_headers(body, None))

    assert response.status_code == 401
    assert nothing_stored()


def test_the_compat_route_refuses_an_event_with_neither_token_nor_valid_signature(channel, client, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = "deployment-key"
    body = json.dumps(FakeWaha().envelope("front", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, "/waha/webhooks/sessions/status", body, webhook_headers(body, "guess"))

    assert response.status_code == 401
    assert nothing_stored()


def test_the_compat_route_refuses_an_event_for_an_unknown_session(channel, client, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = "deployment-key"
    body = json.dumps(FakeWaha().envelope("nobody", "session.status", status_payload("WORKING"))).encode()

    response = raw_post(client, "/waha/webhooks/sessions/status", body, webhook_headers(body, "deployment-key"))

    assert response.status_code == 404
    assert nothing_stored()


# --- A send that never gets a delivery ack (issue 13, item 16) ---------------------------------

def test_a_sent_message_with_no_ack_for_an_hour_is_flagged_and_keeps_its_status(make_channel, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.WHATSAPP_ACK_TIMEOUT_S = 3600
    channel = make_channel()
    old = Message.objects.create(channel=channel, direction="out", chat_id="5511999999999@c.us", text="Oi",
                                 status="sent")
    fresh = Message.objects.create(channel=channel, direction="out", chat_id="5511988888888@c.us", text="Oi",
                                   status="sent")
    delivered = Message.objects.create(channel=channel, direction="out", chat_id="5511977777777@c.us", text="Oi",
                                       status="delivered")
    Message.objects.filter(pk__in=[old.pk, delivered.pk]).update(updated_at=timezone.now() - timedelta(hours=2))

    assert Message.flag_unacknowledged() == 1
    old.refresh_from_db(), fresh.refresh_from_db(), delivered.refresh_from_db()
    assert old.status == "sent" and "No delivery ack 60 min" in old.error and "9th digit" in old.error
    assert fresh.error == "" and delivered.error == ""
    assert Message.flag_unacknowledged() == 0  # noted once
