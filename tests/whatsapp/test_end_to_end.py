"""Issue 3's acceptance, over real sockets: ChronoFlow's live server and a fake WAHA on 127.0.0.1.

create channel → session created with webhook config → WAHA posts SCAN_QR_CODE → the admin
QR page shows the image → WAHA posts WORKING → a MESSAGE chrono fires → WAHA receives
sendText with the right chatId and text → WAHA posts message.ack → the Message is delivered.
"""

import base64

import pytest

from automations.models import Chrono
from tests.whatsapp.fake_waha import API_KEY, QR_PNG, FakeWahaServer
from whatsapp.models import Channel, Message


@pytest.fixture
def waha_server(settings, live_server):
    with FakeWahaServer() as server:
        settings.WAHA_BASE_URL = server.url
        settings.WAHA_API_KEY = API_KEY
        settings.WAHA_WEBHOOK_HMAC_KEY = ""
        settings.PUBLIC_BASE_URL = live_server.url
        yield server
    assert server.fake.violations == [], "requests WAHA's spec does not allow"


@pytest.mark.django_db(transaction=True)
def test_a_channel_goes_from_creation_to_a_delivered_message(admin_client, waha_server, live_server, celery_eager):
    waha = waha_server.fake

    # Create the channel: WAHA gets the session with our webhook already configured.
    response = admin_client.post("/api/channels/", {"name": "Loja", "session_name": "loja"},
                                 content_type="application/json")
    assert response.status_code == 201, response.content
    channel = Channel.objects.get(session_name="loja")
    [hook] = waha.sessions["loja"]["config"]["webhooks"]
    assert hook["url"] == f"{live_server.url}/whatsapp/webhooks/{channel.webhook_token}"
    assert hook["events"] == ["session.status", "message", "message.any", "message.ack", "message.ack.group"]
    assert hook["hmac"]["key"] == channel.hmac_key

    # WAHA wants a scan: it says so through the webhook, signed; the admin page shows the QR.
    assert waha.set_status("loja", "SCAN_QR_CODE") == [200]
    channel.refresh_from_db()
    assert channel.status == "SCAN_QR_CODE"
    page = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/qr/").content.decode()
    assert f'src="data:image/png;base64,{base64.b64encode(QR_PNG).decode()}"' in page

    # The phone scanned: WORKING, and the page says who is connected.
    assert waha.set_status("loja", "WORKING", me={"id": "5511888888888@c.us", "pushName": "Loja"}) == [200]
    channel.refresh_from_db()
    assert channel.status == "WORKING"
    assert "Connected as" in admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/qr/").content.decode()

    # A MESSAGE chrono, posted in the original system's shape, fires.
    response = admin_client.post("/api/chronos/", {
        "name": "Bom dia", "cron": "todo dia as 08:00", "targetType": "MESSAGE", "channelId": channel.pk,
        "messageTemplate": "Bom dia, {{ input.name }}!", "recipients": ["+55 (11) 99999-9999"], "isActive": True,
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    run = Chrono.objects.get(pk=response.json()["id"]).trigger(input={"name": "Ana"})
    run.refresh_from_db()
    assert run.status == "success", run.error_message

    # WAHA received exactly that text for that chat.
    assert [(m["session"], m["chatId"], m["text"]) for m in waha.sent] == [
        ("loja", "5511999999999@c.us", "Bom dia, Ana!")
    ]
    message = Message.objects.get(run=run)
    assert message.status == "sent"

    # The phone got it: WAHA's ack makes the message delivered.
    ack = {"id": waha.sent[0]["id"], "from": "5511999999999@c.us", "to": "5511888888888@c.us", "participant": None,
           "fromMe": True, "ack": 2, "ackName": "DEVICE"}
    assert waha.emit("loja", "message.ack", ack) == [200]
    message.refresh_from_db()
    assert message.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_the_status_waha_posts_while_creating_the_session_finds_the_channel(admin_client, waha_server, celery_eager):
    waha = waha_server.fake
    waha.announce_start = True  # the first session.status arrives before WAHA answers the create call

    response = admin_client.post("/api/channels/", {"name": "Loja", "session_name": "loja"},
                                 content_type="application/json")

    assert response.status_code == 201, response.content
    assert waha.posted == [("session.status", 200)]
