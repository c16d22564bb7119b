"""Point 12: API throttling per user, and per token on the webhooks."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from automations.models import Chrono, ChronoRun, IntegratorHook


@pytest.fixture
def tight(monkeypatch, settings):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/minute")
    settings.WEBHOOK_THROTTLE = "2/minute"


def test_a_user_over_the_rate_gets_429_while_another_user_is_served(db, tight, django_user_model, client_for):
    users = [django_user_model.objects.create_user(name, is_staff=True) for name in ("first", "second")]
    for user in users:  # a reused primary key must not inherit an earlier test's request history
        cache.delete(f"throttle_user_{user.pk}")
    first, second = map(client_for, users)
    assert [first.get("/api/chronos/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert "Retry-After" in first.get("/api/chronos/")
    assert second.get("/api/chronos/").status_code == 200


def test_a_webhook_token_over_the_rate_gets_429_while_another_token_is_served(db, tight, client):
    hooks = [IntegratorHook.objects.create(chrono=Chrono.objects.create(
        name=f"h{i}", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/")) for i in range(2)]
    post = lambda hook: client.post(f"/hooks/{hook.token}", b"{}", content_type="application/json")  # noqa: E731
    answers = [post(hooks[0]) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[-1]["Retry-After"]) >= 1 and "Too many requests" in answers[-1].json()["error"]
    assert post(hooks[1]).status_code == 202
    assert ChronoRun.objects.filter(chrono=hooks[0].chrono).count() == 2  # the refused one started nothing
