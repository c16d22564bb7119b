"""Point 12: API throttling per user, and per token on the webhooks."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
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


# --- Exact across processes with Redis (issue 13, item 7) -------------------------------------

HAMMER = """
import sys
import django
django.setup()
from django.test import RequestFactory
from chronoflow.throttling import WebhookTokenThrottle
token, attempts = sys.argv[1], int(sys.argv[2])
request = RequestFactory().post("/hooks/" + token)
print("ready", flush=True)
sys.stdin.readline()  # all processes start hammering at once, however long each took to import Django
print(sum(WebhookTokenThrottle(token).allow_request(request, None) for _ in range(attempts)))
"""


@pytest.fixture
def redis_url(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (the embedded default's cache is per process: nothing to share)")
    return settings.REDIS_URL


def hammer(redis_url: str, token: str, processes: int, attempts: int, rate: str) -> list[int]:
    env = {**os.environ, "REDIS_URL": redis_url, "WEBHOOK_THROTTLE": rate, "DJANGO_SETTINGS_MODULE": "chronoflow.settings"}
    running = [subprocess.Popen([sys.executable, "-c", HAMMER, token, str(attempts)], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=settings.BASE_DIR) for _ in range(processes)]
    for proc in running:
        assert proc.stdout.readline().strip() == "ready"
    for proc in running:  # the start signal, to every process once all are ready
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [int(proc.communicate(timeout=60)[0].strip().splitlines()[-1]) for proc in running]


def test_processes_hammering_one_token_with_redis_admit_exactly_the_limit(redis_url):
    admitted = hammer(redis_url, f"hammer-{uuid.uuid4().hex}", processes=3, attempts=150, rate="200/minute")

    assert sum(admitted) == 200, admitted  # 450 tries within the minute: the limit, not one more
    assert all(count > 0 for count in admitted), admitted  # they did run at the same time


def test_with_redis_the_refused_request_says_when_to_retry(db, redis_url, settings, client):
    settings.WEBHOOK_THROTTLE = "1/minute"
    hook = IntegratorHook.objects.create(chrono=Chrono.objects.create(
        name="h", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/"))
    assert client.post(f"/hooks/{hook.token}", b"{}", content_type="application/json").status_code == 202
    refused = client.post(f"/hooks/{hook.token}", b"{}", content_type="application/json")

    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_with_redis_unreachable_a_webhook_is_admitted_not_refused(settings, rf):
    from chronoflow.throttling import WebhookTokenThrottle
    from tests.localserver import closed_port

    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    assert WebhookTokenThrottle("t").allow_request(rf.post("/hooks/t"), None) is True
