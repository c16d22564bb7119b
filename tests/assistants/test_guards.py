"""Handover and guards: escalate pauses the chat and alerts once; timeouts, errors and the budget send nothing."""

import json

import pytest

from assistants.models import DEFAULT_HANDOVER_TEXT, AssistantPause, AssistantUsage, today
from automations.models import AlertPolicy, ChronoRun
from tests.assistants.fake_openai import Stall, text, tool_call
from tests.events.conftest import CUSTOMER
from tests.whatsapp.fake_waha import FakeWaha, webhook_headers

pytestmark = pytest.mark.django_db

OPERATOR = "5511977776666@c.us"


def runs(chrono) -> list[ChronoRun]:
    return list(chrono.runs.order_by("pk"))


# --- escalate ------------------------------------------------------------------------------


def test_escalate_tells_the_contact_a_person_will_answer(assistant_chrono, provider, waha, converse):
    provider.script(tool_call("escalate", {"reason": "Cliente quer falar com uma pessoa"}))

    converse("quero falar com um atendente")

    assert [(m["chatId"], m["text"]) for m in waha.sent] == [(CUSTOMER, DEFAULT_HANDOVER_TEXT)]
    run = runs(assistant_chrono)[0]
    assert run.status == "success" and run.result["escalation"] == "Cliente quer falar com uma pessoa"


def test_escalate_pauses_the_assistant_for_that_chat_with_the_reason(assistant_chrono, assistant, channel, provider,
                                                                     converse):
    provider.script(tool_call("escalate", {"reason": "Reclamação"}))

    converse("péssimo atendimento")

    pause = AssistantPause.objects.get()
    assert (pause.chat_id, pause.reason, pause.run_id) == (CUSTOMER, "Reclamação", runs(assistant_chrono)[0].pk)
    assert assistant.pause_for(channel.pk, CUSTOMER) == pause


def test_while_paused_the_model_is_not_called_and_nothing_is_sent(assistant_chrono, provider, waha, converse):
    provider.script(tool_call("escalate", {"reason": "Pediu uma pessoa"}))
    converse("quero falar com alguém")

    converse("alô?")

    assert len(provider.requests) == 1
    assert len(waha.sent) == 1  # the handover only
    assert runs(assistant_chrono)[1].result["paused_until"]


def test_a_pause_in_one_chat_leaves_other_chats_answered(assistant_chrono, provider, waha, converse):
    provider.script(tool_call("escalate", {"reason": "Pediu uma pessoa"}), text("Olá!"))
    converse("quero falar com alguém")

    converse("oi", sender="5521988887777@c.us")

    assert waha.sent[-1]["chatId"] == "5521988887777@c.us" and waha.sent[-1]["text"] == "Olá!"


def test_the_handover_text_is_configurable(assistant_chrono, assistant, provider, waha, converse):
    assistant.handover_text = "Um momento, já chamo a Ana."
    assistant.save()
    provider.script(tool_call("escalate", {"reason": "Pediu a Ana"}))

    converse("chama a Ana")

    assert waha.sent[-1]["text"] == "Um momento, já chamo a Ana."


def test_escalate_alerts_the_operator_once(assistant_chrono, channel, provider, waha, converse):
    AlertPolicy.objects.create(chrono=assistant_chrono, channel=channel, recipient=OPERATOR)
    provider.script(tool_call("escalate", {"reason": "Quer desconto especial"}))

    converse("quero um desconto")
    converse("e aí?")  # paused now: no second alert

    alerts = [m for m in waha.sent if m["chatId"] == OPERATOR]
    assert len(alerts) == 1
    assert "Quer desconto especial" in alerts[0]["text"] and "+5511999999999" in alerts[0]["text"]


# --- provider failures ---------------------------------------------------------------------


def test_a_provider_timeout_fails_the_run_with_a_clear_error_and_sends_nothing(assistant_chrono, provider, waha,
                                                                               converse):
    provider.script(Stall(5))

    converse("oi")

    run = runs(assistant_chrono)[0]
    assert run.status == "timeout"
    assert "The model provider timed out" in run.error_message
    assert waha.sent == []


def test_a_provider_error_is_kept_on_the_run_and_never_shown_to_the_contact(assistant_chrono, provider, waha,
                                                                           converse):
    provider.script((500, {"error": {"message": "upstream overloaded", "type": "server_error"}}))

    converse("oi")

    run = runs(assistant_chrono)[0]
    assert run.status == "failed" and "HTTP 500" in run.error_message and "upstream overloaded" in run.error_message
    assert waha.sent == []


def test_a_provider_error_is_retried_per_the_chrono_s_attempts(assistant_chrono, provider, waha, converse):
    assistant_chrono.max_attempts, assistant_chrono.backoff_ms = 2, 0
    assistant_chrono.save()
    provider.script((503, {"error": {"message": "busy", "type": "server_error"}}), text("Olá!"))

    converse("oi")

    run = runs(assistant_chrono)[0]
    assert (run.status, run.attempt) == ("success", 2)
    assert [m["text"] for m in waha.sent] == ["Olá!"]


def test_a_failure_after_a_tool_ran_is_not_retried_so_the_booking_is_not_made_twice(assistant_chrono, provider, waha,
                                                                                    converse):
    assistant_chrono.max_attempts, assistant_chrono.backoff_ms = 3, 0
    assistant_chrono.save()
    provider.script(tool_call("agendar", {"servico": "banho", "pet": "Rex", "quando": "amanhã 10h"}),
                    (503, {"error": {"message": "busy", "type": "server_error"}}))

    converse("banho pro Rex amanhã 10h")

    run = runs(assistant_chrono)[0]
    assert (run.status, run.attempt) == ("failed", 1)
    assert len(provider.requests) == 2 and waha.sent == []


# --- the daily token budget ----------------------------------------------------------------


def test_the_day_s_tokens_are_counted_per_assistant(assistant_chrono, assistant, provider, converse):
    provider.script(text("Olá!", tokens=(100, 20)), text("Tudo bem.", tokens=(150, 10)))

    converse("oi")
    converse("tudo bem?")

    usage = AssistantUsage.objects.get(assistant=assistant, day=today())
    assert (usage.prompt_tokens, usage.completion_tokens, usage.requests) == (250, 30, 2)


def test_past_the_budget_the_assistant_stops_replying_with_a_clear_reason(assistant_chrono, assistant, provider, waha,
                                                                          converse):
    assistant.daily_token_budget = 100
    assistant.save()
    provider.script(text("Olá!", tokens=(90, 20)))
    converse("oi")

    converse("você está aí?")

    run = runs(assistant_chrono)[1]
    assert run.status == "failed" and "Daily token budget reached (110 of 100" in run.error_message
    assert len(provider.requests) == 1
    assert [m["text"] for m in waha.sent] == ["Olá!"]


def test_the_budget_stops_the_tool_rounds_of_a_turn_too(assistant_chrono, assistant, provider, waha, converse):
    assistant.daily_token_budget = 100
    assistant.save()
    provider.script(tool_call("agendar", {"servico": "banho", "pet": "Rex", "quando": "amanhã"}, tokens=(95, 10)))

    converse("banho pro Rex")

    run = runs(assistant_chrono)[0]
    assert run.status == "failed" and "Daily token budget reached" in run.error_message
    assert waha.sent == []


def test_tool_rounds_are_bounded(assistant_chrono, assistant, provider, waha, converse):
    assistant.max_tool_rounds = 1
    assistant.save()
    args = {"servico": "banho", "pet": "Rex", "quando": "amanhã"}
    provider.script(tool_call("agendar", args), tool_call("agendar", args))

    converse("banho pro Rex")

    run = runs(assistant_chrono)[0]
    assert run.status == "failed" and "still asked for tools after 1 rounds" in run.error_message
    assert waha.sent == []


# --- an operator's reply from the phone ------------------------------------------------------


def phone_reply(chat: str = CUSTOMER, text: str = "Oi, aqui é a Carla, já te ajudo.") -> dict:
    return {"id": f"true_{chat}_3EB0PHONE{len(text)}", "timestamp": 1767000000, "from": "5511888888888@c.us",
            "to": chat, "fromMe": True, "source": "app", "body": text, "hasMedia": False}


@pytest.fixture
def operator_types(client, channel, celery_eager, django_capture_on_commit_callbacks):
    """The business's phone sends a message (WAHA's message.any event), processed in this process."""

    def post(payload: dict) -> None:
        body = json.dumps(FakeWaha().envelope(channel.session_name, "message.any", payload)).encode()
        headers = webhook_headers(body, channel.webhook_hmac_key)
        meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(f"/whatsapp/webhooks/{channel.webhook_token}", data=body,
                               content_type="application/json", **meta).status_code == 200

    return post


def test_an_operator_s_reply_from_the_phone_pauses_the_assistant_for_that_chat(assistant_chrono, assistant, channel,
                                                                              operator_types):
    operator_types(phone_reply())

    pause = assistant.pause_for(channel.pk, CUSTOMER)
    assert pause is not None and "phone" in pause.reason
    assert round((pause.until - pause.created_at).total_seconds() / 60) == assistant.pause_minutes


def test_after_an_operator_s_reply_the_contact_s_next_message_gets_no_model_answer(assistant_chrono, provider, waha,
                                                                                 operator_types, converse):
    operator_types(phone_reply())

    converse("obrigado!")

    assert provider.requests == [] and waha.sent == []
    assert runs(assistant_chrono)[0].result["paused_until"]


def test_an_operator_s_reply_in_one_chat_leaves_other_chats_answered(assistant_chrono, provider, waha,
                                                                   operator_types, converse):
    provider.script(text("Olá!"))
    operator_types(phone_reply(chat="5521988887777@c.us"))

    converse("oi")

    assert [(m["chatId"], m["text"]) for m in waha.sent] == [(CUSTOMER, "Olá!")]
