"""WhatsApp message triggers: matching, the message as input, one run per message, the rate limit."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from automations.events import matching
from automations.models import ChronoRun, Event, MessageTrigger
from tests.events.conftest import CUSTOMER, message_payload

pytestmark = pytest.mark.django_db


def trigger(match: str, pattern: str, **fields) -> MessageTrigger:
    return MessageTrigger(match=match, pattern=pattern, **fields)


# --- Matching -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["menu", "Menu", "  MENU ", "Ménu"])
def test_exact_ignores_case_accents_and_surrounding_space(text):
    assert matching.matches("exact", "menu", text)


def test_exact_does_not_match_a_longer_text():
    assert not matching.matches("exact", "menu", "menu please")


def test_an_accented_pattern_matches_the_unaccented_text():
    assert matching.matches("contains", "cardápio", "Quero ver o CARDAPIO de hoje")


def test_contains_needs_the_words_somewhere_in_the_text():
    assert matching.matches("contains", "segunda via", "Preciso da SEGUNDA   VIA do boleto")
    assert not matching.matches("contains", "boleto", "Bom dia")


def test_a_regex_matches_case_and_accent_insensitively():
    rule = trigger("regex", r"^(oi|olá|ola)\b")

    assert matching.matches(rule.match, rule.pattern, "Olá, tudo bem?")
    assert matching.matches(rule.match, rule.pattern, "OI")
    assert not matching.matches(rule.match, rule.pattern, "bom dia, oi")


def test_a_regex_that_backtracks_for_ever_just_does_not_match():
    rule = trigger("regex", r"(x+x+)+y")

    assert not matching.matches(rule.match, rule.pattern, "x" * 3000)


def test_an_invalid_regex_is_refused_on_the_pattern_field(reply_chrono):
    rule = reply_chrono.message_trigger
    rule.match, rule.pattern = "regex", "(unclosed"

    with pytest.raises(ValidationError) as refused:
        rule.full_clean()

    assert "regular expression" in refused.value.message_dict["pattern"][0]


def test_senders_are_stored_as_chat_ids_and_a_bad_one_is_named(reply_chrono):
    rule = reply_chrono.message_trigger
    rule.senders = ["+55 (11) 99999-9999", "5511999999999@c.us"]
    rule.full_clean()
    assert rule.senders == [CUSTOMER]

    rule.senders = ["call me"]
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert "'call me'" in refused.value.message_dict["senders"][0]


# --- Inbound messages start runs ----------------------------------------------------------------


def test_a_matching_message_starts_a_run_with_the_message_as_input(reply_chrono, channel, post_message, celery_eager,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        posted = post_message(channel, "Menu")

    run = ChronoRun.objects.get()
    assert (run.chrono, run.trigger) == (reply_chrono, "message")
    assert run.input == {
        "from": CUSTOMER, "chat": CUSTOMER, "text": "Menu", "media": None, "is_group": False,
        "message_id": posted["id"], "timestamp": "2026-01-01T10:00:00+00:00",
        "channel": {"id": channel.pk, "name": "Front desk", "session": "front"},
    }


def test_the_auto_reply_goes_to_whoever_wrote(reply_chrono, channel, post_message, waha, celery_eager,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu", sender="5521988887777@c.us")

    assert [(m["chatId"], m["text"]) for m in waha.sent] == [
        ("5521988887777@c.us", "Olá! Nosso cardápio: 1) Pizza 2) Suco")]
    assert ChronoRun.objects.get().status == "success"


def test_a_message_that_matches_nothing_starts_nothing_but_is_logged(reply_chrono, channel, post_message, celery_eager,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "Bom dia")

    assert not ChronoRun.objects.exists()
    event = Event.objects.get()
    assert (event.source, event.outcome, event.contact, event.summary) == ("message", "no_match", CUSTOMER, "Bom dia")


def test_a_message_redelivered_under_a_new_envelope_starts_one_run(reply_chrono, channel, post_message, celery_eager,
                                                                   django_capture_on_commit_callbacks):
    payload = message_payload("menu")
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, payload=payload)
        post_message(channel, payload=payload)  # WAHA retried it: new envelope id, same message id

    assert ChronoRun.objects.count() == 1
    assert Event.objects.filter(source="message").count() == 1


def test_only_listed_senders_trigger(reply_chrono, channel, post_message, celery_eager,
                                     django_capture_on_commit_callbacks):
    MessageTrigger.objects.filter(chrono=reply_chrono).update(senders=["5511977776666@c.us"])

    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")
        post_message(channel, "menu", sender="5511977776666@c.us")

    assert [run.input["from"] for run in ChronoRun.objects.all()] == ["5511977776666@c.us"]


def test_in_a_group_the_member_who_wrote_is_the_sender(reply_chrono, channel, post_message, celery_eager,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu", sender="120363000000000000@g.us", participant="5511977776666@c.us")

    run = ChronoRun.objects.get()
    assert (run.input["from"], run.input["chat"], run.input["is_group"]) == (
        "5511977776666@c.us", "120363000000000000@g.us", True)


def test_messages_on_another_channel_do_not_trigger(reply_chrono, post_message, celery_eager,
                                                    django_capture_on_commit_callbacks):
    from whatsapp.models import Channel

    other = Channel.objects.create(name="Other", session_name="other", status="WORKING")
    with django_capture_on_commit_callbacks(execute=True):
        post_message(other, "menu")

    assert not ChronoRun.objects.exists()


def test_a_paused_chrono_is_not_triggered(reply_chrono, channel, post_message, celery_eager,
                                          django_capture_on_commit_callbacks):
    reply_chrono.pause()

    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")

    assert not ChronoRun.objects.exists()


def test_a_bot_answering_the_reply_is_stopped_by_the_rate_limit(reply_chrono, channel, post_message, waha,
                                                                celery_eager, django_capture_on_commit_callbacks):
    # A bot that answers every message with "menu": each of its messages would start a reply.
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(6):
            post_message(channel, "menu")

    assert ChronoRun.objects.count() == 3  # MessageTrigger.max_runs per 60 s
    assert len(waha.sent) == 3
    limited = Event.objects.filter(outcome="limited")
    assert limited.count() == 3
    assert "rate limit" in limited.first().detail


def test_the_rate_limit_is_per_contact(reply_chrono, channel, post_message, celery_eager,
                                       django_capture_on_commit_callbacks):
    MessageTrigger.objects.filter(chrono=reply_chrono).update(max_runs=1)

    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")
        post_message(channel, "menu")
        post_message(channel, "menu", sender="5511977776666@c.us")

    assert sorted(run.input["from"] for run in ChronoRun.objects.all()) == ["5511977776666@c.us", CUSTOMER]


def test_the_rate_limit_window_passes(reply_chrono, channel, post_message, celery_eager,
                                      django_capture_on_commit_callbacks, time_machine):
    MessageTrigger.objects.filter(chrono=reply_chrono).update(max_runs=1, per_seconds=60)
    time_machine.move_to("2026-06-01 10:00:00Z", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")
    time_machine.move_to("2026-06-01 10:01:01Z", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")

    assert ChronoRun.objects.count() == 2


def test_messages_during_a_running_run_wait_their_turn_up_to_the_cap(reply_chrono, channel, post_message, settings,
                                                                       celery_eager, django_capture_on_commit_callbacks):
    settings.EVENT_QUEUE_MAX = 1
    MessageTrigger.objects.filter(chrono=reply_chrono).update(max_runs=10)
    busy = ChronoRun.objects.create(chrono=reply_chrono, scheduled_for=timezone.now(), trigger="schedule",
                                    status="running", attempt=1, started_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")  # its run is queued behind the busy one, not skipped
    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "menu")  # the queue is full: logged, no run

    [queued] = ChronoRun.objects.filter(trigger="message")
    assert queued.status == "pending" and f"#{busy.pk}" in queued.error_message
    refused = Event.objects.filter(source=Event.Source.MESSAGE).order_by("pk").last()
    assert refused.outcome == Event.Outcome.LIMITED and "1 runs already wait" in refused.detail
