"""A small fixed cast for the security tests: one of everything an endpoint can show."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from automations.models import Chrono, ChronoRun
from functions.models import UserFunction
from whatsapp.models import Channel, Message

SECRET = "Bearer s3cr3t-t0ken-value"


@pytest.fixture(autouse=True)
def generous_throttles(monkeypatch):
    """Throttling has its own tests; elsewhere many requests in a row must not meet a 429."""
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "100000/minute")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "100000/minute")


@pytest.fixture
def cast(db):
    """A chrono with a secret header, its run, a channel, a message and a function."""
    chrono = Chrono.objects.create(
        name="cast", schedule="0 0 1 1 *", timezone="UTC", target_type="HTTP", url="http://example.org/hook",
        headers={"Authorization": SECRET, "X-Trace": "visible"}, payload={"hello": "world"},
    )
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=chrono.created_at, status="success",
                                   response_snippet="private body")
    channel = Channel.objects.create(name="front", session_name="front")
    message = Message.objects.create(channel=channel, direction="out", chat_id="5511999999999@c.us", text="hi")
    function = UserFunction.objects.create(name="fn", code="def run(ctx):\n    return 1\n")
    return {"chrono": chrono, "run": run, "channel": channel, "message": message, "function": function}


@pytest.fixture
def user_with(db):
    """A non-staff user holding exactly the given permissions ('app.codename')."""

    def make(*perms: str) -> User:
        user = User.objects.create_user(f"u{User.objects.count()}", password="pw-123456789")
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return User.objects.get(pk=user.pk)  # fresh: permissions are cached per instance

    return make


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
