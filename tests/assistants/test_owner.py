"""The owner assistant: an owner's message reaches it, and its tools answer about ChronoFlow itself."""

import json

import pytest

from assistants.models import Assistant
from automations.models import ChronoRun
from tests.assistants.fake_openai import API_KEY, text, tool_call

pytestmark = pytest.mark.django_db

OWNER = "5511955554444@c.us"


@pytest.fixture
def owner_assistant(assistant, provider) -> Assistant:
    owner = Assistant.objects.create(name="Gerência", model="owner-model", base_url=provider.base_url,
                                     api_key=API_KEY, timeout_ms=2000, system_prompt="Você ajuda o dono da loja.")
    assistant.owner_numbers, assistant.owner_assistant = ["+55 11 95555-4444"], owner
    assistant.full_clean()
    assistant.save()
    return owner


def test_an_owner_s_message_reaches_the_owner_assistant_whose_tool_returns_today_s_run_counts(
        assistant_chrono, owner_assistant, make_chrono, provider, waha, converse):
    other = make_chrono(name="Cobrança")
    ChronoRun.objects.create(chrono=other, scheduled_for=other.created_at, status="failed", trigger="manual")
    provider.script(tool_call("runs_today", {}), text("Hoje: 1 execução falhou (Cobrança)."))

    converse("como foi hoje?", sender=OWNER)

    first = provider.requests[0]["body"]
    assert first["model"] == "owner-model"
    assert {t["function"]["name"] for t in first["tools"]} == {"runs_today", "failing_chronos",
                                                               "channels_not_working", "escalate"}
    counts = json.loads(provider.requests[1]["body"]["messages"][-1]["content"])
    assert counts["by_status"]["failed"] == 1 and counts["failed_by_chrono"] == {"Cobrança": 1}
    assert (waha.sent[-1]["chatId"], waha.sent[-1]["text"]) == (OWNER, "Hoje: 1 execução falhou (Cobrança).")


def test_a_contact_s_message_still_reaches_the_business_assistant_without_owner_tools(
        assistant_chrono, owner_assistant, provider, converse):
    provider.script(text("Olá!"))

    converse("oi")

    body = provider.requests[0]["body"]
    assert body["model"] == "pet-model"
    assert [t["function"]["name"] for t in body["tools"]] == ["agendar", "escalate"]


def test_owner_numbers_are_normalised_and_a_bad_one_refused_on_its_field(api, assistant):
    response = api.patch(f"/api/assistants/{assistant.pk}/", {"owner_numbers": ["+55 11 95555-4444", "abc"]},
                         format="json")

    assert response.status_code == 400 and "owner_numbers" in response.json()
