"""The ready-made automations that need contacts (automations/routines/), end to end: installed by
install_template or the admin, driven by WAHA webhooks, an integrator hook or the hourly schedule,
answered through the fake WAHA (checked against WAHA's spec) or the development channel."""

import datetime as dt
from datetime import timezone as dt_timezone

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from automations.models import Chrono, ChronoRun, IntegratorHook, MessageTrigger, RoutineMark, SurveyAnswer
from automations.runs import execution
from contacts.models import Contact
from tests.events.conftest import CUSTOMER
from whatsapp.models import Message
from whatsapp.simulate import simulate_inbound

LEAD = "5521977776666@c.us"


def install(name: str, **answers) -> Chrono:
    call_command("install_template", name, **answers, stdout=open("/dev/null", "w"))
    return Chrono.objects.order_by("-pk").first()


def fire(chrono: Chrono) -> ChronoRun:
    """One scheduled run of the chrono, through the real execution path, at the current (travelled) time."""
    run = chrono.trigger(input=None)
    execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    return run


@pytest.fixture
def inbound(post_message, channel, waha, celery_eager, django_capture_on_commit_callbacks):
    def post(text: str, sender: str = CUSTOMER) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return post_message(channel, text, sender=sender)

    return post


def texts_to(waha, chat_id: str) -> list[str]:
    return [m["text"] for m in waha.sent if m["chatId"] == chat_id]


# --- birthday greeting ---------------------------------------------------------------------------------


@pytest.fixture
def birthdays(db):
    """Ana in São Paulo and Ken in Tokyo both born on 3 December; Bia too but opted out; Caio another day."""
    ana = Contact.objects.create(phone="5511911110001", name="Ana Souza", birth_date=dt.date(1990, 12, 3))
    ken = Contact.objects.create(phone="818011112222", name="Ken", birth_date=dt.date(1985, 12, 3),
                                 timezone="Asia/Tokyo")
    bia = Contact.objects.create(phone="5511911110003", name="Bia", birth_date=dt.date(2000, 12, 3),
                                 opted_out=True, opted_out_reason="via 'SAIR'")
    Contact.objects.create(phone="5511911110004", name="Caio", birth_date=dt.date(1970, 6, 1))
    return ana, ken, bia


def at(when: str):
    return time_machine.travel(dt.datetime.fromisoformat(when).astimezone(dt_timezone.utc), tick=False)


def test_the_birthday_greeting_goes_once_on_the_day_where_each_contact_lives(channel, waha, birthdays):
    ana, ken, bia = birthdays
    with at("2026-12-02T20:00:00-03:00"):  # Tokyo: 3 Dec 08:00, not 09:00 yet; São Paulo: the 2nd
        chrono = install("birthday-greeting", channel="front")
        assert fire(chrono).status == "success" and waha.sent == []
    with at("2026-12-02T21:00:00-03:00"):  # Tokyo: 3 Dec 09:00
        fire(chrono)
    assert [m["chatId"] for m in waha.sent] == ["818011112222@c.us"]
    with at("2026-12-03T09:00:00-03:00"):  # São Paulo 09:00 on the 3rd (Tokyo: the 3rd is over)
        fire(chrono)
        fire(chrono)  # the same day again: nobody twice
    with at("2026-12-03T15:00:00-03:00"):
        fire(chrono)

    assert texts_to(waha, "5511911110001@c.us") == ["Feliz aniversário, Ana! 🎉 Que seu dia seja incrível."]
    assert len(waha.sent) == 2
    skipped = Message.objects.get(chat_id="5511911110003@c.us")
    assert skipped.status == "suppressed" and "opted out" in skipped.error
    assert sorted(RoutineMark.objects.values_list("key", flat=True)) == ["birthday:2026"] * 3


def test_the_greeting_comes_again_the_next_year(channel, waha, birthdays):
    with at("2026-12-03T10:00:00-03:00"):
        chrono = install("birthday-greeting", channel="front", greeting="Parabéns, {{ first_name }}!")
        fire(chrono)
    with at("2027-12-03T10:00:00-03:00"):
        fire(chrono)

    assert texts_to(waha, "5511911110001@c.us") == ["Parabéns, Ana!", "Parabéns, Ana!"]


def test_a_greeting_waha_refused_is_tried_again_the_next_hour(channel, waha, birthdays):
    with at("2026-12-03T10:00:00-03:00"):
        chrono = install("birthday-greeting", channel="front")
        waha.fail("POST", "/api/sendText", status=500, when=lambda body: body["chatId"] == "5511911110001@c.us")
        assert fire(chrono).status in ("failed", "pending")
    with at("2026-12-03T11:00:00-03:00"):
        fire(chrono)

    assert len(texts_to(waha, "5511911110001@c.us")) == 1


def test_a_number_check_exists_says_is_not_on_whatsapp_is_marked_and_skipped(channel, waha, birthdays):
    with at("2026-12-03T10:00:00-03:00"):
        chrono = install("birthday-greeting", channel="front")
        waha.fail("GET", "/api/contacts/check-exists", status=200, body={"numberExists": False}, times=10)
        fire(chrono)
        fire(chrono)

    assert waha.sent == []
    assert set(Contact.objects.filter(on_whatsapp=False).values_list("name", flat=True)) == {"Ana Souza", "Ken"}
    assert [m.status for m in Message.objects.filter(chat_id="5511911110001@c.us")] == ["suppressed"]
    assert len(waha.calls("GET", "/api/contacts/check-exists")) == 2  # once per contact; the opted-out one not asked


def test_the_birthday_template_runs_hourly_at_the_minute_of_its_time(channel):
    chrono = install("birthday-greeting", channel="front", time="08:30")

    assert (chrono.target_type, chrono.routine, chrono.schedule) == ("ROUTINE", "birthday", "30 * * * *")
    assert chrono.extras["time"] == "08:30"


# --- satisfaction survey ---------------------------------------------------------------------------------


@pytest.fixture
def survey(channel, waha, post_hook, celery_eager, django_capture_on_commit_callbacks):
    """The installed survey, and a way to post a visit to its hook as the booking system does."""
    chrono = install("satisfaction-survey", channel="front")

    def visit(phone: str = "+55 11 99999-9999", name: str = "Ana Lima") -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_hook(IntegratorHook.objects.get(chrono=chrono), {"phone": phone, "name": name})
        assert response.status_code == 202

    return chrono, visit


def test_the_survey_asks_after_the_visit_and_keeps_the_score_on_the_contact(survey, inbound, waha):
    chrono, visit = survey
    visit()
    inbound("4")

    question, thanks = texts_to(waha, CUSTOMER)
    assert question.startswith("Olá, Ana! Obrigado pela visita. De 1 a 5")
    assert thanks == "Obrigado pela nota 4! Sua opinião nos ajuda a melhorar."
    contact = Contact.objects.get(phone="5511999999999")
    assert contact.name == "Ana Lima" and contact.custom_fields["satisfaction"] == 4
    answer = SurveyAnswer.objects.get()
    assert (answer.status, answer.score, answer.reply) == ("answered", 4, "4")


def test_an_unclear_answer_is_asked_again_once_then_the_survey_closes(survey, inbound, waha):
    chrono, visit = survey
    visit()
    inbound("foi bom")
    inbound("gostei muito")
    inbound("obrigado")  # the survey is closed: the routine no longer takes this contact's messages

    assert len(texts_to(waha, CUSTOMER)) == 2  # the question and one re-ask
    assert texts_to(waha, CUSTOMER)[1].startswith("Desculpe, não entendi")
    assert SurveyAnswer.objects.get().status == "unanswered"
    assert "satisfaction" not in Contact.objects.get(phone="5511999999999").custom_fields


def test_an_answer_after_a_re_ask_is_still_recorded(survey, inbound, waha):
    chrono, visit = survey
    visit()
    inbound("hmm")
    inbound("5 estrelas")

    assert SurveyAnswer.objects.get().score == 5
    assert texts_to(waha, CUSTOMER)[-1] == "Obrigado pela nota 5! Sua opinião nos ajuda a melhorar."


def test_a_number_from_someone_never_asked_starts_nothing(survey, inbound, waha):
    inbound("3", sender=LEAD)

    assert waha.sent == [] and not ChronoRun.objects.exists()


def test_a_visit_with_a_bad_phone_fails_the_run_naming_it(survey, waha):
    chrono, visit = survey
    visit(phone="call me")

    run = ChronoRun.objects.get()
    assert run.status == "failed" and run.error_message.startswith("phone:")


# --- new-lead welcome ---------------------------------------------------------------------------------------


def test_the_first_message_from_an_unknown_number_creates_the_contact_and_is_welcomed_once(channel, waha, inbound):
    install("new-lead-welcome", channel="front")

    inbound("Oi, vocês entregam?", sender=LEAD)
    inbound("Olá?", sender=LEAD)

    assert Contact.objects.filter(phone="5521977776666").exists()
    assert texts_to(waha, LEAD) == ["Olá! Obrigado por escrever. Em que podemos ajudar?"]
    assert RoutineMark.objects.get().key == "welcome"


def test_an_imported_contact_is_no_new_lead(channel, waha, inbound):
    Contact.objects.create(phone="5521977776666", name="Known")
    install("new-lead-welcome", channel="front")

    inbound("Oi", sender=LEAD)

    assert waha.sent == []


def test_the_welcome_keeps_a_keyword_reply_going(channel, waha, inbound, reply_chrono):
    install("new-lead-welcome", channel="front")

    inbound("menu", sender=LEAD)

    assert sorted(texts_to(waha, LEAD)) == ["Olá! Nosso cardápio: 1) Pizza 2) Suco",
                                            "Olá! Obrigado por escrever. Em que podemos ajudar?"]


def test_the_welcome_works_on_the_development_channel(db, settings, celery_eager, django_capture_on_commit_callbacks):
    from whatsapp.models import Channel

    dev = Channel.objects.create(name="Dev", session_name="dev", provider="DEV", status="WORKING")
    install("new-lead-welcome", channel="dev")

    with django_capture_on_commit_callbacks(execute=True):
        simulate_inbound(dev, "+55 21 97777-6666", "Oi")

    reply = Message.objects.get(direction="out")
    assert (reply.channel, reply.chat_id, reply.status) == (dev, LEAD, "sent")
    assert reply.text.startswith("Olá! Obrigado por escrever")


# --- installing from the admin ------------------------------------------------------------------------------


def test_the_admin_installs_the_survey_with_its_hook_and_trigger(admin_client, channel):
    response = admin_client.post("/admin/automations/chrono/ready-made/", {
        "template": "satisfaction-survey", "satisfaction-survey-channel": "front",
        "satisfaction-survey-question": "Nota de 1 a 5?"})

    assert response.status_code in (200, 302)
    chrono = Chrono.objects.get(routine="survey")
    assert chrono.extras == {"question": "Nota de 1 a 5?"}
    assert IntegratorHook.objects.filter(chrono=chrono).exists()
    assert MessageTrigger.objects.get(chrono=chrono).match == "routine"


def test_a_routine_trigger_on_a_chrono_that_is_no_routine_is_refused(reply_chrono):
    trigger = MessageTrigger(chrono=reply_chrono, channel=reply_chrono.channel, match="routine")

    with pytest.raises(ValidationError) as refused:
        trigger.full_clean()

    assert "match" in refused.value.message_dict
