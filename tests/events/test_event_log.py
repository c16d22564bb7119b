"""The event log: what came in (webhooks, messages, session status), what it started, for how long."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from automations.events import log as event_log
from automations.models import Event
from automations.tasks import prune_runs
from tests.whatsapp.fake_waha import FakeWaha, webhook_headers

pytestmark = pytest.mark.django_db


def post_status(client, channel, status: str):
    body = json.dumps(FakeWaha().envelope(channel.session_name, "session.status", {"name": "front", "status": status})).encode()
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in webhook_headers(body, channel.hmac_key).items()
               if k != "Content-Type"}
    return client.post(f"/whatsapp/webhooks/{channel.webhook_token}", data=body, content_type="application/json",
                       **headers)


def test_a_session_status_event_is_logged_once(client, channel, waha_settings, celery_eager,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_status(client, channel, "FAILED").status_code == 200

    event = Event.objects.get()
    assert (event.source, event.outcome, event.channel, event.summary) == ("session.status", "recorded", channel, "FAILED")


def test_a_triggered_message_is_logged_with_the_runs_it_started(reply_chrono, channel, post_message, celery_eager,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")

    event = Event.objects.get()
    run = reply_chrono.runs.get()
    assert event.outcome == "triggered"
    assert event.triggered == [{"chrono": reply_chrono.pk, "name": "Menu", "run": run.pk}]
    assert event.payload["text"] == "menu"


def test_what_an_event_triggered_is_kept_after_its_run_is_deleted(reply_chrono, channel, post_message, celery_eager,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")
    run_id = reply_chrono.runs.get().pk

    reply_chrono.runs.all().delete()

    assert Event.objects.get().run_ids == [run_id]


def test_entries_older_than_the_run_retention_are_pruned(settings, channel):
    settings.RUN_RETENTION_DAYS = 30
    now = timezone.now()
    old = Event.objects.create(source="hook", outcome="refused", received_at=now - timedelta(days=31))
    recent = Event.objects.create(source="hook", outcome="refused", received_at=now - timedelta(days=29))

    assert event_log.prune(now, dry_run=True) == 1
    assert event_log.prune(now) == 1

    assert list(Event.objects.all()) == [recent]
    assert not Event.objects.filter(pk=old.pk).exists()


def test_a_retention_of_zero_keeps_everything(settings):
    settings.RUN_RETENTION_DAYS = 0
    Event.objects.create(source="hook", outcome="refused", received_at=timezone.now() - timedelta(days=3650))

    assert event_log.prune() == 0
    assert Event.objects.count() == 1


def test_the_periodic_prune_also_prunes_the_event_log(settings):
    settings.RUN_RETENTION_DAYS = 1
    Event.objects.create(source="hook", outcome="refused", received_at=timezone.now() - timedelta(days=2))

    prune_runs()

    assert not Event.objects.exists()


def test_the_prune_command_also_prunes_the_event_log(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.RUN_RETENTION_DAYS = 1
    Event.objects.create(source="hook", outcome="refused", received_at=timezone.now() - timedelta(days=2))
    out = StringIO()

    call_command("prune_runs", "--dry-run", stdout=out)
    assert "would prune 1 event(s)" in out.getvalue() and Event.objects.count() == 1
    call_command("prune_runs", stdout=out)
    assert not Event.objects.exists()
