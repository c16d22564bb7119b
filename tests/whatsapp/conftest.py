"""The whatsapp app's cast: a fake WAHA (checked against WAHA's spec), channels, MESSAGE chronos."""

import json

import pytest
import responses

from automations.models import Chrono, ChronoRun
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, install, webhook_headers
from whatsapp.models import Channel

WAHA_URL = "http://waha.test:3000"
PUBLIC_URL = "http://chronoflow.test:8000"


@pytest.fixture
def waha_settings(settings):
    settings.WAHA_BASE_URL = WAHA_URL
    settings.WAHA_API_KEY = API_KEY
    settings.WAHA_WEBHOOK_HMAC_KEY = ""
    settings.PUBLIC_BASE_URL = PUBLIC_URL
    settings.WAHA_TIMEOUT_MS = 2000
    return settings


@pytest.fixture
def waha(waha_settings):
    """A fake WAHA behind `responses`; the test fails if any request broke WAHA's spec."""
    fake = FakeWaha()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        install(fake, rsps, WAHA_URL)
        yield fake
    assert fake.violations == [], "requests WAHA's spec does not allow"


@pytest.fixture
def make_channel(db):
    """A channel saved directly (no WAHA call); keyword arguments override the defaults."""

    def make(**fields) -> Channel:
        defaults = {"name": "Front desk", "session_name": "front", "status": Channel.Status.WORKING,
                    "me": {"id": "5511888888888@c.us", "pushName": "Loja"}}
        return Channel.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_message_chrono(db):
    def make(channel: Channel, **fields) -> Chrono:
        defaults = {"name": "Bom dia", "schedule": "0 8 * * *", "timezone": "America/Sao_Paulo",
                    "target_type": "MESSAGE", "channel": channel, "message_template": "Bom dia!",
                    "recipients": ["+55 (11) 99999-9999"]}
        return Chrono.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_run(db):
    def make(chrono: Chrono, **fields) -> ChronoRun:
        from django.utils import timezone

        return ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual", **fields)

    return make


@pytest.fixture
def post_event(client):
    """Post a WAHA event to a channel's webhook URL the way WAHA does (signed with `key`)."""

    def post(channel: Channel, event: str, payload: dict, key: str | None = None, envelope: dict | None = None,
             **extra):
        body = json.dumps(envelope or FakeWaha().envelope(channel.session_name, event, payload)).encode()
        headers = webhook_headers(body, key if key is not None else channel.webhook_hmac_key)
        http_headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        return client.post(f"/whatsapp/webhooks/{channel.webhook_token}", data=body,
                           content_type="application/json", **http_headers, **extra)

    return post
