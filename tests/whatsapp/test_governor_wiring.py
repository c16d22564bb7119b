"""The governor wired in: the MESSAGE target, the pump task, the API and the admin."""

import re

import pytest
from django.utils import timezone

from automations.runs.execution import execute
from whatsapp import tasks
from tests.automations.test_admin import page_form_data
from whatsapp.models import Channel, Message


@pytest.fixture
def channel(make_channel, waha):
    waha.add_session("front", status="WORKING")
    return make_channel(send_profile="fast", send_limits={"window_start": ""})


def run_once(run):
    execute(run.chrono_id, None, None, run.pk, run.attempt)
    run.refresh_from_db()
    return run


def test_a_message_run_on_a_governed_channel_succeeds_once_its_message_is_queued(
        channel, make_message_chrono, make_run, waha):
    run = run_once(make_run(make_message_chrono(channel)))

    assert run.status == "success" and run.result["queued"] == 1 and run.result["not_sent"] == 0
    assert Message.objects.get(run=run).status == "queued" and waha.sent == []


def test_a_retried_message_run_does_not_queue_its_message_twice(channel, make_message_chrono, make_run, waha):
    run = make_run(make_message_chrono(channel))
    run_once(run)

    channel.send_and_record("5511999999999@c.us", "Bom dia!", run=run, resume=True)

    assert Message.objects.filter(run=run).count() == 1


def test_the_message_target_queues_in_the_chrono_s_time_zone(channel, make_message_chrono, make_run):
    run = run_once(make_run(make_message_chrono(channel, timezone="Europe/Lisbon")))

    assert Message.objects.get(run=run).send_zone == "Europe/Lisbon"


def test_the_pump_task_sends_what_is_due_and_asks_once_to_be_called_back(channel, waha, monkeypatch):
    kicks = []
    monkeypatch.setattr(tasks, "kick_pump", lambda pk, countdown=0: kicks.append((pk, countdown)))
    channel.send_and_record("5511911111111@c.us", "Olá")

    tasks.pump_sends(channel.pk)  # typing starts
    tasks.pump_sends(channel.pk)  # the same due time: no second call-back

    assert waha.calls("POST", "/api/startTyping") and len(kicks) == 1 and 0 < kicks[0][1] <= 4


def test_the_api_shows_the_governor_state_of_a_channel(channel, admin_client):
    channel.send_and_record("5511911111111@c.us", "Olá")

    state = admin_client.get(f"/api/channels/{channel.pk}/").json()["governor"]

    assert state["profile"] == "fast" and state["queued"] == 1 and state["budget_left_24h"] == 3000
    assert state["paused_because"] == ""


def test_the_api_refuses_limits_that_make_no_sense_naming_the_field(channel, admin_client):
    response = admin_client.patch(f"/api/channels/{channel.pk}/", {"send_limits": {"per_minute": "lots"}},
                                  content_type="application/json")

    assert response.status_code == 400 and "send_limits" in response.json()


def test_outreach_is_resumed_through_the_api(channel, admin_client):
    channel.pause_outreach("error 463", now=timezone.now())

    response = admin_client.post(f"/api/channels/{channel.pk}/resume-outreach/")

    assert response.status_code == 200 and response.json()["governor"]["paused_because"] == ""
    assert not Channel.objects.get(pk=channel.pk).outreach_paused


def test_the_admin_shows_why_outreach_is_paused(channel, admin_client):
    channel.pause_outreach("WhatsApp's reachout time lock (error 463)", now=timezone.now())

    page = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/change/").content.decode()

    assert "Outreach paused: WhatsApp&#x27;s reachout time lock (error 463)" in page


def lock_event(active: bool, ends: int | None = None) -> dict:
    lock = {"enforcementType": "REACHOUT_TIMELOCK", "isActive": active, "timeEnforcementEnds": ends}
    return {"name": "front", "status": "WORKING", "statuses": [], "data": {"reachoutTimelock": lock}}


def test_waha_s_reachout_timelock_event_pauses_outreach_until_it_ends(channel, post_event, celery_eager,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "session.status", lock_event(True, ends=1893456000))

    channel.refresh_from_db()
    assert channel.outreach_paused and "reachout" in channel.outreach_paused_reason
    assert channel.outreach_resume_at.timestamp() == 1893456000


def test_waha_s_lock_lifted_event_resumes_outreach(channel, post_event, celery_eager,
                                                   django_capture_on_commit_callbacks):
    channel.pause_outreach("WhatsApp's reachout time lock (WAHA reachoutTimelock).")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "session.status", lock_event(False))

    channel.refresh_from_db()
    assert not channel.outreach_paused


def test_the_admin_edits_send_limits_in_an_empty_box_when_there_are_none(channel, admin_client):
    Channel.objects.filter(pk=channel.pk).update(send_limits={})
    url = f"/admin/whatsapp/channel/{channel.pk}/change/"
    page = admin_client.get(url)
    assert re.search(r'<textarea name="send_limits"[^>]*>\s*</textarea>', page.content.decode())  # not "{}"

    saved = admin_client.post(url, {**page_form_data(page), "send_limits": '{"per_minute": 5}'})
    assert saved.status_code == 302
    assert Channel.objects.get(pk=channel.pk).send_limits == {"per_minute": 5}

    refused = admin_client.post(url, {**page_form_data(page), "send_limits": '{"per_minute": "lots"}'})
    assert "send_limits" in refused.context["adminform"].form.errors

    emptied = admin_client.post(url, {**page_form_data(page), "send_limits": ""})
    assert emptied.status_code == 302 and Channel.objects.get(pk=channel.pk).send_limits == {}
