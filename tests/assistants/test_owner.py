"""The owner assistant: an owner's message reaches it, and its tools answer about ChronoFlow itself."""

import json

from datetime import timedelta

import pytest
from django.utils import timezone

from assistants.models import Assistant
from automations.models import ChronoRun
from contacts.models import Contact
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
                                                               "channels_not_working", "inactive_contacts",
                                                               "escalate"}
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


def test_the_owner_s_inactive_contacts_tool_lists_who_has_not_written_for_n_days(
        assistant_chrono, owner_assistant, channel, provider, waha, post_message, celery_eager,
        django_capture_on_commit_callbacks):
    now = timezone.now()
    Contact.objects.create(phone="5511911112222", name="Bia", last_message_at=now - timedelta(days=40))
    Contact.objects.create(phone="5511933334444", name="Caio", last_message_at=now - timedelta(days=3))
    Contact.objects.create(phone="5511955556666", name="Duda", last_message_at=now - timedelta(days=90),
                           opted_out=True)
    provider.script(tool_call("inactive_contacts", {"days": 30}), text("A Bia não escreve há 40 dias."))

    with django_capture_on_commit_callbacks(execute=True):  # dated now: the owner is not inactive
        post_message(channel, "quem sumiu faz um mês?", sender=OWNER, timestamp=int(now.timestamp()))

    answer = json.loads(provider.requests[1]["body"]["messages"][-1]["content"])
    assert answer["total"] == 1 and [c["name"] for c in answer["contacts"]] == ["Bia"]
    assert answer["contacts"][0]["phone"] == "+5511911112222"


def test_the_inactive_contacts_tool_refuses_a_missing_number_of_days(assistant_chrono, owner_assistant, provider,
                                                                    converse):
    provider.script(tool_call("inactive_contacts", {}), text("Quantos dias?"))

    converse("quem sumiu?", sender=OWNER)

    run = ChronoRun.objects.get(chrono=assistant_chrono)
    call = run.result["tool_calls"][0]
    assert call["ok"] is False and "days" in call["error"]
