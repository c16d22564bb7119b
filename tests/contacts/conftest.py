"""The contacts tests' cast: a fake WAHA with a working session, its channel, and inbound messages
posted as WAHA posts them (signed webhooks, processed by the eager worker)."""

import pytest
import responses

from tests.events.conftest import message_payload, post_message  # noqa: F401 (fixture)
from tests.whatsapp.conftest import WAHA_URL, waha_settings  # noqa: F401 (fixture)
from tests.whatsapp.fake_waha import FakeWaha, install
from whatsapp.models import Channel

CUSTOMER = "5511988887777@c.us"


@pytest.fixture
def waha(waha_settings):
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


@pytest.fixture
def inbound(post_message, channel, waha, celery_eager, django_capture_on_commit_callbacks):
    """Post one inbound message to the channel and let the worker process it; returns the payload."""

    def post(text: str, sender: str = CUSTOMER, payload: dict | None = None) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return post_message(channel, text, payload=payload, sender=sender)

    return post
