"""The contacts tests' cast: a fake WAHA with a working session, its channel, and inbound messages
posted as WAHA posts them (signed webhooks, processed by the eager worker)."""

import pytest

# The events tests' fake WAHA (spec-checked) and its WORKING channel, shared rather than copied.
from tests.events.conftest import channel, post_message, waha  # noqa: F401 (fixtures)
from tests.whatsapp.conftest import waha_settings  # noqa: F401 (fixture)

CUSTOMER = "5511988887777@c.us"


@pytest.fixture
def inbound(post_message, channel, waha, celery_eager, django_capture_on_commit_callbacks):
    """Post one inbound message to the channel and let the worker process it; returns the payload."""

    def post(text: str, sender: str = CUSTOMER, payload: dict | None = None) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return post_message(channel, text, payload=payload, sender=sender)

    return post
