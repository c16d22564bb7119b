"""A channel's default responder: an ASSISTANT chrono on a FALLBACK trigger answers what no trigger matched."""

import pytest
from django.core.exceptions import ValidationError

from automations.models import ChronoRun, Event, MessageTrigger
from tests.assistants.fake_openai import text
from tests.events.conftest import CUSTOMER

pytestmark = pytest.mark.django_db

MENU = "Olá! Nosso cardápio: 1) Banho 2) Tosa"


@pytest.fixture
def responder(make_chrono, channel, assistant, waha):
    """The channel's default responder, at most 2 runs per contact a minute."""
    chrono = make_chrono(name="Recepção padrão", schedule="manual", target_type="ASSISTANT", assistant=assistant,
                         channel=channel, overlap_policy="allow", max_attempts=1)
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="fallback", max_runs=2, per_seconds=60)
    return chrono


@pytest.fixture
def menu(make_chrono, channel, waha):
    chrono = make_chrono(name="Menu", schedule="manual", target_type="MESSAGE", channel=channel,
                         recipients=["{{ input.from }}"], message_template=MENU)
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="exact", pattern="menu")
    return chrono


def test_a_message_no_trigger_matched_is_answered_by_the_default_responder(responder, menu, provider, waha,
                                                                          converse):
    provider.script(text("Olá! Em que posso ajudar?"))

    converse("bom dia, vocês abrem sábado?")

    run = ChronoRun.objects.get(chrono=responder)
    assert run.status == "success", run.error_message
    assert [(m["chatId"], m["text"]) for m in waha.sent] == [(CUSTOMER, "Olá! Em que posso ajudar?")]
    assert Event.objects.get().outcome == "triggered"


def test_a_message_another_trigger_matched_does_not_reach_the_default_responder(responder, menu, provider, waha,
                                                                               converse):
    converse("menu")

    assert not ChronoRun.objects.filter(chrono=responder).exists()
    assert provider.requests == [] and [m["text"] for m in waha.sent] == [MENU]


def test_the_default_responder_starts_one_run_per_message(responder, provider, converse):
    provider.script(text("Oi!"), text("Claro!"))

    converse("oi")
    converse("pode me ajudar?")

    assert ChronoRun.objects.filter(chrono=responder).count() == 2
    assert len(provider.requests) == 2


def test_the_default_responder_keeps_the_trigger_s_per_contact_rate_limit(responder, provider, waha, converse):
    provider.script(text("1"), text("2"))

    for message in ("a", "b", "c"):
        converse(message)

    assert ChronoRun.objects.filter(chrono=responder).count() == 2
    limited = Event.objects.get(outcome="limited")
    assert "rate limit (2 per 60s per contact)" in limited.detail and limited.summary == "c"


def test_a_default_responder_needs_no_pattern_but_a_keyword_trigger_does(responder, channel):
    responder.message_trigger.full_clean()
    keyword = MessageTrigger(chrono=responder, channel=channel, match="exact", pattern="")
    with pytest.raises(ValidationError) as error:
        keyword.full_clean(exclude=["chrono"])
    assert "pattern" in error.value.message_dict
