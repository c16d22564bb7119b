"""The cast of the event-trigger tests: a fake WAHA, a working channel, chronos of each target,
and helpers that post an integrator webhook or a WAHA message event the way the sender does."""

import json
import uuid

import pytest
import responses

from automations.events import hooks
from automations.models import Chrono, IntegratorHook, MessageTrigger
from functions.models import UserFunction
from tests.whatsapp.fake_waha import FakeWaha, install, webhook_headers
from whatsapp.models import Channel

from tests.whatsapp.conftest import PUBLIC_URL, WAHA_URL, waha_settings  # noqa: F401 (fixture)

CUSTOMER = "5511999999999@c.us"


@pytest.fixture
def waha(waha_settings):
    """A fake WAHA behind `responses` with the channel's session WORKING; fails on spec violations."""
    fake = FakeWaha()
    fake.add_session("front", "WORKING", me={"id": "5511888888888@c.us", "pushName": "Loja"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        install(fake, rsps, WAHA_URL)
        yield fake
    assert fake.violations == [], "requests WAHA's spec does not allow"


@pytest.fixture
def channel(db) -> Channel:
    return Channel.objects.create(name="Front desk", session_name="front", status=Channel.Status.WORKING,
                                  me={"id": "5511888888888@c.us", "pushName": "Loja"})


INTEGRATOR_URL = "http://integrator.test/hook"  # faked with responses where a test needs an answer


@pytest.fixture
def reply_chrono(make_chrono, channel, waha):
    """The keyword auto-reply: 'menu' on the channel answers whoever wrote (through the fake WAHA)."""
    chrono = make_chrono(name="Menu", target_type="MESSAGE", channel=channel, recipients=["{{ input.from }}"],
                         message_template="Olá! Nosso cardápio: 1) Pizza 2) Suco")
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="exact", pattern="menu")
    return chrono


@pytest.fixture
def function_chrono(make_chrono):
    function = UserFunction.objects.create(name="greet", code="def run(ctx):\n    return {'hello': ctx.input['name']}\n")
    return make_chrono(name="Greet", target_type="FUNCTION", function=function)


@pytest.fixture
def post_hook(client):
    """POST a body to a chrono's hook; `key` signs it, `raw` sends bytes as they are."""

    def post(hook: IntegratorHook, data=None, *, raw: bytes | None = None, key: str | None = None,
             query: str = "", **headers):
        body = raw if raw is not None else json.dumps(data if data is not None else {}).encode()
        if key:
            headers["HTTP_X_CHRONOFLOW_SIGNATURE"] = "sha256=" + hooks.sign(key, body)
        return client.post(f"/hooks/{hook.token}{query}", data=body, content_type="application/json", **headers)

    return post


def message_payload(text: str, sender: str = CUSTOMER, **extra) -> dict:
    """A WAHA `message` payload (README §7.7) from `sender` in a 1:1 chat."""
    return {"id": f"false_{sender}_{uuid.uuid4().hex[:20].upper()}", "timestamp": 1767261600, "from": sender,
            "fromMe": False, "source": "app", "to": "5511888888888@c.us", "participant": None, "body": text,
            "hasMedia": False, "ack": 1, "ackName": "SERVER", **extra}


@pytest.fixture
def post_message(client):
    """Post a signed WAHA `message` event to the channel's webhook; returns the payload posted."""

    def post(channel: Channel, text: str = "", *, payload: dict | None = None, **extra) -> dict:
        payload = payload or message_payload(text, **extra)
        body = json.dumps(FakeWaha().envelope(channel.session_name, "message", payload)).encode()
        headers = webhook_headers(body, channel.webhook_hmac_key)
        http_headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        response = client.post(f"/whatsapp/webhooks/{channel.webhook_token}", data=body,
                               content_type="application/json", **http_headers)
        assert response.status_code == 200, response.content
        return payload

    return post
