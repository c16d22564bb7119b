"""The MESSAGE target: template, recipients, WORKING-only, and no message sent twice."""

from datetime import datetime, timezone

import pytest
import requests

from automations.models import ChronoRun
from automations.runs.execution import execute
from automations.targets import message as target
from whatsapp.models import Message


@pytest.fixture
def channel(make_channel, waha):
    waha.add_session("front", status="WORKING")
    return make_channel(status="WORKING")


def run_once(run: ChronoRun) -> ChronoRun:
    """One attempt at the run, as the worker makes it; the run as stored afterwards."""
    execute(run.chrono_id, None, None, run.pk, run.attempt)
    run.refresh_from_db()
    return run


def test_it_sends_the_rendered_text_to_the_normalised_number(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, message_template="Olá {{ input.name }}, fatura de {{ chrono.name }}",
                                 recipients=["+55 (11) 99999-9999"])

    run = run_once(make_run(chrono, input={"name": "Ana"}))

    assert run.status == "success"
    assert [(m["chatId"], m["text"]) for m in waha.sent] == [("5511999999999@c.us", "Olá Ana, fatura de Bom dia")]


def test_one_outbound_message_row_per_recipient_records_waha_s_id(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["5511999999999", "120363025246125486@g.us"])

    run = run_once(make_run(chrono))

    rows = {m.chat_id: m for m in Message.objects.filter(run=run)}
    assert set(rows) == {"5511999999999@c.us", "120363025246125486@g.us"}
    assert all(m.status == "sent" and m.direction == "out" for m in rows.values())
    assert rows["5511999999999@c.us"].waha_message_id == waha.sent[0]["id"]
    assert rows["120363025246125486@g.us"].is_group


def test_now_is_in_the_chrono_s_time_zone(channel, make_message_chrono, make_run):
    chrono = make_message_chrono(channel, message_template="{{ now|date:'H:i' }}", timezone="America/Sao_Paulo")
    run = make_run(chrono)

    text = target.render(chrono, run, {"now": datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)})

    assert text == "08:00"


def test_the_text_is_not_html_escaped(channel, make_message_chrono, make_run):
    chrono = make_message_chrono(channel, message_template="{{ input.q }}")

    assert target.render(chrono, make_run(chrono, input={"q": "Tom & Jerry <3"}), {}) == "Tom & Jerry <3"


def test_a_bad_recipient_fails_with_its_reason_while_the_others_are_sent(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["joao", "+55 11 99999-9999"])

    run = run_once(make_run(chrono))

    assert run.status == "failed"
    assert "joao" in run.error_message and "is not a phone number" in run.error_message
    assert [m["chatId"] for m in waha.sent] == ["5511999999999@c.us"]
    assert Message.objects.get(run=run, recipient="joao").status == "failed"


def test_it_never_sends_when_the_channel_is_not_working_and_the_run_is_retried(make_channel, make_message_chrono,
                                                                               make_run, waha):
    channel = make_channel(status="SCAN_QR_CODE")
    chrono = make_message_chrono(channel, max_attempts=3)

    run = run_once(make_run(chrono))

    assert waha.sent == [] and waha.requests == []
    assert run.status == "pending"  # waiting for its retry
    assert "is SCAN_QR_CODE, not WORKING" in run.error_message
    assert not Message.objects.exists()


def test_after_the_last_attempt_a_channel_that_never_worked_fails_the_run_with_that_reason(
        make_channel, make_message_chrono, make_run, waha, settings):
    settings.MESSAGE_CHANNEL_WAIT_S = 0  # the wait for the channel is over: attempts count
    channel = make_channel(status="FAILED")
    chrono = make_message_chrono(channel, max_attempts=1)

    run = run_once(make_run(chrono))

    assert run.status == "failed"
    assert "is FAILED, not WORKING" in run.error_message


def test_a_run_waits_for_its_channel_without_using_up_its_attempts(make_channel, make_message_chrono, make_run,
                                                                    waha, settings, django_capture_on_commit_callbacks):
    settings.MESSAGE_CHANNEL_CHECK_S = 30
    channel = make_channel(status="STARTING")
    chrono = make_message_chrono(channel, max_attempts=1)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        for _check in range(5):  # five checks while the channel reconnects
            run = run_once(make_run(chrono) if _check == 0 else run)
    assert run.status == "pending" and run.attempt == 0 and run.attempts == []
    assert "Waiting for it" in run.error_message and waha.sent == []
    assert 25 <= (run.next_attempt_at - run.created_at).total_seconds() <= 35 + 5
    assert len(sent) == 5  # each check re-sends the run with a countdown, holding no worker


def test_a_waiting_run_sends_once_its_channel_is_working_again(make_channel, make_message_chrono, make_run, waha):
    waha.add_session("front", status="WORKING")
    channel = make_channel(status="STARTING")
    chrono = make_message_chrono(channel, max_attempts=1)
    run = run_once(make_run(chrono))
    assert run.status == "pending"
    channel.status = "WORKING"
    channel.save(update_fields=["status"])
    run = run_once(run)
    assert run.status == "success" and len(waha.sent) == 1 and run.attempt == 1


def test_a_template_error_fails_the_run_without_retrying(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, message_template="{% if %}", max_attempts=3)

    run = run_once(make_run(chrono))

    assert run.status == "failed"
    assert "template" in run.error_message
    assert waha.sent == []


def test_a_retry_after_a_partial_failure_sends_only_to_those_not_yet_sent(channel, make_message_chrono, make_run,
                                                                          waha):
    chrono = make_message_chrono(channel, recipients=["5511911111111", "5511922222222", "5511933333333"],
                                 max_attempts=3)
    waha.fail("POST", "/api/sendText", status=500, when=lambda body: body["chatId"] == "5511922222222@c.us")

    run = run_once(make_run(chrono))
    assert run.status == "pending"
    assert "5511922222222" in run.error_message
    run = run_once(run)

    assert run.status == "success"
    sent_to = [m["chatId"] for m in waha.sent]
    assert sorted(sent_to) == ["5511911111111@c.us", "5511922222222@c.us", "5511933333333@c.us"]
    assert len(sent_to) == len(set(sent_to))  # nobody twice
    assert Message.objects.filter(run=run).count() == 3


def test_a_send_waha_may_have_done_without_answering_is_never_repeated(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["5511911111111", "5511922222222"], max_attempts=3)
    waha.fail("POST", "/api/sendText", exception=requests.exceptions.ReadTimeout("read timed out"),
              when=lambda body: body["chatId"] == "5511911111111@c.us")
    waha.fail("POST", "/api/sendText", status=503, when=lambda body: body["chatId"] == "5511922222222@c.us")

    run = run_once(make_run(chrono))
    assert run.status == "pending"  # the 503 is worth another attempt
    run = run_once(run)

    unconfirmed = Message.objects.get(run=run, chat_id="5511911111111@c.us")
    assert unconfirmed.status == "unconfirmed"
    assert "not sent again" in unconfirmed.error
    assert [m["chatId"] for m in waha.sent] == ["5511922222222@c.us"]
    assert waha.calls("POST", "/api/sendText").count({"session": "front", "chatId": "5511911111111@c.us",
                                                      "text": "Bom dia!"}) == 1
    assert run.status == "failed"


def test_a_send_cut_off_by_a_crash_is_not_repeated_by_the_next_attempt(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["5511911111111"])
    run = make_run(chrono)
    Message.objects.create(run=run, channel=channel, direction="out", chat_id="5511911111111@c.us", status="sending")

    run = run_once(run)

    assert waha.sent == []
    assert Message.objects.get(run=run).status == "unconfirmed"


def test_the_same_recipient_listed_twice_gets_one_message(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["+55 11 99999-9999", "5511999999999"])

    run = run_once(make_run(chrono))

    assert run.status == "success"
    assert len(waha.sent) == 1


def test_one_number_written_several_ways_is_sent_and_counted_once(channel, make_message_chrono, make_run, waha):
    chrono = make_message_chrono(channel, recipients=["5511999999999@s.whatsapp.net", "+55 11 99999-9999",
                                                      "5511999999999"])

    run = run_once(make_run(chrono))

    assert run.status == "success"
    assert len(waha.sent) == 1
    assert (run.result["sent"], run.result["not_sent"], len(run.result["messages"])) == (1, 0, 1)


def test_waha_refusing_because_the_session_just_stopped_working_is_retried(channel, make_message_chrono, make_run,
                                                                           waha):
    chrono = make_message_chrono(channel, max_attempts=2)
    waha.sessions["front"]["status"] = "STARTING"  # WAHA knows before our status webhook arrives

    run = run_once(make_run(chrono))

    assert run.status == "pending"
    assert Message.objects.get(run=run).status == "failed"


def test_the_run_result_lists_each_recipient_without_secrets(channel, make_message_chrono, make_run, settings):
    chrono = make_message_chrono(channel)

    run = run_once(make_run(chrono))

    assert run.result["sent"] == 1
    assert run.result["messages"][0]["chat_id"] == "5511999999999@c.us"
    assert settings.WAHA_API_KEY not in str(run.result)
    assert channel.webhook_token not in str(run.result)


# --- The original system's chrono body ---------------------------------------------------------


def test_the_design_message_chrono_body_is_accepted_by_the_api_as_it_is(admin_client, channel):
    body = {"name": "Bom dia", "cron": "todo dia as 08:00", "targetType": "MESSAGE",
            "channelId": channel.pk, "messageTemplate": "Bom dia!",
            "recipients": ["+5511999999999"], "isActive": True}

    response = admin_client.post("/api/chronos/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["target_type"], data["channel"], data["message_template"]) == ("MESSAGE", channel.pk, "Bom dia!")
    assert data["recipients"] == ["+5511999999999"]
    assert data["schedule_expression"] == "0 8 * * *"


def test_the_design_body_with_the_channel_id_as_text_is_accepted_too(admin_client, channel):
    body = {"name": "Bom dia", "cron": "todo dia as 08:00", "targetType": "MESSAGE",
            "channelId": str(channel.pk), "messageTemplate": "Bom dia!",
            "recipients": ["+5511999999999"], "isActive": True}

    response = admin_client.post("/api/chronos/", body, content_type="application/json")

    assert response.status_code == 201, response.content
