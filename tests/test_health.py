"""The health endpoints: JSON, public, 200 when healthy and 503 when not."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from automations.tasks import run_chrono
from chronoflow.celery import app
from tests.localserver import closed_port
from tests.processes import purge_broker
from whatsapp.models import Channel


def test_health_is_ok_when_database_and_broker_answer(client, db):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_health_is_503_when_the_broker_is_unreachable(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "transport": "redis", "error": "ConnectionError"}


def test_health_needs_no_login_and_shows_no_configuration(client, db):
    text = client.get("/health").content.decode()
    assert "postgres" not in text and "redis://" not in text and "sqlite" not in text


# --- /health/db, /health/redis -------------------------------------------------------------


def test_health_db_answers_ok_when_the_database_answers(client, db):
    response = client.get("/health/db")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": {"ok": True}}


def test_health_redis_is_503_naming_the_error_when_redis_is_down(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/health/redis")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["broker"]["error"] == "ConnectionError"


def test_health_endpoints_answer_only_get(client, db):
    assert client.post("/health/db").status_code == 405


# --- /health/queues --------------------------------------------------------------------------

@pytest.fixture
def empty_broker():
    purge_broker()
    yield
    purge_broker()


def make_run(chrono: Chrono, status: str, minutes_ago: int = 5) -> ChronoRun:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=when, status=status,
                                    finished_at=when if status in ChronoRun.FINAL else None)


def test_health_queues_counts_waiting_messages_and_runs_by_state(client, db, empty_broker):
    chrono = Chrono.objects.create(name="q", schedule="0 8 * * *", url="http://127.0.0.1:9/", timezone="UTC")
    make_run(chrono, "pending", 1)
    make_run(chrono, "running", 2)
    make_run(chrono, "failed", 3)
    make_run(chrono, "timeout", 4)
    make_run(chrono, "failed", 60 * 25)  # older than a day: not counted
    for _ in range(3):
        run_chrono.apply_async(kwargs={"chrono_id": chrono.pk})
    response = client.get("/health/queues")
    assert response.status_code == 200
    queues = response.json()["checks"]["queues"]
    assert queues == {"ok": True, "waiting": 3, "pending": 1, "active": 1, "failed_last_24h": 2}


def test_health_queues_is_503_when_the_broker_cannot_be_read(client, db, monkeypatch):
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/health/queues")
    assert response.status_code == 503
    queues = response.json()["checks"]["queues"]
    assert queues["ok"] is False and queues["waiting"] is None and queues["error"]


# --- /health/whatsapp ------------------------------------------------------------------------

@pytest.fixture
def waha_up(settings):
    """WAHA answers its version (GET /api/server/version), as /health/whatsapp asks it."""
    settings.WAHA_BASE_URL = "http://waha.test:3000"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("http://waha.test:3000/api/server/version", json={"version": "2026.7.1", "engine": "WEBJS"})
        yield mock


def make_channel(session: str, status: str, should_run: bool = True) -> Channel:
    return Channel.objects.create(name=session.title(), session_name=session, status=status, should_run=should_run,
                                  status_changed_at=timezone.now())


def test_health_whatsapp_lists_each_channel_with_its_status_and_last_change(client, db, waha_up):
    make_channel("shop", "WORKING")
    make_channel("spare", "STOPPED", should_run=False)
    response = client.get("/health/whatsapp")
    assert response.status_code == 200
    channels = {c["session"]: c for c in response.json()["checks"]["whatsapp"]["channels"]}
    assert channels["shop"]["status"] == "WORKING" and channels["spare"]["status"] == "STOPPED"
    assert channels["shop"]["status_changed_at"]


def test_health_whatsapp_is_503_naming_a_channel_that_should_run_but_does_not(client, db, waha_up):
    make_channel("shop", "WORKING")
    make_channel("desk", "SCAN_QR_CODE")
    response = client.get("/health/whatsapp")
    assert response.status_code == 503
    assert response.json()["checks"]["whatsapp"]["not_working"] == ["desk"]


def test_health_whatsapp_shows_no_webhook_token_or_key(client, db, waha_up):
    channel = make_channel("shop", "WORKING")
    text = client.get("/health/whatsapp").content.decode()
    assert channel.webhook_token not in text and channel.hmac_key not in text


def test_health_whatsapp_is_503_when_waha_itself_does_not_answer(client, db, settings):
    settings.WAHA_BASE_URL, settings.HEALTH_WAHA_TIMEOUT_MS = f"http://127.0.0.1:{closed_port()}", 500
    make_channel("shop", "WORKING")  # the row still says WORKING: only asking WAHA tells
    response = client.get("/health/whatsapp")
    assert response.status_code == 503
    waha = response.json()["checks"]["whatsapp"]["waha"]
    assert waha["reachable"] is False and waha["error"]


def test_health_whatsapp_reports_waha_s_version_when_it_answers(client, db, waha_up):
    make_channel("shop", "WORKING")
    assert client.get("/health/whatsapp").json()["checks"]["whatsapp"]["waha"]["version"] == "2026.7.1"


def test_health_whatsapp_does_not_ask_waha_when_no_channel_should_run(client, db, settings):
    settings.WAHA_BASE_URL = f"http://127.0.0.1:{closed_port()}"
    make_channel("spare", "STOPPED", should_run=False)
    response = client.get("/health/whatsapp")
    assert response.status_code == 200 and response.json()["checks"]["whatsapp"]["waha"] == {"checked": False}


def test_health_probes_are_never_throttled(client, db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/minute"}}
    assert [client.get("/health/db").status_code for _ in range(5)] == [200] * 5
