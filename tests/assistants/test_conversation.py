"""Issue 18's acceptance: an inbound message, a tool call run in the sandbox, the reply on WhatsApp."""

import json

import pytest

from automations.models import ChronoRun
from tests.assistants.fake_openai import API_KEY, text, tool_call
from tests.events.conftest import CUSTOMER
from whatsapp.models import Message

pytestmark = pytest.mark.django_db

PEDIDO = "quero agendar banho para o Rex amanhã às 10h"
ARGUMENTOS = {"servico": "banho", "pet": "Rex", "quando": "2026-01-02T10:00:00-03:00"}
RESPOSTA = "Pronto! Banho do Rex agendado para amanhã às 10h (código AG-1042)."


def test_a_booking_request_calls_agendar_and_the_reply_reaches_the_contact(assistant_chrono, provider, waha,
                                                                           converse):
    provider.script(tool_call("agendar", ARGUMENTOS, tokens=(120, 30)), text(RESPOSTA, tokens=(180, 20)))

    converse(PEDIDO)

    run = ChronoRun.objects.get(chrono=assistant_chrono)
    assert run.status == "success", run.error_message
    assert [(m["chatId"], m["text"]) for m in waha.sent] == [(CUSTOMER, RESPOSTA)]
    call = run.result["tool_calls"][0]
    assert (call["tool"], call["arguments"], call["ok"]) == ("agendar", ARGUMENTOS, True)
    assert call["result"] == {"confirmado": True, **ARGUMENTOS, "codigo": "AG-1042"}
    assert run.result["usage"] == {"prompt_tokens": 300, "completion_tokens": 50, "total_tokens": 350}
    assert [m["role"] for m in run.result["transcript"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert run.result["latency_ms"] >= 0 and run.result["model_calls"] == 2


def test_the_model_sees_the_prompt_the_contact_the_message_and_the_agendar_tool(assistant_chrono, provider, converse):
    provider.script(text("Olá!"))

    converse(PEDIDO)

    body = provider.requests[0]["body"]
    assert body["model"] == "pet-model"
    assert body["messages"][0]["role"] == "system" and "Pet Shop Rex" in body["messages"][0]["content"]
    assert "+5511999999999" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": PEDIDO}
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["agendar", "escalate"]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["servico", "pet", "quando"]


def test_the_function_s_return_value_goes_back_to_the_model_as_the_tool_message(assistant_chrono, provider,
                                                                                converse):
    provider.script(tool_call("agendar", ARGUMENTOS), text(RESPOSTA))

    converse(PEDIDO)

    second = provider.requests[1]["body"]["messages"]
    call_id = second[-2]["tool_calls"][0]["id"]
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == call_id
    assert json.loads(second[-1]["content"])["codigo"] == "AG-1042"


def test_the_model_sees_the_earlier_messages_of_the_chat_in_both_directions(assistant_chrono, channel, provider,
                                                                          converse):
    provider.script(text("Oi! Como posso ajudar?"), text(RESPOSTA))
    converse("oi")

    converse(PEDIDO)

    history = provider.requests[1]["body"]["messages"][1:]
    assert history == [{"role": "user", "content": "oi"}, {"role": "assistant", "content": "Oi! Como posso ajudar?"},
                       {"role": "user", "content": PEDIDO}]


def test_arguments_that_break_the_schema_are_refused_without_running_the_function(assistant_chrono, provider,
                                                                                  converse):
    provider.script(tool_call("agendar", {"pet": "Rex"}), text("Para quando seria?"))

    converse(PEDIDO)

    run = ChronoRun.objects.get()
    assert run.result["tool_calls"][0]["ok"] is False
    assert "required" in json.loads(provider.requests[1]["body"]["messages"][-1]["content"])["error"]


def test_the_api_key_is_never_in_the_run(assistant_chrono, provider, converse):
    provider.script(text(f"Authorization: Bearer {API_KEY}"))

    converse(PEDIDO)

    run = ChronoRun.objects.get()
    recorded = json.dumps(run.result) + run.error_message + run.response_snippet
    assert API_KEY not in recorded
    assert provider.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"


def test_a_reply_that_echoes_the_api_key_reaches_the_contact_masked(assistant_chrono, provider, waha, converse):
    provider.script(text(f"a chave é {API_KEY}"))

    converse(PEDIDO)

    assert [m["text"] for m in waha.sent] == ["a chave é ********"]
