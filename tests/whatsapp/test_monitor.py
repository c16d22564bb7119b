"""The session health monitor: repair drift, restart with backoff, give up, record it all."""

from datetime import timedelta

import pytest
from django.utils import timezone

from whatsapp import monitor, tasks
from whatsapp.models import Channel, MonitorAction


@pytest.fixture
def now():
    return timezone.now()


def actions() -> list[str]:
    return list(MonitorAction.objects.order_by("pk").values_list("action", flat=True))


def test_a_channel_believed_working_whose_session_failed_is_marked_failed_and_restarted(make_channel, waha, now):
    channel = make_channel(status="WORKING")
    waha.add_session("front", status="FAILED")

    monitor.check_sessions(now)

    channel.refresh_from_db()
    assert actions() == ["status_repaired", "restarted"]
    assert waha.sessions["front"]["status"] == "STARTING"
    assert channel.status_changes.filter(source="monitor", status="FAILED").exists()
    assert channel.restart_attempts == 1


def test_a_stopped_session_that_should_run_is_started(make_channel, waha, now):
    make_channel(status="STOPPED")
    waha.add_session("front", status="STOPPED")

    monitor.check_sessions(now)

    assert actions() == ["started"]
    assert waha.calls("POST", "/api/sessions/front/start") == [None]


def test_a_session_stopped_on_purpose_is_left_alone(make_channel, waha, now):
    make_channel(status="STOPPED", should_run=False)
    waha.add_session("front", status="STOPPED")

    monitor.check_sessions(now)

    assert actions() == []
    assert waha.sessions["front"]["status"] == "STOPPED"


def test_a_healthy_channel_needs_nothing(make_channel, waha, now):
    make_channel(status="WORKING")
    waha.add_session("front", status="WORKING")

    assert monitor.check_sessions(now) == []


def test_restarts_back_off_and_stop_after_the_limit_saying_so_once(make_channel, waha, now, settings):
    settings.WAHA_MONITOR_MAX_RESTARTS = 2
    settings.WAHA_MONITOR_BACKOFF_S = 60
    make_channel(status="FAILED")
    session = waha.add_session("front", status="FAILED")

    def tick(after_s: int) -> None:
        session["status"] = "FAILED"  # it keeps failing
        monitor.check_sessions(now + timedelta(seconds=after_s))

    tick(0)      # restart 1; next no sooner than +60 s
    tick(30)     # backing off
    tick(61)     # restart 2; next no sooner than +61+120 s
    tick(120)    # backing off
    tick(200)    # limit reached: gives up
    tick(900)    # already said so

    restarts = waha.calls("POST", "/api/sessions/front/restart")
    assert len(restarts) == 2
    assert [a for a in actions() if a != "status_repaired"] == ["restarted", "restarted", "gave_up"]


def test_a_session_that_works_again_gets_fresh_restart_attempts(make_channel, waha, now):
    channel = make_channel(status="FAILED")
    waha.add_session("front", status="FAILED")
    monitor.check_sessions(now)

    channel.refresh_from_db()
    channel.set_status("WORKING")

    channel.refresh_from_db()
    assert (channel.restart_attempts, channel.next_restart_at) == (0, None)


def test_a_session_waha_lost_is_re_created_with_its_webhook(make_channel, waha, now):
    channel = make_channel(status="WORKING")

    monitor.check_sessions(now)

    assert actions() == ["recreated"]
    assert waha.sessions["front"]["config"]["webhooks"][0]["url"].endswith(channel.webhook_token)


def test_the_account_waha_reports_is_kept(make_channel, waha, now):
    channel = make_channel(status="WORKING", me=None)
    waha.add_session("front", status="WORKING", me={"id": "5511777777777@c.us", "pushName": "Loja"})

    monitor.check_sessions(now)

    channel.refresh_from_db()
    assert channel.connected_as == "Loja (+5511777777777)"


def test_an_unreachable_waha_is_recorded_and_nothing_changes(make_channel, waha, now):
    channel = make_channel(status="WORKING")
    waha.fail("GET", "/api/sessions", status=502)

    monitor.check_sessions(now)

    channel.refresh_from_db()
    assert actions() == ["unreachable"]
    assert channel.status == "WORKING"


def test_a_failed_restart_is_recorded_with_waha_s_reason(make_channel, waha, now):
    channel = make_channel(status="FAILED")
    waha.add_session("front", status="FAILED")
    waha.fail("POST", "/api/sessions/front/restart", status=500, body={"statusCode": 500, "message": "engine crashed"})

    monitor.check_sessions(now)

    failed = MonitorAction.objects.get(action="failed")
    assert "engine crashed" in failed.detail
    channel.refresh_from_db()
    assert "engine crashed" in channel.last_error


def test_the_periodic_task_runs_the_check(make_channel, waha):
    make_channel(status="WORKING")
    waha.add_session("front", status="FAILED")

    assert tasks.check_sessions() == 2


def test_the_monitor_is_scheduled_at_the_configured_interval(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["whatsapp-session-monitor"]

    assert entry["task"] == tasks.check_sessions.name
    assert entry["schedule"] == settings.WAHA_MONITOR_INTERVAL_S == 300


def test_beat_stores_the_monitor_as_a_periodic_task_every_interval(db, settings):
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import ModelEntry

    from chronoflow.celery import app

    ModelEntry.from_entry("whatsapp-session-monitor", app=app, **settings.CELERY_BEAT_SCHEDULE["whatsapp-session-monitor"])

    task = PeriodicTask.objects.get(name="whatsapp-session-monitor")
    assert (task.task, task.interval.every, task.interval.period) == ("whatsapp.tasks.check_sessions", 300, "seconds")


# --- Issue 13, item 18: record real changes only; giving up says why on the channel ----------


def test_a_status_the_webhook_stored_first_is_not_recorded_as_repaired(make_channel, waha, now):
    seen_by_the_monitor = make_channel(status="STARTING")
    Channel.objects.get(pk=seen_by_the_monitor.pk).set_status("WORKING", source="webhook")  # got there first

    monitor.check_channel(seen_by_the_monitor, {"name": "front", "status": "WORKING"}, now)

    assert actions() == []
    assert not seen_by_the_monitor.status_changes.filter(source="monitor").exists()


def test_giving_up_sets_the_channels_last_error(make_channel, waha, now, settings, admin_client):
    settings.WAHA_MONITOR_MAX_RESTARTS = 1
    channel = make_channel(status="FAILED", restart_attempts=1, next_restart_at=now - timedelta(seconds=1))
    waha.add_session("front", status="FAILED")

    monitor.check_sessions(now)

    assert actions() == ["gave_up"]
    shown = admin_client.get(f"/api/channels/{channel.pk}/").json()
    assert shown["status"] == "FAILED"
    assert "waiting for an operator" in shown["last_error"]
