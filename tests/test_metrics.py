"""/metrics: Prometheus text computed from the rows, behind a token."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from automations.models import Chrono, ChronoRun
from automations.tasks import run_chrono
from chronoflow.celery import app
from tests.localserver import closed_port
from tests.processes import purge_broker
from whatsapp.models import Channel, Message

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def scrape(client, settings, db):
    """GET /metrics as Prometheus does; returns {(name, labels...): value}."""
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
        return samples

    return get


@pytest.fixture
def chrono(db) -> Chrono:
    return Chrono.objects.create(name="m", schedule="0 8 * * *", url="http://127.0.0.1:9/", timezone="UTC")


def make_run(chrono: Chrono, status: str = "success", late_s: float = 0, duration_ms: int | None = None,
             trigger: str = "schedule", offset_min: int = 0) -> ChronoRun:
    scheduled = timezone.now().replace(microsecond=0) - timedelta(hours=1, minutes=offset_min)
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=scheduled, trigger=trigger, status=status, attempt=1,
                                    started_at=scheduled + timedelta(seconds=late_s), duration_ms=duration_ms)


# --- Access ------------------------------------------------------------------------------------

def test_metrics_refuse_an_anonymous_scrape(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code in (401, 403)


def test_metrics_refuse_a_wrong_token(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code in (401, 403)


def test_without_a_token_setting_no_bearer_is_accepted(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code in (401, 403)


def test_a_staff_user_can_look_at_the_metrics_in_a_browser(admin_client, settings):
    settings.METRICS_TOKEN = ""
    response = admin_client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")


# --- Content -------------------------------------------------------------------------------------

def test_runs_are_counted_by_status_and_target_type(scrape, chrono):
    make_run(chrono, "success", offset_min=1)
    make_run(chrono, "success", offset_min=2)
    make_run(chrono, "failed", offset_min=3)
    make_run(chrono, "pending", offset_min=4)
    samples = scrape()
    assert samples[("chronoflow_runs", ("status", "success"), ("target_type", "HTTP"))] == 2
    assert samples[("chronoflow_runs", ("status", "pending"), ("target_type", "HTTP"))] == 1
    assert samples[("chronoflow_runs_finished_total", ("status", "failed"), ("target_type", "HTTP"))] == 1
    assert ("chronoflow_runs_finished_total", ("status", "pending"), ("target_type", "HTTP")) not in samples


def test_lateness_is_a_histogram_of_scheduled_first_attempts(scrape, chrono):
    make_run(chrono, late_s=0.3, offset_min=1)
    make_run(chrono, late_s=3, offset_min=2)
    make_run(chrono, late_s=120, offset_min=3)
    make_run(chrono, late_s=999, trigger="manual", offset_min=4)  # a manual run is never "late"
    samples = scrape()
    bucket = lambda le: samples[("chronoflow_run_lateness_seconds_bucket", ("le", le), ("target_type", "HTTP"))]  # noqa: E731
    assert (bucket("0.25"), bucket("0.5"), bucket("5.0"), bucket("60.0"), bucket("300.0"), bucket("+Inf")) == (0, 1, 2, 2, 3, 3)
    assert samples[("chronoflow_run_lateness_seconds_sum", ("target_type", "HTTP"))] == pytest.approx(123.3)
    assert samples[("chronoflow_run_lateness_seconds_count", ("target_type", "HTTP"))] == 3


def test_duration_is_a_histogram_of_finished_runs(scrape, chrono):
    make_run(chrono, "success", duration_ms=40, offset_min=1)
    make_run(chrono, "failed", duration_ms=2000, offset_min=2)
    make_run(chrono, "running", duration_ms=None, offset_min=3)
    samples = scrape()
    bucket = lambda le: samples[("chronoflow_run_duration_seconds_bucket", ("le", le), ("target_type", "HTTP"))]  # noqa: E731
    assert (bucket("0.05"), bucket("1.0"), bucket("2.5"), bucket("+Inf")) == (1, 1, 2, 2)
    assert samples[("chronoflow_run_duration_seconds_sum", ("target_type", "HTTP"))] == pytest.approx(2.04)


def test_queue_depth_counts_messages_waiting_for_a_worker(scrape, chrono):
    purge_broker()
    try:
        for _ in range(2):
            run_chrono.apply_async(kwargs={"chrono_id": chrono.pk})
        assert scrape()[("chronoflow_queue_depth",)] == 2
    finally:
        purge_broker()


def test_an_unreachable_broker_shows_as_minus_one_and_the_rest_still_scrapes(scrape, chrono, monkeypatch):
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    make_run(chrono)
    samples = scrape()
    assert samples[("chronoflow_queue_depth",)] == -1
    assert samples[("chronoflow_runs", ("status", "success"), ("target_type", "HTTP"))] == 1


def test_channels_are_counted_by_status_with_zeros_for_the_others(scrape):
    Channel.objects.create(name="a", session_name="a", status="WORKING")
    Channel.objects.create(name="b", session_name="b", status="WORKING")
    Channel.objects.create(name="c", session_name="c", status="FAILED")
    samples = scrape()
    assert samples[("chronoflow_channels", ("status", "WORKING"))] == 2
    assert samples[("chronoflow_channels", ("status", "FAILED"))] == 1
    assert samples[("chronoflow_channels", ("status", "SCAN_QR_CODE"))] == 0


def test_chronos_are_counted_by_target_type_and_activity(scrape, chrono):
    Chrono.objects.create(name="off", schedule="0 8 * * *", url="http://127.0.0.1:9/", timezone="UTC", is_active=False)
    samples = scrape()
    assert samples[("chronoflow_chronos", ("active", "true"), ("target_type", "HTTP"))] == 1
    assert samples[("chronoflow_chronos", ("active", "false"), ("target_type", "HTTP"))] == 1


def test_each_governed_channel_shows_its_queue_its_sends_of_the_day_and_whether_outreach_is_paused(scrape):
    now = timezone.now()
    shop = Channel.objects.create(name="shop", session_name="shop", status="WORKING", send_profile="careful")
    Channel.objects.create(name="calm", session_name="calm", status="WORKING", send_profile="normal")
    Channel.objects.create(name="free", session_name="free", status="WORKING")  # not governed: not shown
    out = {"channel": shop, "direction": "out", "text": "Oi"}
    for n, (status, age_h) in enumerate([("sent", 1), ("delivered", 2), ("unconfirmed", 3), ("sent", 30)]):
        Message.objects.create(**out, chat_id=f"55119{n:08d}@c.us", status=status, timestamp=now - timedelta(hours=age_h))
    for n in range(3):
        Message.objects.create(**out, chat_id=f"55118{n:08d}@c.us", status="queued", not_before=now)
    shop.pause_outreach("error 463 on a send", now)
    samples = scrape()
    assert samples[("chronoflow_whatsapp_queued_sends", ("channel", "shop"))] == 3
    assert samples[("chronoflow_whatsapp_sends_24h", ("channel", "shop"))] == 3  # the one of 30 h ago has left
    assert samples[("chronoflow_whatsapp_outreach_paused", ("channel", "shop"))] == 1
    assert samples[("chronoflow_whatsapp_outreach_paused", ("channel", "calm"))] == 0
    assert samples[("chronoflow_whatsapp_queued_sends", ("channel", "calm"))] == 0
    assert ("chronoflow_whatsapp_queued_sends", ("channel", "free")) not in samples
