"""The assistant and the contacts app: the model knows who writes, and a stop word hands the chat over."""

import pytest
from django.conf import settings

from assistants.models import AssistantPause
from automations.models import ChronoRun
from contacts.models import Contact
from tests.assistants.fake_openai import text
from tests.events.conftest import CUSTOMER

pytestmark = pytest.mark.django_db


def test_the_model_sees_the_contact_s_name_and_custom_fields(assistant_chrono, provider, converse):
    Contact.objects.create(phone="5511999999999", name="Ana Souza", custom_fields={"pet": "Rex", "plano": "ouro"})
    provider.script(text("Olá, Ana!"))

    converse("oi")

    system = provider.requests[0]["body"]["messages"][0]["content"]
    assert "Contact's name: Ana Souza" in system
    assert "pet: Rex" in system and "plano: ouro" in system


def test_without_a_contact_the_model_sees_only_the_number(assistant_chrono, provider, converse):
    provider.script(text("Olá!"))

    converse("oi")

    system = provider.requests[0]["body"]["messages"][0]["content"]
    assert "+5511999999999" in system and "Contact's name" not in system


def test_a_stop_word_pauses_the_assistant_for_that_chat(assistant_chrono, assistant, channel, provider, waha, converse):
    converse("SAIR")

    pause = AssistantPause.objects.get()
    assert (pause.chat_id, pause.run_id) == (CUSTOMER, ChronoRun.objects.get(chrono=assistant_chrono).pk)
    assert "opted out" in pause.reason
    assert assistant.pause_for(channel.pk, CUSTOMER) == pause


def test_a_stop_word_gets_only_consent_s_confirmation_and_no_model_call(assistant_chrono, provider, waha, converse):
    converse("Sair.")

    assert provider.requests == []
    assert [m["text"] for m in waha.sent] == [settings.CONSENT_STOP_REPLY]
    assert ChronoRun.objects.get(chrono=assistant_chrono).status == "success"


def test_after_a_stop_word_the_assistant_stays_silent_in_that_chat(assistant_chrono, provider, waha, converse):
    converse("PARAR")

    converse("ainda está aí?")

    assert provider.requests == [] and len(waha.sent) == 1
    assert AssistantPause.objects.count() == 1
